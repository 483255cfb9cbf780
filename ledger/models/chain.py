"""The tamper-evident chain, sealed asynchronously.

Each sealed entry gets a ``ChainSeal`` whose hash covers the previous seal's
hash, the entry id and the entry's content hash. A seal run is recorded as a
``ChainBlock``; on PostgreSQL it covers every entry written by transactions
whose ids lie in ``[from_tx, to_tx)``, all finished when the block was sealed.
"""

from django.db import models


class ChainBlock(models.Model):
    from_tx = models.BigIntegerField(null=True, blank=True)
    to_tx = models.BigIntegerField(null=True, blank=True)
    first_seq = models.BigIntegerField()
    last_seq = models.BigIntegerField()
    head_hash = models.CharField(max_length=64)
    entry_count = models.IntegerField()
    sealed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "ledger_chain_block"
        ordering = ["id"]

    def __str__(self) -> str:
        return f"block {self.pk}: seals {self.first_seq}-{self.last_seq}"


class ChainSeal(models.Model):
    seq = models.BigIntegerField(primary_key=True)
    # A plain integer, not a foreign key: a deleted entry must still be nameable.
    entry_id = models.BigIntegerField(unique=True)
    block = models.ForeignKey(ChainBlock, on_delete=models.PROTECT, related_name="seals")
    chain_hash = models.CharField(max_length=64)

    class Meta:
        db_table = "ledger_chain_seal"
        ordering = ["seq"]

    def __str__(self) -> str:
        return f"seal {self.seq} of entry {self.entry_id}"
