"""Tiers calibrated on the default criteria, and the gap to the next tier, worked by hand.

Pure functions at the pinned moment of `test_signals` (rate and dividend yield 0): a 30-DTE
0.25-delta put on a 100 USD stock, screened with the default criteria.
"""

from __future__ import annotations

import math

import pytest
from screener import signals, tiers, wheel
from signal_cases import _ctx, _data, _q, _short


def test_the_thresholds_are_the_scores_of_the_two_reference_trades() -> None:
    # good trade: APY 15 %, P(OTM) 73 %, spread 5 %, OI 1,000, fundamentals 10
    #   35 x 15 / 40 = 13.125; 30 x 23 / 45 = 15.333; 10 x (1 - 0.5) = 5; 10 x 3 / 4 = 7.5; 10
    #   = 50.958 -> 50.96, rounded down: A at 50
    assert tiers.GOOD_TRADE.score == pytest.approx(50.96)
    assert tiers.TIER_A == math.floor(tiers.GOOD_TRADE.score) == 50
    # marginal trade (each default rule just met): APY 10 %, P(OTM) 67 %, spread 10 %, OI 100, 5
    #   8.75 + 30 x 17 / 45 = 11.333 + 0 + 10 x 2 / 4 = 5 + 5 = 30.083 -> B at 30
    assert tiers.MARGINAL_TRADE.score == pytest.approx(30.08)
    assert tiers.TIER_B == math.floor(tiers.MARGINAL_TRADE.score) == 30
    assert tiers.tier(50.0) == "A" and tiers.tier(49.99) == "B"
    assert tiers.tier(30.0) == "B" and tiers.tier(29.99) == "C"
    # the good trade is A under the new rule; under the old one (A >= 70) it was B
    assert tiers.tier(tiers.GOOD_TRADE.score) == "A"


def _put(bid: float, ask: float):  # type: ignore[no-untyped-def]
    """KO at 100, the 95 put 30 days out, IB's IV 25 % and delta -0.25, 1,000 open."""
    quote = _q("KO", 30, 95.0, "P", bid, ask, iv=0.25, delta=-0.25, oi=1000)
    # ROE 40 % (5) + FCF > 0 (5) + beta 1.2 > 1 (0) = 10 fundamentals points
    (sig,), rejected = signals.screen("CSP", _data("KO", 100.0, beta=1.2), [quote], _ctx())
    assert rejected == []
    return sig


def test_a_good_put_under_the_default_criteria_is_tier_a() -> None:
    sig = _put(1.15, 1.20)
    # yield 1.15 / 95 = 1.2105 %; APY 1.2105 x 365 / 30 = 14.73 %
    assert sig.apy == pytest.approx(14.73)
    # P(OTM) = N(d2): t = 30 d 5.5 h / 365 = 0.08282; sigma sqrt(t) = 0.25 x 0.28778 = 0.071946;
    # d2 = (ln(100 / 95) - 0.5 x 0.0625 x 0.08282) / 0.071946 = 0.048705 / 0.071946 = 0.6770
    # N(0.6770) = 0.7508
    assert sig.pop == pytest.approx(75.08, abs=0.01)
    # spread 0.05 / 1.175 = 4.26 %
    # score 35 x 14.73 / 40 = 12.89 + 30 x 25.08 / 45 = 16.72 + 10 x (1 - 0.426) = 5.74
    #       + 7.5 + 10 = 52.85 -> A (it was B under A >= 70): no next tier
    assert sig.score == pytest.approx(52.85, abs=0.01)
    assert sig.tier == "A"
    assert sig.next_tier is None and sig.points_to_next_tier is None and sig.next_tier_note is None


def test_a_put_short_of_a_says_how_far_and_what_would_get_it_there() -> None:
    sig = _put(0.85, 0.90)
    # yield 0.85 / 95 = 0.8947 %; APY 0.8947 x 365 / 30 = 10.89 % (yield part 35 x 10.89 / 40
    # = 9.53); P(OTM) 75.08 as above (16.72); spread 0.05 / 0.875 = 5.71 % (4.29); OI 7.5; 10
    # score 9.53 + 16.72 + 4.29 + 7.5 + 10 = 48.03 -> B, 1.97 points below A at 50
    assert sig.apy == pytest.approx(10.89) and sig.spread_pct == pytest.approx(5.71)
    assert sig.score == pytest.approx(48.03, abs=0.01)
    assert sig.tier == "B" and sig.next_tier == "A"
    assert sig.points_to_next_tier == pytest.approx(1.97, abs=0.01)
    # what alone would close it (rounded up to 0.1, so it is enough):
    #   APY: part 9.529 + 1.97 = 11.499 -> APY 11.499 / 35 x 40 = 13.14 %: +2.3 (to 13.2 %)
    #   P(OTM): part 16.72 + 1.97 = 18.69 -> 50 + 18.69 / 30 x 45 = 78.04 %: +3.0 (to 78.1 %)
    #   spread: part 4.29 - ... 10 x (1 - (4.29 + 1.97) / 10) = 3.74 %: 3.7 % or less
    assert sig.next_tier_note == (
        "A at 50: +2.0 points; +2.3 % APY (to 13.2 %) or P(OTM) +3.0 points (to 78.1 %) "
        "or a spread of 3.7 % or less would do it"
    )
    # the numbers that would do it really do: 13.2 % APY with the rest unchanged scores >= 50
    assert wheel.score(13.2, sig.pop, sig.spread_pct, sig.open_interest, 10.0) >= 50.0
    assert wheel.score(sig.apy, 78.1, sig.spread_pct, sig.open_interest, 10.0) >= 50.0
    assert wheel.score(sig.apy, sig.pop, 3.7, sig.open_interest, 10.0) >= 50.0


