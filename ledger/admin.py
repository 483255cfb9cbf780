"""The ledger in Django's admin: read-only. Corrections are reversals, made in code."""

from django.contrib import admin

from ledger.models import Account, AccountDay, ChainBlock, JournalEntry, PeriodClose, Posting
from ledger.money import Money, dr_cr


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
    list_display = ["code", "currency", "type", "name", "party_ref", "forbid_negative", "balance", "posting_count"]
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
    date_hierarchy = "effective_date"
    inlines = [PostingInline]
    show_full_result_count = False

    @admin.display(description="Posted at", ordering="posted_at")
    def posted(self, obj: JournalEntry) -> str:
        return _utc(obj.posted_at)


@admin.register(Posting)
class PostingAdmin(ReadOnlyAdmin):
    """Every posting, newest first; an account's own are on its finance page with running balances."""

    list_display = ["entry", "leg_index", "account", "debit", "credit", "account_balance"]
    list_filter = ["currency"]
    list_select_related = ["entry", "account"]
    search_fields = ["account__code"]
    ordering = ["-entry_id", "leg_index"]
    show_full_result_count = False

    debit = PostingInline.debit
    credit = PostingInline.credit
    account_balance = PostingInline.account_balance


@admin.register(AccountDay)
class AccountDayAdmin(ReadOnlyAdmin):
    """The per-day totals that as-of-date balances sum (the newest day of each account is on its row)."""

    list_display = ["account", "day", "day_net", "postings"]
    list_select_related = ["account"]
    search_fields = ["account__code"]
    date_hierarchy = "day"
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
