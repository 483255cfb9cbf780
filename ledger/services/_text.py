"""Text the ledger refuses the same way on both databases."""

import re

# Text PostgreSQL cannot store (NUL) or that no encoding can hold (a lone surrogate); SQLite would store either.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Also no control characters (a line break, a tab): an account code is a URL path segment and a spreadsheet cell on
# the finance pages, and names and party references are shown there and handed to callers.
UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
