"""Screening rules: each rejection names the first rule that failed (the "why not").

Fundamental rules run once per symbol; option rules run on arrays of contracts (a chain, or a
million rows in the benchmark) and return, per contract, the index of the first rule it
fails in `OPTION_RULES` order, or -1 when it passes them all. A number the data did not
supply never passes a rule that needs it (except fundamentals IB may simply not report, see
`fundamental_rejection`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
from wheeldesk.schemas.market import Fundamentals, fundamentals_missing
from wheeldesk.schemas.screener import Criteria

# Order matters: the first failing rule is the one reported.
OPTION_RULES = (
    "dte_window",
    "delta_band",
    "cc_strike_below_basis",
    "min_iv",
    "min_iv_rank",
    "min_open_interest",
    "max_spread_pct",
    "min_premium",
    "min_apy",
    "max_collateral",
    "buying_power",
    "cash_capacity",
    "earnings",
)
RULE_INDEX = {name: i for i, name in enumerate(OPTION_RULES)}


# Exchange-traded funds a wheel trader commonly sells puts on. A fund has no return on
# equity, free cash flow or market cap of its own (IB's tick 258 reports none, or the fund's
# own meaningless ones), so the company rules are not applied to it. IB's contract details
# would say "ETF" in stockType, but the bridge's StockInfo does not carry it: this list is
# the fallback, extended as users meet funds missing from it.
ETFS = frozenset(
    [
        "SPY",
        "QQQ",
        "IWM",
        "DIA",
        "VOO",
        "VTI",
        "IVV",
        "RSP",
        "MDY",
        "EFA",
        "EEM",
        "VEA",
        "VWO",
        "IEFA",
        "IEMG",
        "GLD",
        "SLV",
        "IAU",
        "GDX",
        "GDXJ",
        "TLT",
        "IEF",
        "SHY",
        "HYG",
        "LQD",
        "AGG",
        "BND",
        "TQQQ",
        "SQQQ",
        "SPXL",
        "UPRO",
        "SOXL",
        "TNA",
        "ARKK",
        "SMH",
        "SOXX",
        "XBI",
        "IBB",
        "KRE",
        "KBE",
        "XLB",
        "XLC",
        "XLE",
        "XLF",
        "XLI",
        "XLK",
        "XLP",
        "XLRE",
        "XLU",
        "XLV",
        "XLY",
        "XOP",
        "OIH",
        "USO",
        "UNG",
        "UVXY",
        "VXX",
        "SCHD",
        "JEPI",
        "VYM",
        "DVY",
        "VNQ",
        "FXI",
        "KWEB",
        "EWZ",
        "EWJ",
        "MCHI",
    ]
)
# The company rules an ETF is not judged on, and the Fundamentals field behind each.
COMPANY_RULES = (
    ("min_roe", "ROE", "roe"),
    ("positive_fcf", "free cash flow", "free_cash_flow"),
    ("max_beta", "beta", "beta"),
    ("min_market_cap", "market cap", "market_cap"),
)


def is_etf(symbol: str) -> bool:
    return symbol.strip().upper() in ETFS


def missing_why(f: Fundamentals) -> str:
    """Why a ratio is missing, in a skipped rule's words (`fundamentals_missing`, shared with
    the web's stock page)."""
    why = fundamentals_missing(f)
    if why is None:
        return "IB did not report it"
    if f.status is None:  # the bridge said nothing of how IB answered
        return f"no fundamentals from IB ({why})"
    return f"no fundamentals from IB: {why}"


def skipped_fundamentals(symbol: str, f: Fundamentals, c: Criteria) -> list[str]:
    """Every fundamental rule that could not be applied, and why, in words.

    A rule is skipped (never failed, never scored as a zero) when its input is missing; an
    ETF skips the company rules outright. Only rules the criteria switch on are listed.
    """
    active = {
        "min_roe": c.min_roe is not None,
        "positive_fcf": c.require_positive_fcf,
        "max_beta": c.max_beta is not None,
        "min_market_cap": c.min_market_cap is not None,
    }
    if is_etf(symbol):
        names = [label for rule, label, _ in COMPANY_RULES if active[rule] and rule != "max_beta"]
        out = []
        if names:
            out.append(
                f"{symbol} is an ETF: not judged on company fundamentals "
                f"({', '.join(names)}) — rules skipped"
            )
        if active["max_beta"] and f.beta is None:
            out.append("beta unknown: IB reported none for this fund — rule skipped")
        return out
    why = missing_why(f)
    out = []
    for rule, label, attr in COMPANY_RULES:
        if not active[rule] or getattr(f, attr) is not None:
            continue
        if rule == "positive_fcf" and f.fcf_per_share is not None:
            continue  # judged on free cash flow per share instead
        out.append(f"{label} unknown: {why} — rule skipped")
    return out


