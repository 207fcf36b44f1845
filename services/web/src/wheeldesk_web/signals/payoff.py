"""Payoff at expiry of a wheel signal: P/L per contract against the underlying price.

Short put (CSP): (premium − max(K − S, 0)) × 100, breakeven K − premium.
Covered call: (S − basis + premium − max(S − K, 0)) × 100, basis = cost basis when
assigned else today's price; breakeven basis − premium. The curve is drawn as an
inline SVG so it needs no script and reads the same on a phone.

A ROLL is drawn as the position it leaves: the new option with every credit received on
the position (the first sale plus the roll's net credit), so its breakeven is the
position's (the screener's `breakeven`), not the new sale's alone. A CLOSE has no payoff:
buying back leaves nothing at risk, and the page shows its cost instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape


@dataclass
class Payoff:
    right: str
    strike: float
    premium: float
    spot: float
    basis: float | None = None
    multiplier: int = 100
    kind: str = "CSP"

    @property
    def is_roll(self) -> bool:
        return self.kind == "ROLL"

    @property
    def covered(self) -> bool:
        return self.right == "C"

    @property
    def breakeven(self) -> float:
        if self.covered:
            return (self.basis if self.basis is not None else self.spot) - self.premium
        return self.strike - self.premium

    def pnl(self, s: float) -> float:
        if self.covered:
            basis = self.basis if self.basis is not None else self.spot
            per_share = s - basis + self.premium - max(s - self.strike, 0.0)
        else:
            per_share = self.premium - max(self.strike - s, 0.0)
        return per_share * self.multiplier

    @property
    def max_profit(self) -> float:
        return self.pnl(self.strike * 10 if self.covered else self.strike)


def payoff_for_signal(signal) -> Payoff:  # type: ignore[no-untyped-def]
    """The payoff of what the signal leaves open (a CLOSE leaves nothing: not drawn)."""
    kind = getattr(signal, "kind", "CSP")
    basis = float(signal.cost_basis) if getattr(signal, "cost_basis", None) else None
    premium = float(signal.premium)
    breakeven = getattr(signal, "breakeven", None)
    if kind == "ROLL" and breakeven is not None:
        # every credit on the position: strike (put) or basis (call) minus its breakeven
        base = float(signal.strike) if signal.right == "P" else (basis or signal.underlying_price)
        premium = float(base) - float(breakeven)
    return Payoff(
        right=signal.right,
        strike=float(signal.strike),
        premium=premium,
        spot=float(signal.underlying_price),
        basis=basis,
        multiplier=int(getattr(signal, "multiplier", 100) or 100),
        kind=kind,
    )


def payoff_svg(
    p: Payoff, width: int = 640, height: int = 260, font: int = 11, suffix: str = ""
) -> str:
    """The payoff chart as inline SVG, drawn for one width (the page draws a wide and a phone
    one, so the text keeps a readable size instead of shrinking with the viewBox). The three
    marks' labels sit on their own rows, ordered by price, and flip to the left of their line
    when they would run past the right edge: they never overlap."""
    lo = min(p.strike, p.spot, p.breakeven) * 0.8
    hi = max(p.strike, p.spot, p.breakeven) * 1.2
    n = 120
    xs = [lo + (hi - lo) * i / n for i in range(n + 1)]
    ys = [p.pnl(x) for x in xs]
    top, bottom = max(*ys, 0.0), min(*ys, 0.0)
    span = (top - bottom) or 1.0
    row = font + 4
    pl, pr, pt, pb = font * 5 + 4, 12, 3 * row + 6, font + 19
    w, h = width - pl - pr, height - pt - pb

    def sx(x: float) -> float:
        return pl + (x - lo) / (hi - lo) * w

    def sy(y: float) -> float:
        return pt + (top - y) / span * h

    path = " ".join(
        f"{'M' if i == 0 else 'L'}{sx(x):.1f},{sy(y):.1f}"
        for i, (x, y) in enumerate(zip(xs, ys, strict=True))
    )
    zero = sy(0)

    def vline(x: float, colour: str, label: str, anchor_y: float, ident: str) -> str:
        # about 0.6 em a character: a label that would cross the right edge goes left of its line
        fits_right = sx(x) + 4 + 0.6 * font * len(label) <= width - 2
        tx, anchor = (sx(x) + 4, "start") if fits_right else (sx(x) - 4, "end")
        return (
            f'<g id="{ident}{suffix}"><line x1="{sx(x):.1f}" x2="{sx(x):.1f}" y1="{pt}" '
            f'y2="{pt + h}" stroke="{colour}" stroke-dasharray="4 3"/>'
            f'<text x="{tx:.1f}" y="{anchor_y:.1f}" text-anchor="{anchor}" font-size="{font}" '
            f'fill="{colour}">{escape(label)}</text></g>'
        )

    marks = sorted(
        [
            (p.strike, "#1d4ed8", f"strike {p.strike:g}", "payoff-strike"),
            (p.breakeven, "#b45309", f"breakeven {p.breakeven:.2f}", "payoff-breakeven"),
            (p.spot, "#64748b", f"now {p.spot:.2f}", "payoff-spot"),
        ],
        key=lambda m: m[0],
    )
    ident = f"payoff-chart{suffix}"
    return "".join(
        [
            f'<svg viewBox="0 0 {width} {height}" role="img" class="h-auto w-full" id="{ident}" '
            f'aria-label="Profit or loss at expiry against the underlying price; breakeven '
            f'{p.breakeven:.2f}, strike {p.strike:g}">',
            f'<line x1="{pl}" x2="{pl + w}" y1="{zero:.1f}" y2="{zero:.1f}" stroke="#94a3b8"/>',
            f'<path d="{path}" fill="none" stroke="#0f172a" stroke-width="2"/>',
            *(
                vline(x, colour, label, font + 2 + i * row, ident_)
                for i, (x, colour, label, ident_) in enumerate(marks)
            ),
            f'<text x="{pl - 6}" y="{sy(top) + font * 0.4:.1f}" text-anchor="end" '
            f'font-size="{font}" fill="#15803d">+${top:,.0f}</text>',
            f'<text x="{pl - 6}" y="{sy(bottom):.1f}" text-anchor="end" font-size="{font}" '
            f'fill="#b91c1c">−${-bottom:,.0f}</text>',
            f'<text x="{pl}" y="{height - 6}" font-size="{font}" fill="#475569">{lo:,.2f}</text>',
            f'<text x="{pl + w}" y="{height - 6}" text-anchor="end" font-size="{font}" '
            f'fill="#475569">{hi:,.2f}</text>',
            "</svg>",
        ]
    )