def test_a_c_signal_points_to_b_and_a_capped_part_is_no_lever() -> None:
    # APY 60 % (yield part full, 35), P(OTM) 50 % (0), spread 20 % (0), OI 1 (0), 0 -> 35 ... B;
    # lower: APY 20 % (17.5) alone = 17.5 -> C, 12.5 short of B at 30
    gap = tiers.next_tier(17.5, apy=20.0, pop=40.0, spread_pct=20.0)
    assert gap is not None and gap.tier == "B" and gap.points == 12.5
    # APY: 17.5 + 12.5 = 30 <= 35 -> 30 / 35 x 40 = 34.29 %: +14.3 (to 34.3 %)
    # P(OTM) from 40 %: 50 + 12.5 / 30 x 45 = 68.75 %: +28.8 (to 68.8 %)
    # spread: part 0 + 12.5 > 10: no spread gets it there
    assert gap.note == (
        "B at 30: +12.5 points; +14.3 % APY (to 34.3 %) or P(OTM) +28.8 points (to 68.8 %) "
        "would do it"
    )
    # yield part already full (APY 45 % -> 35): only P(OTM) or spread can add points
    gap = tiers.next_tier(45.0, apy=45.0, pop=60.0, spread_pct=2.0)
    assert gap is not None and "APY" not in gap.note and "P(OTM) +7.5 points" in gap.note


def test_a_close_says_what_capture_reaches_the_next_tier() -> None:
    # Sold the 50 put at 1.20; 5 DTE (<= roll_dte 7), ask 0.80: captured (1.20 - 0.80) / 1.20
    # = 33.3 % (< 50 % target); no later expiry quoted -> CLOSE, scored 33.33 -> B
    held = _q("KO", 5, 50.0, "P", 0.75, 0.80, iv=0.25, delta=-0.20)
    (sig,), _ = signals.manage_short(
        _short("KO", 5, 50.0, "P", 1.20), [held], _data("KO", 53.0), _ctx()
    )
    assert sig.kind == "CLOSE" and sig.score == pytest.approx(33.33) and sig.tier == "B"
    assert sig.points_to_next_tier == pytest.approx(16.67)
    assert sig.next_tier_note == (
        "A at 50: +16.7 points; 50.0 % of the premium captured (now 33.3 %) would do it"
    )


def test_the_api_answers_the_gap_with_each_signal() -> None:
    """POST /v1/scans (inline data, the hand-worked put above): the JSON carries the gap."""
    from fastapi.testclient import TestClient
    from screener.app import build_app
    from screener.settings import ScreenerSettings
    from signal_cases import NOW
    from wheeldesk.schemas.market import Chain
    from wheeldesk.schemas.screener import ScanRequest
    from wheeldesk_testing.procs import free_port

    data = _data("KO", 100.0, beta=1.2)
    put = _q("KO", 30, 95.0, "P", 0.85, 0.90, iv=0.25, delta=-0.25, oi=1000)
    data.chains = [Chain(symbol="KO", underlying=data.quote, expirations=[], options=[put])]
    settings = ScreenerSettings(
        internal_api_token="test-token",
        bridge_url=f"http://127.0.0.1:{free_port()}",
        nats_url=f"nats://127.0.0.1:{free_port()}",
        risk_free_rate=0.0,
    )
    request = ScanRequest(now=NOW, symbols=["KO"], data=[data])
    with TestClient(build_app(settings), base_url="http://127.0.0.1") as client:
        response = client.post(
            "/v1/scans",
            json=request.model_dump(mode="json"),
            headers={"Authorization": "Bearer test-token"},
        )
    assert response.status_code == 200, response.text
    (sig,) = response.json()["signals"]
    assert sig["score"] == pytest.approx(48.03, abs=0.01) and sig["tier"] == "B"
    assert sig["next_tier"] == "A" and sig["points_to_next_tier"] == pytest.approx(1.97, abs=0.01)
    assert sig["next_tier_note"].startswith("A at 50: +2.0 points; +2.3 % APY (to 13.2 %)")
