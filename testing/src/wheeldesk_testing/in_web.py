"""The web's own code in a fresh process of its own, against the database an environment names.

Some tests are about processes: two writers on one SQLite file, a seed before a real
`manage.py worker` run, a restored backup read back by Django, the same rows on PostgreSQL.
They run a module-level function of an importable module (`web_queries`, `web_seeds`, or the
web's own) in a new Python process with the given environment (its `DATABASE_URL`, `DATA_DIR`…),
after `django.setup()` on the web's settings as `manage.py` does:

    python -m wheeldesk_testing.in_web <module>:<function> ['<json keyword arguments>']

and get back what it returned (JSON, stdout's last line). No program travels as a string: a
renamed model or field fails inside the function, with the web's own error and a traceback.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from typing import Any

from wheeldesk_testing.procs import ROOT, TEST_TOKEN

MANAGE = ROOT / "services" / "web" / "manage.py"


class InWebError(RuntimeError):
    """The web's code refused or failed (a database busy past its timeout, a renamed field)."""


def target(fn: Callable[..., Any]) -> str:
    """`module:function` of a function the child process can import by name."""
    module, name = fn.__module__, fn.__qualname__
    if module == "__main__" or "." in name or "<" in name:
        raise ValueError(f"{module}:{name} is not a module-level function of an importable module")
    return f"{module}:{name}"


def command(fn: Callable[..., Any], kwargs: Mapping[str, Any]) -> list[str]:
    return [sys.executable, "-m", __name__, target(fn), json.dumps(kwargs)]


def _answer(fn: Callable[..., Any], returncode: int, stdout: str, stderr: str) -> Any:
    if returncode != 0:
        raise InWebError(f"{target(fn)}: {stderr.strip()[-3000:]}")
    return json.loads(stdout.strip().splitlines()[-1])


def run_in_web(
    env: Mapping[str, str], fn: Callable[..., Any], /, *, timeout: float = 120, **kwargs: Any
) -> Any:
    """`fn(**kwargs)` in a new process with `env`, once it has finished: what it returned."""
    result = subprocess.run(
        command(fn, kwargs),
        env=dict(env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return _answer(fn, result.returncode, result.stdout, result.stderr)


class InWebProcess:
    """`fn(**kwargs)` running in its own process, for tests that run several at the same time."""

    def __init__(self, env: Mapping[str, str], fn: Callable[..., Any], kwargs: Mapping[str, Any]):
        self.fn = fn
        self.proc = subprocess.Popen(
            command(fn, kwargs),
            env=dict(env),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stderr = ""

    def result(self, timeout: float) -> Any:
        """What the function returned, once the process ends (its stderr kept in `.stderr`)."""
        stdout, self.stderr = self.proc.communicate(timeout=timeout)
        return _answer(self.fn, self.proc.returncode, stdout, self.stderr)


def start_in_web(env: Mapping[str, str], fn: Callable[..., Any], /, **kwargs: Any) -> InWebProcess:
    """`fn(**kwargs)` started in a new process with `env`; `.result(timeout)` waits for it."""
    return InWebProcess(env, fn, kwargs)


def manage(
    env: Mapping[str, str], *args: str, check: bool = True, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """`manage.py <args>` in a new process with `env` (an AssertionError with its stderr when it
    fails and `check`): the web's own commands, as an operator or the worker's container runs
    them."""
    result = subprocess.run(
        [sys.executable, str(MANAGE), *args],
        env=dict(env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"manage.py {' '.join(args)} → {result.returncode}\n{result.stderr}")
    return result


def web_environ(database_url: str, data_dir: str, **extra: str) -> dict[str, str]:
    """This process's environment with the web on a database and a data directory, as the tests
    run it (the test token, demo mode, text logs), `extra` on top; the settings module left to
    the web, as in its container."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DATA_DIR": data_dir,
        "INTERNAL_API_TOKEN": TEST_TOKEN,
        "DEMO_MODE": "true",
        "LOG_FORMAT": "text",
        **extra,
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


def main(argv: list[str]) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wheeldesk_web.settings")  # as manage.py
    django.setup()
    module, _, name = argv[0].partition(":")
    fn = getattr(importlib.import_module(module), name)
    kwargs = json.loads(argv[1]) if len(argv) > 1 else {}
    print(json.dumps(fn(**kwargs), default=str))


if __name__ == "__main__":
    main(sys.argv[1:])
