"""The public catalogue: published corpora with search and filters, and each corpus' page."""

from __future__ import annotations

from django.conf import settings
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseNotModified
from django.shortcuts import get_object_or_404, render

from ledger.money import CURRENCY_EXPONENTS, minor_units
from marketplace.catalog.manifest import COLUMN_GUIDE, REQUIRED
from marketplace.catalog.models import AssetStatus, CorpusStatus, PreviewMedia
from marketplace.catalog.selectors import (
    MAX_FILTER_HOURS,
    MAX_FILTER_PRICE,
    CatalogueFilters,
    active_assets_pages,
    card_prices,
    card_territories,
    filter_number,
    live_offer_versions,
    live_previews,
    preview_visible,
    public_corpora,
    public_corpus,
)
from marketplace.catalog.services.corpora import PREVIEW_CONTENT_TYPES
from marketplace.catalog.services.listing import shape_of
from marketplace.catalog.vocab import (
    CURRENCIES,
    GENRES,
    LANGUAGES,
    PERMITTED_USES,
    language_tag,
    territory_codes,
    territory_problem,
    unknown_language_part,
)
from marketplace.pricing import PricePlan, example_prices, whole_corpus_price


def _filters(request: HttpRequest) -> tuple[CatalogueFilters, dict[str, str]]:
    """The filters as typed; one that cannot be read is an error next to its field and filters nothing."""
    errors: dict[str, str] = {}
    get = request.GET
    language = get.get("language", "").strip()
    tag = language_tag(language)
    if language and (tag is None or unknown_language_part(tag)):
        errors["language"] = "Choose a language from the list (or give a language tag such as pt-BR)."
        language = ""
    territory = get.get("territory", "").strip()
    if territory and (problem := territory_problem(territory_codes([territory]), missing="")):
        errors["territory"] = problem.replace("code(s)", "code")
        territory = ""
    currency = get.get("currency", "").strip().upper() or "EUR"
    if currency not in CURRENCIES:
        errors["currency"] = f"Choose one of {', '.join(CURRENCIES)}."
        currency = "EUR"
    genre = get.get("genre", "").strip()
    if genre and genre not in GENRES:
        errors["genre"] = "Choose a genre from the list."
        genre = ""
    use = get.get("use", "").strip()
    if use and use not in PERMITTED_USES:
        errors["use"] = "Choose a permitted use from the list."
        use = ""
    filters = CatalogueFilters(
        q=get.get("q", "").strip()[:200],
        language=language,
        genre=genre,
        use=use,
        territory=territory.upper(),
        currency=currency,
    )
    if get.get("min_hours"):
        hours = filter_number(get["min_hours"], MAX_FILTER_HOURS)
        if hours is None:
            errors["min_hours"] = "Enter a number of hours."
        else:
            filters.min_hours = hours
    if get.get("max_price") and "currency" not in errors:
        price = filter_number(get["max_price"], MAX_FILTER_PRICE)
        try:
            if price is None:
                raise ValueError
            filters.max_price_per_hour = minor_units(price, filters.currency)
        except (ValueError, KeyError):
            example = "120" if CURRENCY_EXPONENTS.get(filters.currency) == 0 else "120 or 99.50"
            errors["max_price"] = f"Enter a price per hour in {filters.currency}, like {example}."
    return filters, errors


def catalogue(request: HttpRequest) -> HttpResponse:
    filters, errors = _filters(request)
    page = Paginator(public_corpora(filters), 20).get_page(request.GET.get("page"))
    prices, territories = card_prices(list(page), filters), card_territories(list(page))
    for corpus in page:
        corpus.card_price = prices[corpus.pk]
        corpus.card_territories = territories[corpus.pk]
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "catalog/public_list.html",
        {
            "page": page, "filters": filters, "errors": errors, "query": query.urlencode(),
            "genres": GENRES, "languages": LANGUAGES, "uses": PERMITTED_USES, "currencies": CURRENCIES,
        },
    )  # fmt: skip


def offers_with_examples(corpus) -> list[tuple]:
    """Each offer on sale with what 100, 1,000 and 10,000 hours and the whole corpus would cost, for the pages
    that show its terms."""
    shape = shape_of(corpus)
    out = []
    for version in live_offer_versions(corpus):
        plan = PricePlan.from_dict(version.price_plan)
        out.append((version, example_prices(plan, shape), whole_corpus_price(plan, shape, corpus.total_seconds)))
    return out


def corpus_page(request: HttpRequest, slug: str) -> HttpResponse:
    corpus = public_corpus(slug)
    if corpus is None:
        raise Http404("No such corpus in the catalogue")
    offers = offers_with_examples(corpus)
    active = corpus.assets.filter(status=AssetStatus.ACTIVE).order_by("id")
    sample = active_assets_pages(corpus, active, 20).get_page(request.GET.get("page"))
    return render(
        request,
        "catalog/public_corpus.html",
        {
            "corpus": corpus,
            "offers": offers,
            "sample": sample,
            "previews": live_previews(corpus),
            "uses": PERMITTED_USES,
        },
    )


def preview_file(request: HttpRequest, preview_id: int) -> HttpResponse:
    """A corpus preview, to whoever may see the corpus; uploads are never served from a public folder."""
    preview = get_object_or_404(PreviewMedia.objects.select_related("corpus", "revision"), pk=preview_id)
    if not preview_visible(preview, request.user):
        raise Http404("No such preview")
    content_type = PREVIEW_CONTENT_TYPES.get(preview.file.name.rsplit(".", 1)[-1].lower())
    if content_type is None:  # stored before uploads were checked: not served
        raise Http404("No such preview")
    public = preview.corpus.status == CorpusStatus.PUBLISHED and preview.live
    # A stored preview never changes (a new upload is a new name), so its name is its version. Caches may keep
    # it but must ask each time: a preview taken down (a face without a release) is gone at the next view.
    etag = f'"{preview.pk}-{preview.file.name.rsplit("/", 1)[-1]}"'
    if public and etag in request.headers.get("If-None-Match", ""):
        response = HttpResponseNotModified()
    else:
        response = FileResponse(preview.file.open("rb"), content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "public, no-cache" if public else "private, no-store"
    if public:
        response["ETag"] = etag
    return response


def manifest_format(request: HttpRequest) -> HttpResponse:
    """How to write a manifest, next to the example files: the columns, and what an upload does."""
    columns = [
        {"name": name, "required": name in REQUIRED, "help": help_text, "csv": csv_example, "json": json_example}
        for name, (help_text, csv_example, json_example) in COLUMN_GUIDE.items()
    ]
    return render(
        request,
        "catalog/manifest_format.html",
        {"columns": columns, "max_bytes": settings.MANIFEST_MAX_BYTES},
    )
