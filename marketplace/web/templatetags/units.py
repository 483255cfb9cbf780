"""Template filters for sizes, in the decimal units that per-GB prices are charged in."""

from django import template

from marketplace.catalog.services.imports import human_size

register = template.Library()


@register.filter
def bytes_size(size: int | None) -> str:
    """``{{ 5061518398591|bytes_size }}`` renders ``5.1 TB`` (not Django's binary ``filesizeformat``: 4.6 "TB")."""
    return "" if size is None else human_size(int(size))
