"""The ledger in Django's admin: read-only. Corrections are reversals, made in code."""

from django.contrib import admin
from django.contrib.admin.views.main import SEARCH_VAR
from django.core.paginator import Page, Paginator
from django.db.models import Q
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.text import smart_split, unescape_string_literal

from ledger.models import Account, AccountDay, ChainBlock, JournalEntry, PeriodClose, Posting, PostingRow
from ledger.money import Money, dr_cr
from ledger.services import balances as ledger_reads


def _utc(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "—"


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class PostingInline(admin.TabularInline):
    model = Posting
    fields = ("leg_index", "account", "debit", "credit", "account_balance")
    readonly_fields = fields
    ordering = ["leg_index"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Debit")
    def debit(self, obj: Posting) -> str:
        return Money(obj.amount, obj.currency).format() if obj.amount > 0 else ""

    @admin.display(description="Credit")
    def credit(self, obj: Posting) -> str:
        return Money(-obj.amount, obj.currency).format() if obj.amount < 0 else ""

    @admin.display(description="Account balance after")
    def account_balance(self, obj: Posting) -> str:
        return dr_cr(obj.balance_after, obj.currency, code=True)


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    # The money first: at laptop widths the filter sidebar pushes the last columns off-screen.
    list_display = ["code", "currency", "type", "balance", "posting_count", "name", "party_ref", "forbid_negative"]
    list_filter = ["type", "currency", "forbid_negative"]
    search_fields = ["code", "name", "party_ref"]

    @admin.display(description="Balance now", ordering="net")
    def balance(self, obj: Account) -> str:
        return dr_cr(obj.net, obj.currency, code=True)


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyAdmin):
    list_display = ["id", "effective_date", "posted", "description", "idempotency_key", "reverses"]
    fields = ("effective_date", "posted", "description", "metadata", "idempotency_key", "reverses", "leg_count",
              "content_hash", "request_hash")  # fmt: skip
    readonly_fields = fields
    list_filter = ["effective_date"]
    search_fields = ["description", "idempotency_key"]
    inlines = [PostingInline]
    show_full_result_count = False

    @admin.display(description="Posted at", ordering="posted_at")
    def posted(self, obj: JournalEntry) -> str:
        return _utc(obj.posted_at)


def _accounts_in(currency: str | None, search: str) -> list[int] | None:
    """The accounts a posting list is narrowed to by currency and by words in their code or name (every word must
    match, as the admin's search does), or None for all of them."""
    if not currency and not search.strip():
        return None
    accounts = Account.objects.all()
    if currency:
        accounts = accounts.filter(currency=currency)
    for word in smart_split(search):
        if word[0] in "\"'" and word[-1] == word[0] and len(word) > 1:
            word = unescape_string_literal(word)  # "a phrase" in quotes, as the admin's own search reads it
        accounts = accounts.filter(Q(code__icontains=word) | Q(name__icontains=word))
    return list(accounts.order_by("id").values_list("id", flat=True))


class _CurrencyFilter(admin.SimpleListFilter):
    title = "currency"
    parameter_name = "currency"

    def lookups(self, request, model_admin):
        currencies = Account.objects.order_by("currency").values_list("currency", flat=True).distinct()
        return [(c, c) for c in currencies]  # from the accounts: the legs themselves are millions of rows

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(account_id__in=_accounts_in(self.value(), ""))
        return queryset


class _LegPaginator(Paginator):
    """Pages of every posting, newest entry first, read from the indexes of both forms of a leg; the count is
    the accounts' stored posting counts. Django's own paginator sorted and counted the whole view."""

    def __init__(self, per_page: int, accounts: list[int] | None) -> None:
        super().__init__([], per_page)
        self.accounts = accounts

    @cached_property
    def count(self) -> int:
        return ledger_reads.legs_count(accounts=self.accounts)

    def page(self, number):
        number = self.validate_number(number)
        offset = (number - 1) * self.per_page
        wanted = ledger_reads.legs_newest_first(accounts=self.accounts, offset=offset, limit=self.per_page)
        legs = {
            (leg.entry_id, leg.leg_index): leg
            for leg in Posting.objects.filter(entry_id__in={entry for entry, _ in wanted}).select_related(
                "entry", "account"
            )
        }
        return Page([legs[key] for key in wanted if key in legs], number, self)


@admin.register(Posting)
class PostingAdmin(ReadOnlyAdmin):
    """Every posting, newest first; an account's own are on its finance page with running balances.

    At millions of legs every read goes through an index: pages from ``legs_newest_first``, the count from the
    accounts, the filters and the search narrowed to accounts, and no column sorts (any other order would sort the
    whole ledger)."""

    list_display = ["entry_link", "leg_index", "account", "debit", "credit", "account_balance"]
    fields = ("entry_link", "leg_index", "account", "debit", "credit", "account_balance")  # amounts as money
    readonly_fields = fields
    list_display_links = None
    list_select_related = ["entry", "account"]
    ordering = ["-entry_id", "leg_index"]  # a list of one page or less is read through the view, narrowed
    list_filter = [_CurrencyFilter]
    search_fields = ["account__code"]  # shows the search box; get_search_results narrows to accounts
    search_help_text = "Words in the account's code or name."
    sortable_by = ()
    list_per_page = 100
    list_max_show_all = 100  # beyond one page, "show all" would read the view whole
    show_full_result_count = False

    debit = PostingInline.debit
    credit = PostingInline.credit
    account_balance = PostingInline.account_balance

    @admin.display(description="Entry")
    def entry_link(self, obj: Posting) -> str:
        url = reverse("admin:ledger_journalentry_change", args=[obj.entry_id])
        return format_html('<a href="{}">{}</a>', url, obj.entry)

    def lookup_allowed(self, lookup, value, request=None):
        """No filter but the currency and the search: the pages are read by account, and any other condition in
        the address would be shown with every leg and the unfiltered count. Django answers it with a 400."""
        return lookup == _CurrencyFilter.parameter_name

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        return queryset.filter(account_id__in=_accounts_in(None, search_term)), False

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        return _LegPaginator(
            per_page, _accounts_in(request.GET.get(_CurrencyFilter.parameter_name), request.GET.get(SEARCH_VAR, ""))
        )

    def get_object(self, request, object_id, from_field=None):
        """Found by its entry and leg, through their indexes: a lookup by id alone scans every entry, since a leg
        kept on its entry's row has the computed id -(2 * entry + leg)."""
        try:
            pk = int(object_id)
        except (TypeError, ValueError):
            return None
        found = (
            divmod(-pk, 2) if pk < 0 else PostingRow.objects.filter(pk=pk).values_list("entry_id", "leg_index").first()
        )
        if found is None:
            return None
        entry, leg = found
        posting = Posting.objects.filter(entry_id=entry, leg_index=leg).select_related("entry", "account").first()
        return posting if posting is not None and posting.pk == pk else None  # one id per leg, as listed


@admin.register(AccountDay)
class AccountDayAdmin(ReadOnlyAdmin):
    """The per-day totals that as-of-date balances sum (the newest day of each account is on its row)."""

    list_display = ["account", "day", "day_net", "postings"]
    list_select_related = ["account"]
    search_fields = ["account__code"]
    list_filter = ["day"]  # not a date drill-down: its list of years read every day row
    show_full_result_count = False

    @admin.display(description="Net", ordering="net")
    def day_net(self, obj: AccountDay) -> str:
        return dr_cr(obj.net, obj.account.currency, code=True)


@admin.register(PeriodClose)
class PeriodCloseAdmin(ReadOnlyAdmin):
    list_display = ["through_date", "closed", "closed_by", "note"]

    @admin.display(description="Closed at", ordering="closed_at")
    def closed(self, obj: PeriodClose) -> str:
        return _utc(obj.closed_at)


@admin.register(ChainBlock)
class ChainBlockAdmin(ReadOnlyAdmin):
    list_display = ["id", "first_seq", "last_seq", "entry_count", "head_hash", "sealed"]

    @admin.display(description="Sealed at", ordering="sealed_at")
    def sealed(self, obj: ChainBlock) -> str:
        return _utc(obj.sealed_at)
