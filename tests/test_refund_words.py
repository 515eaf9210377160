"""Money a customer really paid is never called fictitious (issue 14): after a dispute is
accepted and the price falls, or when the tablet itself asked for the money, what was
collected beyond what is now due is an over-collection to refund, and its sentence says
exactly which document the refund gives the customer."""

from __future__ import annotations

from server.office.reconcile_rules import card_findings, mission_findings
from tests.test_reconcile_rules import facts, item


def found(f):  # type: ignore[no-untyped-def]
    return [(x.kind, x.amount_cents) for x in mission_findings(f)]


def money_findings(f):  # type: ignore[no-untyped-def]
    """The findings about money (a dispute is its own anomaly, beside them)."""
    return [x for x in mission_findings(f) if x.kind != "dispute_raised"]


def test_a_collection_nobody_asked_for_is_still_fictitious():
    cheque = item("collection", method="cheque", amount="40.00")
    [finding] = mission_findings(facts(0, cheque, device_due=0))
    assert (finding.kind, finding.amount_cents) == ("fictitious_collection", 4000)
    assert "refund receipt is issued" in finding.text.en
    assert "reçu de remboursement est émis" in finding.text.fr


def test_after_an_accepted_dispute_the_price_falls_to_nothing_an_over_collection():
    cheque = item("collection", method="cheque", amount="96.00", cheque_number="0012345")
    dispute = item("dispute", reason="Le treuillage était compris")
    # The tablet valued 96.00, collected the cheque; the dispute accepted, nothing is due.
    [finding] = money_findings(facts(0, cheque, dispute, device_due=9600))
    assert (finding.kind, finding.amount_cents) == ("over_collection", 9600)
    assert finding.text.en.startswith("Over-collection to refund: the dispute was accepted")
    assert "fictitious" not in finding.text.en.lower()
    assert "fictif" not in finding.text.fr.lower()
    assert "voiding the last collection" in finding.text.en
    assert "a credit note is issued for what it bills beyond what is due" in finding.text.en
    # The tablet later values the mission at nothing too: still a refund, not fictitious.
    assert ("over_collection", 9600) in found(facts(0, cheque, dispute, device_due=0))
    assert "fictitious_collection" not in [k for k, _ in found(facts(0, cheque, dispute))]


def test_after_an_accepted_dispute_the_price_falls_the_excess_is_to_refund():
    cash = item("collection", method="cash", amount="96.00")
    dispute = item("dispute", reason="Trop cher")
    [finding] = money_findings(facts(6000, cash, dispute, device_due=9600))
    assert (finding.kind, finding.amount_cents) == ("over_collection", 3600)
    assert "price fell to 60.00" in finding.text.en.replace("€", "").replace("\u202f", " ")


def test_money_the_tablet_asked_for_where_the_server_says_nothing_is_due():
    card = item("collection", method="card", amount="50.00", terminal_ref="AUT-1")
    assert found(facts(0, card, device_due=5000)) == [("over_collection", 5000)]


def test_a_discount_alone_beyond_nothing_due_is_no_over_collection():
    discount = item("discount", amount="10.00", approval_ref="1:ABCDEFGHJK")
    assert "over_collection" not in [k for k, _ in found(facts(0, discount, device_due=5000))]


def test_a_card_reference_is_shown_as_the_receipt_prints_it_and_matched_normalised():
    card = item("collection", method="card", amount="96.00", terminal_ref="aut-77 31")
    [finding] = card_findings([card], {})
    assert "“aut-77 31”" in finding.text.en and "« aut-77 31 »" in finding.text.fr
    assert finding.evidence["terminal_ref"] == "aut-77 31"
    # The settlement line written another way still matches it.
    assert card_findings([card], {("AUT7731", 9600): 1}) == []
