"""Monthly premium as an inline SVG bar chart: no script, readable at 390 px, printable."""

from __future__ import annotations

from decimal import Decimal
from html import escape


def premium_bars(months: dict[str, Decimal], width: int = 720, height: int = 220) -> str:
    if not months:
        return ""
    pad_l, pad_b, pad_t = 56, 28, 12
    values = [float(v) for v in months.values()]
    top = max(max(values), 0.0) or 1.0
    bottom = min(min(values), 0.0)
    span = top - bottom or 1.0
    plot_h = height - pad_b - pad_t
    plot_w = width - pad_l - 8
    step = plot_w / len(values)
    bar_w = min(48.0, max(4.0, step * 0.7))

    def y(v: float) -> float:
        return pad_t + (top - v) / span * plot_h

    parts = [
        f'<svg viewBox="0 0 {width} {height}" role="img" class="h-auto w-full" '
        f'aria-label="Net option premium by month" id="premium-chart">',
        f'<line x1="{pad_l}" x2="{width - 8}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="#94a3b8"/>',
        f'<text x="{pad_l - 6}" y="{y(top) + 4:.1f}" text-anchor="end" font-size="11" '
        f'fill="#475569">${top:,.0f}</text>',
    ]
    if bottom < 0:
        parts.append(
            f'<text x="{pad_l - 6}" y="{y(bottom):.1f}" text-anchor="end" font-size="11" '
            f'fill="#475569">−${-bottom:,.0f}</text>'
        )
    every = max(1, len(values) // 12)
    for i, (month, v) in enumerate(zip(months, values, strict=True)):
        x = pad_l + i * step + (step - bar_w) / 2
        y0, y1 = sorted((y(0), y(v)))
        colour = "#15803d" if v >= 0 else "#b91c1c"
        parts.append(
            f'<rect x="{x:.1f}" y="{y0:.1f}" width="{bar_w:.1f}" height="{max(y1 - y0, 1):.1f}" '
            f'fill="{colour}" data-month="{escape(month)}" data-value="{v:.2f}">'
            f"<title>{escape(month)}: ${v:,.2f}</title></rect>"
        )
        if i % every == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{height - 8}" text-anchor="middle" '
                f'font-size="10" fill="#475569">{escape(month)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)
