"""Finance: the operator's view of the books. It reads and writes the ledger
only through :mod:`ledger.services`."""
