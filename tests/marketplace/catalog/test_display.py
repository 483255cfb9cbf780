"""Totals on catalogue pages: readable, and never rounded to nothing."""

from decimal import Decimal

import pytest

from marketplace.web.templatetags.display import exact_seconds, manifest_value, plain_decimal, running_time


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (Decimal("104.500"), "1 min 44.5 s"),
        (Decimal("0"), "0 s"),
        (Decimal("0.040"), "under 0.1 s"),
        (Decimal("0.050"), "0.1 s"),
        (Decimal("59.999"), "1 min 0 s"),
        (Decimal("120"), "2 min 0 s"),
        (Decimal("7500"), "2 h 05 min"),
        (Decimal("35999.999"), "10 h 00 min"),
        (Decimal("4335420"), "1,204.3 h"),
        (None, ""),
    ],
)
def test_running_time(seconds, shown):
    assert running_time(seconds) == shown


def test_exact_seconds_keeps_the_stored_figure():
    assert exact_seconds(Decimal("104.500")) == "104.5 seconds"
    assert exact_seconds(Decimal("4335420.125")) == "4,335,420.125 seconds"
    assert exact_seconds(Decimal("1.000")) == "1 second"


def test_stored_decimals_lose_their_padding():
    assert [plain_decimal(v) for v in (Decimal("29.970"), Decimal("50.000"), Decimal("0.001"), 25.0, None)] == [
        "29.97", "50", "0.001", "25", "",
    ]  # fmt: skip


def test_changed_values_read_as_a_manifest_writes_them():
    shares = [{"org": "harbour-stock", "bp": 2000}, {"org": "northlight-studios", "bp": 8000}]
    assert manifest_value(shares, "co_owners") == "harbour-stock:20; northlight-studios:80"
    assert manifest_value([], "co_owners") == "the corpus' shares"
    assert manifest_value([{"start": "1", "end": "2.5", "reason": "brand"}], "clip_exclusions") == "1-2.5:brand"
    assert manifest_value([], "clip_exclusions") == "none"
    assert manifest_value(["DE", "FR"], "territories") == "DE FR"
    assert manifest_value([], "territories") == "the corpus' territory"
    assert (manifest_value("", "language"), manifest_value(None, "rights_expiry")) == ("—", "—")
    assert manifest_value("2031-12-31", "rights_expiry") == "2031-12-31"
