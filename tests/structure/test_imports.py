"""The import boundaries of docs/design.md, checked on every `make test`.

The contracts live in `pyproject.toml` (`[tool.importlinter]`) and are checked by
import-linter over the installed packages: no service imports another service's package, the
shared `wheeldesk` package imports no service, only `gateway_bridge` imports `ib_insync`
(so moving to its maintained fork stays a change inside one service), and no product code
imports the dev-only harness `wheeldesk_testing`. Test directories are not
packages, so a scan of their import statements keeps the ib_insync rule there, with the few
places that drive tws-sim as an IB client listed by name.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

from repo_tree import ROOT, repo_files

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"

# Outside the bridge's package, the only code allowed to import ib_insync, and why.
IB_INSYNC_ALLOWED = {
    "services/gateway-bridge/src/gateway_bridge/": "the product's one IB client",
    "services/gateway-bridge/tests/": "the bridge's tests: a second IB client competing with it",
    "services/tws-sim/tests/": "drives the simulator with the real IB client, as the bridge would",
    "bench/tws_sim.py": "benchmarks tws-sim with the real IB client",
}


def lint_imports(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_import_contracts_hold() -> None:
    result = lint_imports(ROOT / "pyproject.toml")
    assert result.returncode == 0, result.stdout + result.stderr
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    count = len(contracts["tool"]["importlinter"]["contracts"])
    assert f"{count} kept, 0 broken" in result.stdout, result.stdout


def test_a_contract_breaks_when_a_boundary_is_crossed(tmp_path: Path) -> None:
    """The same contracts, with bench no longer allowed to use ib_insync, must fail there.

    Proves the checker sees external imports (a contract that cannot fail protects nothing).
    """
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    linter = config["tool"]["importlinter"]
    (protected,) = [c for c in linter["contracts"] if c["type"] == "protected"]
    protected["allowed_importers"] = ["gateway_bridge"]
    lines = [
        "[tool.importlinter]",
        f"root_packages = {linter['root_packages']!r}",
        "include_external_packages = true",
        "[[tool.importlinter.contracts]]",
        f"name = {protected['name']!r}",
        'type = "protected"',
        f"protected_modules = {protected['protected_modules']!r}",
        'allowed_importers = ["gateway_bridge"]',
    ]
    probe = tmp_path / "contracts.toml"
    probe.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = lint_imports(probe)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "BROKEN" in result.stdout
    assert "- bench.tws_sim -> ib_insync" in result.stdout


def imports_ib_insync(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(
            a.name.split(".")[0] == "ib_insync" for a in node.names
        ):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "ib_insync":
            return True
    return False


def python_files() -> list[Path]:
    return [ROOT / f for f in repo_files("*.py")]


def test_ib_insync_is_imported_only_where_allowed() -> None:
    users = {str(p.relative_to(ROOT)) for p in python_files() if imports_ib_insync(p)}
    outside = sorted(u for u in users if not any(u.startswith(a) for a in IB_INSYNC_ALLOWED))
    assert outside == [], "import ib_insync through gateway-bridge's HTTP API instead"
    # Every allow-list entry is still needed: a stale one would let the next import in silently.
    unused = [a for a in IB_INSYNC_ALLOWED if not any(u.startswith(a) for u in users)]
    assert unused == []
