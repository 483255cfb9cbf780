"""Template filters for showing stored values as people read them."""

import json

from django import template

from marketplace.catalog.services.imports import human_size

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