def fundamental_rejection(
    price: float | None, f: Fundamentals, c: Criteria, symbol: str = ""
) -> tuple[str, str] | None:
    """The first fundamental rule the symbol fails, as (rule, message), or None.

    A ratio IB did not report does not reject the symbol (delayed or partial fundamentals are
    common, and a user without the tick 258 subscription has none): the rule is skipped and
    `skipped_fundamentals` says so on every signal. An ETF (`is_etf`) is judged on price
    and beta only.
    """
    if price is None:
        return "no_price", "no usable stock price (no last, mid or close)"
    if c.min_price is not None and price < c.min_price:
        return "min_price", f"price {price:.2f} is below the minimum {c.min_price:g}"
    if c.max_price is not None and price > c.max_price:
        return "max_price", f"price {price:.2f} is above the maximum {c.max_price:g}"
    if is_etf(symbol):
        if c.max_beta is not None and f.beta is not None and f.beta > c.max_beta:
            return "max_beta", f"beta {f.beta:.2f} is above the maximum {c.max_beta:g}"
        return None
    if c.min_roe is not None and f.roe is not None and f.roe < c.min_roe:
        return "min_roe", f"ROE {f.roe:.1f}% is below the minimum {c.min_roe:g}%"
    if c.require_positive_fcf and f.free_cash_flow is not None and f.free_cash_flow <= 0:
        return "positive_fcf", f"free cash flow {f.free_cash_flow:,.0f} USD is not positive"
    if c.require_positive_fcf and f.free_cash_flow is None and (f.fcf_per_share or 0) < 0:
        return "positive_fcf", f"free cash flow per share {f.fcf_per_share:.2f} is negative"
    if c.max_beta is not None and f.beta is not None and f.beta > c.max_beta:
        return "max_beta", f"beta {f.beta:.2f} is above the maximum {c.max_beta:g}"
    cap = f.market_cap
    if c.min_market_cap is not None and cap is not None and cap < c.min_market_cap:
        return (
            "min_market_cap",
            f"market cap {cap / 1e9:,.1f}B is below the minimum {c.min_market_cap / 1e9:,.1f}B",
        )
    return None


@dataclass
class OptionColumns:
    """The per-contract numbers the option rules read (numpy arrays of one length)."""

    dte: np.ndarray
    abs_delta: np.ndarray
    iv: np.ndarray
    iv_rank: np.ndarray
    open_interest: np.ndarray
    spread_pct: np.ndarray
    premium: np.ndarray
    apy: np.ndarray
    collateral: np.ndarray
    needs_cash: np.ndarray  # True for a cash-secured put; a covered call is covered by shares
    below_basis: np.ndarray  # covered call strike below the shares' cost basis
    spans_earnings: np.ndarray
    next_earnings: date | None = None  # the date `spans_earnings` was computed from


def first_failures(
    cols: OptionColumns,
    c: Criteria,
    *,
    buying_power: float | None = None,
    cash_capacity: float | None = None,
) -> np.ndarray:
    """Index into OPTION_RULES of the first failing rule per contract, -1 when none fails.

    `cash_capacity` is the cash left to secure puts (cash - collateral of the puts already
    short or working): margin buying power can exceed it many times over, and a
    cash-secured put must be secured by cash.
    """
    n = cols.dte.shape[0]

    def missing_or(values: np.ndarray, bad: np.ndarray) -> np.ndarray:
        return np.isnan(values) | bad

    # Per rule in OPTION_RULES order, where it fails; None where the criteria switch it off.
    with np.errstate(invalid="ignore"):
        fails = [
            (cols.dte < c.dte_min) | (cols.dte > c.dte_max),
            missing_or(
                cols.abs_delta, (cols.abs_delta < c.delta_min) | (cols.abs_delta > c.delta_max)
            ),
            cols.below_basis if c.cc_min_strike_vs_basis else None,
            missing_or(cols.iv, cols.iv < c.min_iv) if c.min_iv is not None else None,
            missing_or(cols.iv_rank, cols.iv_rank < c.min_iv_rank)
            if c.min_iv_rank is not None
            else None,
            missing_or(cols.open_interest, cols.open_interest < c.min_open_interest)
            if c.min_open_interest > 0
            else None,
            missing_or(cols.spread_pct, cols.spread_pct > c.max_spread_pct),
            missing_or(cols.premium, cols.premium < c.min_premium),
            missing_or(cols.apy, cols.apy < c.min_apy),
            cols.needs_cash & (cols.collateral > c.max_collateral)
            if c.max_collateral is not None
            else None,
            cols.needs_cash & (cols.collateral > buying_power)
            if buying_power is not None
            else None,
            cols.needs_cash & (cols.collateral > cash_capacity)
            if cash_capacity is not None
            else None,
            cols.spans_earnings if c.earnings == "exclude" else None,
        ]
    # One pass, last rule first: an earlier rule that also fails overwrites the index, so
    # what is left is the first failure (no rules x contracts matrix to stack and scan).
    # The overwrite is arithmetic on int8 (first -= (first - i) x fails), branch-free: a
    # masked store over a shuffled million costs ten times as much.
    first = np.full(n, -1, dtype=np.int8)
    step = np.empty(n, dtype=np.int8)
    for i in range(len(fails) - 1, -1, -1):
        if fails[i] is not None:
            np.subtract(first, np.int8(i), out=step)
            step *= np.asarray(fails[i], dtype=bool).view(np.int8)
            first -= step
    return first.astype(np.intp)


