"""Small server-side SVG bar charts (no JavaScript): grouped bars with labels, tooltips and a text alternative."""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from django.utils.safestring import SafeString, mark_safe

PALETTE = ["#2f6fde", "#e0882d", "#2f9e6e", "#b04ac9"]


def bar_chart(
    *, title: str, categories: list[str], series: list[tuple[str, list[int | float]]],
    fmt: Callable[[float], str] = str, width: int = 720, height: int = 240,
) -> SafeString:  # fmt: skip
    left, bottom, top = 70, 40, 24
    plot_w, plot_h = width - left - 10, height - bottom - top
    peak = max([abs(v) for _, values in series for v in values] + [1])
    group = plot_w / max(len(categories), 1)
    bar = min(48.0, max(2.0, (group * 0.8) / max(len(series), 1)))  # one wide category still looks like a bar
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" class="chart">',
        f'<text x="{left}" y="16" font-size="13" font-weight="600">{escape(title)}</text>',
    ]
    for step in range(5):
        value = peak * step / 4
        y = top + plot_h - plot_h * step / 4
        parts.append(f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{escape(fmt(value))}</text>'
        )
    for i, category in enumerate(categories):
        x0 = left + i * group + (group - bar * len(series)) / 2  # centred in its slot
        for s, (name, values) in enumerate(series):
            value = values[i]
            h = plot_h * abs(value) / peak
            x, y = x0 + s * bar, top + plot_h - h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar - 1:.1f}" height="{h:.1f}" fill="{PALETTE[s % 4]}">'
                f"<title>{escape(name)}, {escape(category)}: {escape(fmt(value))}</title></rect>"
            )
        parts.append(
            f'<text x="{left + i * group + group / 2:.1f}" y="{height - bottom + 14}" font-size="10" '
            f'text-anchor="middle">{escape(category)}</text>'
        )
    for s, (name, _) in enumerate(series):
        x = left + s * 170
        parts.append(f'<rect x="{x}" y="{height - 14}" width="10" height="10" fill="{PALETTE[s % 4]}"/>')
        parts.append(f'<text x="{x + 14}" y="{height - 5}" font-size="11">{escape(name)}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text is escaped above
