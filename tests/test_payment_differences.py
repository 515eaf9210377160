"""The payments page tells an overpayment from a short payment (issue 14): a line that
pays less than its invoice is applied and the balance is chased; a line that pays more is
not applied, and the clerk is told not to chase but to ask or refund. The API says which
(`difference`). On SQLite and PostgreSQL (the payment lines are stored)."""

from __future__ import annotations

import re

import pytest

from tests.office_world import world  # noqa: F401
from tests.storage import engine  # noqa: F401
from tests.test_desk_claims import figure, upload
from tests.test_desk_files import assistance_month, desk_client, text

FILE = (
    "reference;amount;date;party\n"
    "{claim};300,00;2026-03-30;ASSIST-A\n"  # 250.00 owed: 50.00 too much, not applied
    "{second};100,00;2026-03-30;ASSIST-A\n"  # 144.00 owed: 44.00 short, applied
)


@pytest.fixture
def month(world, tmp_path):  # noqa: F811
    return assistance_month(world, tmp_path)


def test_overpaid_and_short_lines_have_their_own_words_and_actions(world, month):  # noqa: F811
    client = desk_client(world)
    done = upload(client, FILE.format(claim=month.claim, second=month.second))
    assert done.status_code == 302
    page = text(client.get(done.headers["Location"]))
    assert figure(page, "amount_differs") == "2"
    rows = dict(
        (int(n), body)
        for n, body in re.findall(
            r'<tr data-outcome="amount_differs" data-line="(\d+)">(.*?)</tr>', page, re.S
        )
    )
    over, short = rows[2], rows[3]
    assert 'data-difference="overpaid"' in over and "Trop payé" in over
    assert "Ne relancez pas" in over and "relancez pour le solde" not in over.lower()
    assert 'data-difference="short"' in short
    assert "Payé en partie : 100,00 € appliqués, il reste 44,00 € dus." in short
    assert "Relancez pour le solde." in short
    english = text(client.get(done.headers["Location"] + "&lang=en"))
    assert "Overpaid: more than the invoice owed, nothing was applied" in english
    assert "Short payment: 100.00" in english or "Short payment: €100.00" in english

    listed = world.office.get(
        "/api/v1/payments/mismatches", headers=world.as_user("bureau")
    ).get_json()
    by_line = {m["line_no"]: m for m in listed}
    assert (by_line[2]["difference"], by_line[2]["applied"]) == ("overpaid", "0.00")
    assert (by_line[3]["difference"], by_line[3]["applied"]) == ("short", "100.00")
