"""Pages of several lists on one page."""

from __future__ import annotations

from urllib.parse import urlencode

from django.core.paginator import Page, Paginator
from django.http import HttpRequest


def pages_of(request: HttpRequest, **lists: tuple) -> dict[str, Page | str]:
    """For each ``name=(items, per_page)``: the page asked for by ``?<name>_page=``, as ``name``, and the query
    its pager adds, as ``<name>_query``, which keeps the other lists on the pages they show."""
    params = {f"{name}_page" for name in lists}
    context: dict[str, Page | str] = {}
    for name, (items, per_page) in lists.items():
        own = f"{name}_page"
        context[name] = Paginator(items, per_page).get_page(request.GET.get(own))
        context[f"{name}_query"] = urlencode({k: v for k, v in request.GET.items() if k in params and k != own})
    return context
