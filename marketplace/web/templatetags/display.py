"""Template filters for showing stored values as people read them."""

import json
from decimal import ROUND_HALF_UP, Decimal

from django import template

from marketplace.catalog.manifest import exclusions_text, shares_text
from marketplace.catalog.services.imports import human_size
from marketplace.catalog.vocab import language_name

register = template.Library()


@register.filter
def bytes_size(size: int | None) -> str:
    """``{{ 5061518398591|bytes_size }}`` renders ``5.1 TB``: decimal units, the ones per-GB prices charge in
    (Django's ``filesizeformat`` is binary and would say 4.6 "TB")."""
    return "" if size is None else human_size(int(size))


@register.filter
def plain_json(value) -> str:
    """A metadata value as JSON (``["2026-10-01"]``, ``null``), not Python's repr; a string as it is."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)


@register.filter
def running_time(seconds) -> str:
    """A total duration as people read it, never rounded to nothing: ``1,204.5 h`` for a catalogue, ``2 h 05 min``
    or ``1 min 44.5 s`` for a small one (``exact_seconds`` gives the stored figure)."""
    if seconds is None:
        return ""
    total = Decimal(seconds)
    if total >= 10 * 3600:
        return f"{total / 3600:,.1f} h"
    tenths = total.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    if total > 0 and not tenths:
        return "under 0.1 s"
    whole_minutes, rest = divmod(tenths, 60)
    hours, minutes = divmod(int(whole_minutes), 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    rest_text = format(rest.normalize(), "f")
    return f"{minutes} min {rest_text} s" if minutes else f"{rest_text} s"


@register.filter
def exact_seconds(seconds) -> str:
    """``104.500`` renders ``104.5 seconds``: the stored total, to the millisecond."""
    if seconds is None:
        return ""
    text = format(Decimal(seconds).normalize(), ",f")
    return f"{text} second{'' if Decimal(seconds) == 1 else 's'}"


@register.filter
def plain_decimal(value) -> str:
    """``29.970`` renders ``29.97`` and ``50.000`` renders ``50``: a stored decimal as it was written, without the
    column's padding (``floatformat`` keeps it: "29.970 fps" beside "50 fps")."""
    if value is None or value == "":
        return ""
    return format(Decimal(str(value)).normalize(), "f")


@register.filter
def language_names(tags) -> str:
    """``{{ corpus.languages|language_names }}``: ``English (en), Portuguese (pt-BR)``."""
    return ", ".join(language_name(tag) for tag in tags or [])


@register.filter
def manifest_value(value, field: str) -> str:
    """A stored asset value as a manifest writes it: ``FR DE``, ``harbour-stock:20; northlight-studios:80``,
    ``1-2.5:brand``, and what an empty list means rather than ``[]``."""
    if field == "territories":
        return " ".join(value) if value else "the corpus' territory"
    if field == "co_owners":
        return shares_text(value) if value else "the corpus' shares"
    if field == "clip_exclusions":
        return exclusions_text(value) if value else "none"
    if value is None or value == "":
        return "—"
    if field == "size_bytes" and isinstance(value, int):
        return f"{value:,} bytes"
    return plain_json(value)
