"""gateway-bridge uses ib_insync through its public API only.

ib_insync 0.9.86 is archived; its maintained fork `ib_async` keeps the `IB` class and its
documented objects (`IB`, `Client`'s settings and requests, `Ticker`, `Trade`, `Fill`, events),
not the internal bookkeeping of `ib.wrapper` (`_futures`, `startReq`, `reqId2Ticker`,
`ticker2ReqId`, `tickers`, `fills`, `permId2Trade`…) nor anything named `_private`. A bridge
that reaches into those breaks silently on an upgrade, so this test lists every such touch and
fails on one that is not on the allow-list below — and on an allow-list entry no longer used,
so the list only shrinks. The goal is an empty list.

What counts as a touch, in `services/gateway-bridge/src/gateway_bridge`:
- any attribute read through `.wrapper` (ib_insync's `Wrapper` is not the public API);
- any `_private` attribute of an ib_insync object (an expression through `ib`/`wrapper`/`client`);
- any assignment to an attribute of an ib_insync object (a monkey-patch), except the documented
  settings in `SETTINGS`.
"""

from __future__ import annotations

import ast
import re
from collections import Counter

from repo_tree import ROOT

BRIDGE = ROOT / "services" / "gateway-bridge" / "src" / "gateway_bridge"

IB_OBJECT = re.compile(r"(^|\.)(ib|wrapper|client)(\.|$)")
# Documented knobs of `IB` and `Client` that ib_insync asks users to set.
SETTINGS = {"MaxRequests", "RequestsInterval", "RequestTimeout", "RaiseRequestErrors"}

# (file, expression) -> (times used, why it is still there). Remove an entry with its last use.
ALLOWED: dict[tuple[str, str], tuple[int, str]] = {
    ("marketdata.py", "ib.wrapper.startReq"): (
        1,
        "snapshot quote with our own timeout: the public reqTickersAsync awaits forever and "
        "leaves its request behind when cancelled",
    ),
    ("marketdata.py", "ib.wrapper.startTicker"): (1, "same snapshot request (see startReq)"),
    ("marketdata.py", "ib.wrapper.endTicker"): (1, "same snapshot request: release the ticker"),
    ("marketdata.py", "ib.wrapper._futures"): (
        1,
        "same snapshot request: forget the future of a timed-out snapshot",
    ),
    ("marketdata.py", "ib.wrapper.reqId2Ticker"): (
        1,
        "same snapshot request: reqTickersAsync never removes a snapshot's reqId2Ticker entry "
        "(one leaked per quote in a long-running bridge)",
    ),
    ("marketdata.py", "ib.wrapper.tickers"): (
        1,
        "same snapshot request: wrapper.tickers is keyed by id(contract) and never emptied, so "
        "a later contract at the same address would get this stale Ticker (and it leaks)",
    ),
    ("marketdata.py", "self.ib.wrapper.tickers"): (
        1,
        "generic-tick stream: cancelMktData leaves the Ticker in wrapper.tickers (keyed by "
        "id(contract)); see the snapshot entry",
    ),
}


def touches(source: str) -> list[tuple[int, str]]:
    """(line, expression) for each private touch of an ib_insync object in `source`."""
    tree = ast.parse(source)
    found: list[tuple[int, str]] = []
    # Plain assignment replaces an attribute (a monkey-patch); `ib.someEvent += handler` is
    # ib_insync's documented way to subscribe, so augmented assignment is not a store here.
    stored = {
        id(t)
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
    }
    has_attribute_read = {
        id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Attribute)
    }

    def private(name: str) -> bool:
        return name.startswith("_") and not name.startswith("__")

    def patched(node: ast.Attribute) -> bool:
        return id(node) in stored and node.attr not in SETTINGS

    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        base = ast.unparse(node.value)
        through_ib = IB_OBJECT.search(base) is not None
        on_wrapper = (isinstance(node.value, ast.Name) and node.value.id == "wrapper") or (
            isinstance(node.value, ast.Attribute) and node.value.attr == "wrapper"
        )
        if on_wrapper:
            found.append((node.lineno, f"{base}.{node.attr}"))
        elif node.attr == "wrapper" and id(node) not in has_attribute_read:
            found.append((node.lineno, f"{base}.wrapper"))  # aliased: `w = ib.wrapper`
        elif through_ib and (private(node.attr) or patched(node)):
            found.append((node.lineno, f"{base}.{node.attr}"))
    return sorted(found)


def bridge_touches() -> Counter[tuple[str, str]]:
    counts: Counter[tuple[str, str]] = Counter()
    for path in sorted(BRIDGE.rglob("*.py")):
        for _, expr in touches(path.read_text(encoding="utf-8")):
            counts[(path.name, expr)] += 1
    return counts


def test_the_bridge_touches_no_private_ib_insync_attribute_beyond_the_allow_list() -> None:
    used = bridge_touches()
    new = {k: n for k, n in used.items() if n > ALLOWED.get(k, (0, ""))[0]}
    assert new == {}, "use ib_insync's public API (IB methods, events, Ticker/Trade/Fill)"


def test_the_allow_list_only_shrinks() -> None:
    used = bridge_touches()
    stale = {k: (n, used.get(k, 0)) for k, (n, _) in ALLOWED.items() if used.get(k, 0) < n}
    assert stale == {}, "a private use went away: lower its count or remove its entry"


def test_the_scan_sees_private_reads_aliases_and_monkey_patches() -> None:
    source = (
        "ib.client.MaxRequests = 5\n"
        "ib.reqMktData(c)\n"
        "ib.orderStatusEvent += on_status\n"
        "ib.wrapper._futures.pop(1)\n"
        "self.ib.wrapper.reqId2Ticker.get(1)\n"
        "wrapper = self.ib.wrapper\n"
        "wrapper.execDetails = f\n"
        "session.ib._logger\n"
        "self._cache.get(1)\n"
        "ib.client.sendMsg = g\n"
    )
    assert touches(source) == [
        (4, "ib.wrapper._futures"),
        (5, "self.ib.wrapper.reqId2Ticker"),
        (6, "self.ib.wrapper"),
        (7, "wrapper.execDetails"),
        (8, "session.ib._logger"),
        (10, "ib.client.sendMsg"),
    ]