def earnings_message(day: date | None) -> str:
    """The earnings rule's words, naming the date so a user can check it."""
    if day is None:
        return "the expiry spans the next earnings date"
    return f"earnings on {day:%Y-%m-%d} come before this expiry"


def _fmt(value: float, spec: str = ".2f") -> str:
    return "missing" if value is None or np.isnan(value) else format(value, spec)


def describe(
    rule: str,
    i: int,
    cols: OptionColumns,
    c: Criteria,
    buying_power: float | None,
    cash_capacity: float | None = None,
) -> str:
    """One line a user can act on: the number, the limit, and which side it fell."""
    missing = {
        "delta_band": (cols.abs_delta, "delta unknown (no greeks and no price to solve IV)"),
        "min_iv": (cols.iv, "IV unknown (IB sent none and the price gave none)"),
        "min_open_interest": (cols.open_interest, "open interest unknown"),
        "max_spread_pct": (cols.spread_pct, "spread unknown (no two-sided quote)"),
        "min_premium": (cols.premium, "no premium (no bid)"),
        "min_apy": (cols.apy, "APY unknown (no premium)"),
    }
    if rule in missing and np.isnan(missing[rule][0][i]):
        return missing[rule][1]
    if rule == "dte_window":
        return f"{int(cols.dte[i])} DTE is outside {c.dte_min}–{c.dte_max}"
    if rule == "delta_band":
        return f"|delta| {_fmt(cols.abs_delta[i])} is outside {c.delta_min:g}–{c.delta_max:g}"
    if rule == "cc_strike_below_basis":
        return "strike is below the shares' cost basis (a call-away would lock in a loss)"
    if rule == "min_iv":
        return f"IV {_fmt(cols.iv[i] * 100, '.1f')}% is below the minimum {c.min_iv * 100:g}%"
    if rule == "min_iv_rank":
        if np.isnan(cols.iv_rank[i]):
            return "IV rank unknown (no year of IV history) and a minimum is set"
        return f"IV rank {cols.iv_rank[i]:.0f} is below the minimum {c.min_iv_rank:g}"
    if rule == "min_open_interest":
        return f"open interest {_fmt(cols.open_interest[i], '.0f')} is below {c.min_open_interest}"
    if rule == "max_spread_pct":
        return f"spread {_fmt(cols.spread_pct[i], '.1f')}% is wider than {c.max_spread_pct:g}%"
    if rule == "min_premium":
        return f"premium {_fmt(cols.premium[i])} is below the minimum {c.min_premium:g}"
    if rule == "min_apy":
        return f"APY {_fmt(cols.apy[i], '.1f')}% is below the minimum {c.min_apy:g}%"
    if rule == "max_collateral":
        return f"collateral {cols.collateral[i]:,.0f} USD exceeds the cap {c.max_collateral:,.0f}"
    if rule == "buying_power":
        return (
            f"collateral {cols.collateral[i]:,.0f} USD exceeds buying power "
            f"{buying_power or 0:,.0f}"
        )
    if rule == "cash_capacity":
        return (
            f"collateral {cols.collateral[i]:,.0f} USD exceeds the cash-secured capacity "
            f"{cash_capacity or 0:,.0f} (cash less the puts already short or working)"
        )
    if rule == "earnings":
        return earnings_message(cols.next_earnings)
    return rule
