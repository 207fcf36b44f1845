"""tws-sim's options are one settings class: each flag also reads its `TWS_SIM_` variable.

The flags the harness, `make run` and compose pass keep their names; a flag wins over the
environment; a bad value stops the process with one line naming it.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest
from tws_sim.settings import TwsSimSettings, load
from twssim_helpers import connect, ctl
from wheeldesk_testing.moments import AFTER_CLOSE, SIM_START, iso
from wheeldesk_testing.procs import tws_sim_proc


@pytest.fixture(autouse=True)
def no_outside_settings(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Neither a developer's `.env` nor a TWS_SIM_ variable of the shell reaches these tests."""
    monkeypatch.chdir(tmp_path)
    for name in TwsSimSettings.model_fields:
        monkeypatch.delenv(f"TWS_SIM_{name.upper()}", raising=False)


def test_every_flag_keeps_its_name() -> None:
    s = load(
        [
            *("--host", "0.0.0.0", "--port", "4102", "--control-port", "4180"),
            *("--seed", "11", "--speed", "60", "--snapshot-latency-ms", "400"),
            *("--max-lines", "3", "--pacing", "0", "--tick-ms", "1", "--cash", "100000"),
            *("--account", "U1234567", "--extra-symbols", "20", "--start", iso(SIM_START)),
            *("--latency", "realistic", "--no-live-data", "--no-fundamentals"),
            *("--no-greeks", "--no-wsh"),
        ]
    )
    assert (s.host, s.port, s.control_port, s.seed, s.speed) == ("0.0.0.0", 4102, 4180, 11, 60.0)
    assert (s.snapshot_latency_ms, s.max_lines, s.pacing, s.tick_ms) == (400.0, 3, 0, 1.0)
    assert (s.cash, s.account, s.extra_symbols, s.latency) == (
        100000.0,
        "U1234567",
        20,
        "realistic",
    )
    assert s.start == SIM_START
    assert (s.live_data, s.fundamentals, s.greeks, s.wsh) == (False, False, False, False)


def test_without_flags_or_environment_the_defaults_other_tests_rely_on() -> None:
    s = load([])
    assert (s.host, s.port, s.control_port, s.seed, s.speed) == ("127.0.0.1", 4002, 4080, 7, 1.0)
    assert (s.max_lines, s.pacing, s.tick_ms, s.cash) == (100, 50, 250.0, 250_000.0)
    assert (s.account, s.extra_symbols, s.latency, s.start) == ("DU7654321", 0, "off", None)
    assert (s.live_data, s.fundamentals, s.greeks, s.wsh) == (True, True, True, True)


def test_each_flag_reads_its_environment_variable_and_a_flag_wins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TWS_SIM_START", "2026-06-17T16:30:00")  # no offset: New York time
    monkeypatch.setenv("TWS_SIM_SEED", "9")
    monkeypatch.setenv("TWS_SIM_SPEED", "2.5")
    monkeypatch.setenv("TWS_SIM_ACCOUNT", "U7654321")
    monkeypatch.setenv("TWS_SIM_LATENCY", "realistic")
    monkeypatch.setenv("TWS_SIM_LIVE_DATA", "false")
    monkeypatch.setenv("TWS_SIM_PORT", "4102")
    s = load(["--port", "4202", "--live-data"])
    assert s.start == AFTER_CLOSE
    assert (s.seed, s.speed, s.account, s.latency) == (9, 2.5, "U7654321", "realistic")
    assert (s.port, s.live_data) == (4202, True)  # the flags, over the environment


def test_an_empty_variable_means_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Compose passes `TWS_SIM_START: ${TWS_SIM_START:-}`: empty is the wall clock."""
    monkeypatch.setenv("TWS_SIM_START", "")
    monkeypatch.setenv("TWS_SIM_SEED", "")
    s = load([])
    assert (s.start, s.seed) == (None, 7)


def test_dot_env_is_read_below_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / ".env").write_text("TWS_SIM_SEED=5\nTWS_SIM_PACING=10\nINTERNAL_API_TOKEN=x\n")
    monkeypatch.setenv("TWS_SIM_PACING", "20")
    s = load([])
    assert (s.seed, s.pacing) == (5, 20)


def run_tws_sim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tws_sim", *args], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["--port", "abc"],
            "configuration error: TWS_SIM_PORT: Input should be a valid integer, unable to parse"
            " string as an integer (got 'abc')",
        ),
        (
            ["--start", "next tuesday"],
            "configuration error: TWS_SIM_START: Value error, start 'next tuesday' is not an ISO"
            " 8601 moment (e.g. 2026-06-17T10:30:00-04:00) (got 'next tuesday')",
        ),
        (
            ["--latency", "fast"],
            "configuration error: TWS_SIM_LATENCY: Input should be 'off' or 'realistic'"
            " (got 'fast')",
        ),
    ],
)
def test_a_bad_value_exits_2_with_one_line_naming_it(args: list[str], line: str) -> None:
    result = run_tws_sim(*args)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [line]


def test_an_unknown_flag_exits_2_with_the_usage() -> None:
    result = run_tws_sim("--colour", "blue")
    assert result.returncode == 2
    assert result.stderr.startswith("usage: tws_sim ")
    assert "unrecognized arguments: --colour blue" in result.stderr


async def test_a_simulator_configured_from_its_environment() -> None:
    """The variables reach the running simulator (the IB login, cash, clock, entitlements);
    a flag given too wins."""
    sim = tws_sim_proc(start=None, extra=["--cash", "120000"])
    sim.env |= {
        "TWS_SIM_START": iso(SIM_START),
        "TWS_SIM_ACCOUNT": "U1234567",
        "TWS_SIM_CASH": "100000",
        "TWS_SIM_LATENCY": "realistic",
        "TWS_SIM_GREEKS": "false",
    }
    sim.start()
    try:
        state = ctl(sim, "/state")
        assert (state["account_id"], state["cash"], state["latency"]) == (
            "U1234567",
            120000.0,
            "realistic",
        )
        assert state["entitlements"]["greeks"] is False
        assert state["entitlements"]["live"] is True
        ib, _ = await connect(sim)
        try:
            assert ib.managedAccounts() == ["U1234567"]
            now = await ib.reqCurrentTimeAsync()
            assert SIM_START <= now < SIM_START + timedelta(minutes=5)
        finally:
            ib.disconnect()
    finally:
        sim.stop()
