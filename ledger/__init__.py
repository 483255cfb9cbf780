"""A double-entry ledger engine that knows nothing of the marketplace.

Other code talks to it only through :mod:`ledger.services` and the plain
types in :mod:`ledger.types` and :mod:`ledger.money`; it never writes the
ledger's tables itself.
"""
