"""The ledger in Django's admin: read-only. Corrections are reversals, made in code."""

from django.contrib import admin

from ledger.models import Account, ChainBlock, JournalEntry, PeriodClose, Posting


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class PostingInline(admin.TabularInline):
    model = Posting
    fields = ("leg_index", "account", "currency", "amount", "balance_after")
    readonly_fields = ("leg_index", "account", "currency", "amount", "balance_after")
    ordering = ["leg_index"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ["code", "currency", "type", "name", "party_ref", "forbid_negative", "net", "posting_count"]
    list_filter = ["type", "currency", "forbid_negative"]
    search_fields = ["code", "name", "party_ref"]


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyAdmin):
    list_display = ["id", "effective_date", "posted_at", "description", "idempotency_key", "reverses"]
    list_filter = ["effective_date"]
    search_fields = ["description", "idempotency_key"]
    date_hierarchy = "effective_date"
    inlines = [PostingInline]
    show_full_result_count = False


@admin.register(PeriodClose)
class PeriodCloseAdmin(ReadOnlyAdmin):
    list_display = ["through_date", "closed_at", "closed_by", "note"]


@admin.register(ChainBlock)
class ChainBlockAdmin(ReadOnlyAdmin):
    list_display = ["id", "first_seq", "last_seq", "entry_count", "head_hash", "sealed_at"]
