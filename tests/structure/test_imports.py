"""The import boundaries of docs/design.md, checked on every `make test`.

The contracts live in `pyproject.toml` (`[tool.importlinter]`) and are checked by
import-linter over the installed packages: no service imports another service's package, the
shared `wheeldesk` package imports no service, only `gateway_bridge` imports `ib_insync`
(so moving to its maintained fork stays a change inside one service), no product code
imports the dev-only harness `wheeldesk_testing`, and the web's apps form layers with no cycle
between them (no upward import ignored). Test directories are not
packages, so a scan of their import statements keeps the ib_insync rule there, with the few
places that drive tws-sim as an IB client listed by name.
"""

from __future__ import annotations

import ast
import re
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


# The web's upward imports ignored by the app-layer contracts: none are left, and none may come
# back (an app below that needs an upper one's data gets it registered at start-up).
REMAINING_WEB_CYCLES: set[str] = set()


def web_contracts() -> list[dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    return [c for c in contracts if c["type"] in ("layers", "acyclic_siblings")]


def test_the_web_cycles_left_may_only_shrink() -> None:
    contracts = web_contracts()
    assert {c["type"] for c in contracts} == {"layers", "acyclic_siblings"}
    for contract in contracts:
        added = set(contract.get("ignore_imports", [])) - REMAINING_WEB_CYCLES
        assert added == set(), f"{contract['name']}: fix the direction instead of ignoring {added}"


def test_the_app_layers_break_when_an_app_imports_upward(tmp_path: Path) -> None:
    """The layers contract with core put on top must fail: the checker sees the web's apps."""
    (layers,) = [c for c in web_contracts() if c["type"] == "layers"]
    upside_down = ["core", *[layer for layer in layers["layers"] if layer != "core"]]
    lines = [
        "[tool.importlinter]",
        'root_packages = ["wheeldesk_web"]',
        "[[tool.importlinter.contracts]]",
        'name = "upside down"',
        'type = "layers"',
        'containers = ["wheeldesk_web"]',
        f"layers = {upside_down!r}",
        f"ignore_imports = {layers.get('ignore_imports', [])!r}",
    ]
    probe = tmp_path / "contracts.toml"
    probe.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = lint_imports(probe)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "BROKEN" in result.stdout
    # e.g. "- wheeldesk_web.orders.services -> wheeldesk_web.core.clock (l.25)"
    assert re.search(r"- wheeldesk_web\.(?!core\b)\w+\S* -> wheeldesk_web\.core\b", result.stdout)


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
