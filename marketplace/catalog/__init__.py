"""The catalogue: corpora, assets, manifest imports, withdrawals and licence offers."""
