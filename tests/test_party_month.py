"""A scripted month for one ordering party, Assistance A, end to end through the real
interfaces (its API key, the office's API and desk, a driver's tablet that syncs, the
nightly command), on SQLite and PostgreSQL (issue 8, "Must hold").

Fifteen files over twenty days: orders with the party's recurring mistakes (miles from
its UK platform, its own service codes, then a code the office fixed by hand and made a
rule of), messages in the order the real world sends them (an opening request first, a
follow-up before its order, a cancellation that overtakes its order, a follow-up after
the invoice was sent, a payment advice before the validation, a duplicated order and a
duplicated message), a rejection corrected by a credit note and re-sent, a change of
provider after the invoice, two files cancelled by hand (one reopened by a message),
then payments back: an advice file through the API (exact, duplicate, partial, by file
number, unknown) and a bank statement through the nightly command (exact, too much,
a debit, unknown).

At the end: (1) every file is where the lifecycle table says — its recorded events
replayed through `shared.file_lifecycle.replay`, and the state written here by hand
from docs/file-lifecycle.md; (2) every euro of every claim is accounted for (amount =
paid + credited + open), the claims add up to the invoices minus the credit notes, the
receivables to the open amounts, and every payment line is on a claim or listed as a
mismatch; (3) every cleaning correction is on its file with its rule and version, and
the missions carry the cleaned values; (4) the duplicated order, message and payment
file changed nothing."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from click.testing import CliRunner

from server.cli.main import main as towline_server
from server.platform.tables import orders
from shared import file_lifecycle as lifecycle
from tests.office_world import World, world  # noqa: F401
from tests.party_month_support import (
    PARTY,
    RULES_V1,
    Office,
    Party,
    applied_by_line,
    at,
    database_url,
    drive,
    drop,
    lifecycle_rows,
    log_entries,
    order,
    payment_rows,
    snapshot,
    stored_files,
    take_photo,
)
from tests.storage import engine  # noqa: F401

D = Decimal

A1, A2, A3, A4, A5 = "A-2026-0301", "A-UK-0302", "A-2026-0303", "A-2026-0304", "A-2026-0305"
A6, A7, A8, A9, A10 = "A-2026-0306", "A-2026-0307", "A-2026-0308", "A-2026-0309", "A-2026-0310"
A11, A12, A13, A14, A15 = (
    "A-2026-0311",
    "A-2026-0312",
    "A-2026-0313",
    "A-2026-0314",
    "A-2026-0315",
)

# The party's own names for its messages: the office's warnings quote them.
OPENING = "Demande d'ouverture de dossier"
SD54 = "SD 54 Modification du dossier"
SD36 = "SD 36 Validation de la facture"
SD37 = "SD 37 Rejet de la facture"
SD25 = "SD 25 Annulation de la mission"
SD32 = "SD 32 Changement de prestataire"
AP = "AP Avis de paiement"


def mission(file_number: str, sequence: int = 1) -> str:
    return f"{PARTY}.{file_number}.{sequence}"


# (1) Where each file must end, written by hand from the table of docs/file-lifecycle.md:
# its lifecycle events in the order they were recorded, its state, and its warning.
CHANGED = "Des changements sont intervenus sur le dossier : {}"
EXPECTED: dict[str, tuple[list[str], str, str | None]] = {
    # ordered, invoiced, sent, validated, paid by the advice file
    A1: (
        ["order", "used_in_document", "document_sent", "invoice_validated", "payment_advice"],
        "done",
        None,
    ),
    # opened first; rejected after sending (back to integrated), credited in part and
    # sent again, validated, paid the rest
    A2: (
        [
            "opening_request",
            "order",
            "used_in_document",
            "document_sent",
            "invoice_rejected",
            "document_sent",
            "invoice_validated",
            "payment_advice",
        ],
        "done",
        None,
    ),
    # a follow-up after sending: back to integrated, the warning names the message
    A3: (
        ["order", "used_in_document", "document_sent", "follow_up"],
        "integrated",
        CHANGED.format(SD54),
    ),
    # the party's payment advice before its validation: done, and the late validation
    # and the payment matched later leave it done, silently
    A4: (
        [
            "order",
            "used_in_document",
            "document_sent",
            "payment_advice",
            "invoice_validated",
            "payment_advice",
        ],
        "done",
        None,
    ),
    # the order sent twice (recorded once), validated, paid in part
    A5: (
        ["order", "used_in_document", "document_sent", "invoice_validated"],
        "awaiting_payment",
        None,
    ),
    # cancelled by the party before the driver started
    A6: (["order", "order_cancelled"], "done", None),
    # the provider changed after the invoice was sent; the invoice credited in full
    A7: (
        ["order", "used_in_document", "document_sent", "provider_changed", "credit_note_issued"],
        "done",
        "Le donneur d'ordre a clos le dossier alors qu'une facture le porte : "
        f"{SD32}. Si elle ne sera pas payée, annulez-la par un avoir.",
    ),
    # only an opening request, cancelled by hand
    A8: (["opening_request", "cancelled_by_hand"], "cancelled", None),
    # a follow-up about a file not heard of (waiting), its order later; sent
    A9: (["follow_up", "order", "used_in_document", "document_sent"], "sent", None),
    # the cancellation overtook the order: done, and the order is shown as without effect
    A10: (
        ["order_cancelled", "order"],
        "done",
        "Message reçu sur un dossier terminé, sans effet : Ordre de mission",
    ),
    # two missions (the first amended before the tablet valued it), two invoices, one
    # validation for both (duplicated), one of the two paid: not done yet
    A11: (
        [
            "order",
            "order",
            "order",
            "used_in_document",
            "used_in_document",
            "document_sent",
            "document_sent",
            "invoice_validated",
        ],
        "awaiting_payment",
        None,
    ),
    # fixed by hand at intake (then made a rule), validated, paid by the bank
    A12: (
        ["order", "used_in_document", "document_sent", "invoice_validated", "payment_advice"],
        "done",
        None,
    ),
    A13: (["opening_request"], "waiting_for_order", None),
    A14: (["order"], "not_integrated", None),
    # cancelled by hand, reopened by the party's next message
    A15: (
        ["opening_request", "cancelled_by_hand", "follow_up"],
        "not_integrated",
        f"Dossier annulé à la main, rouvert par le message : {SD54}",
    ),
}


def corrections(answer: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (c["rule"], c["version"], c["path"], c.get("before"), c.get("after"))
        for c in answer["corrections"]
    ]


def test_a_month_of_one_ordering_party_every_file_and_every_euro(
    world: World,  # noqa: F811
    tmp_path: Path,
) -> None:
    w = world
    office = Office(w)

    def day(number: int, hour: int = 9) -> None:
        w.clock.now = at(number, hour)
        w.tokens.clear()  # the office signs in again each day

    karim = w.tablet(tmp_path / "karim", "d1", "1111")  # enrolled while his code is fresh

    # --- day 0 (Tue 10 March): the office sets the party up -----------------------------------
    day(0)
    key = office.call(
        "post",
        f"/api/v1/parties/{PARTY}/api-keys",
        {"label": "Plateforme A"},
        who="admin",  # API keys have their own right (manage_party_keys)
        status=201,
    )["key"]
    party = Party(w, key)
    v1 = office.call(
        "post", f"/api/v1/parties/{PARTY}/cleaning-rules", {"document": RULES_V1}, status=201
    )
    assert v1["version"] == 1
    required = office.call(
        "put",
        f"/api/v1/ordering-parties/{PARTY}/claim-requirements",
        {"kinds": ["invoice_pdf", "vehicle_photo"]},
    )
    assert required["kinds"] == ["invoice_pdf", "vehicle_photo"]
    w.sync(karim)
    karim.register_open(D("0.00"))

    opened = party.message(A2, "AA-0001", "opening_request", OPENING)
    assert (opened["state_before"], opened["state"]) == (None, "waiting_for_order")
    first = party.order(order(A1, "AA-0002", 0))
    assert (first["outcome"], first["mission_id"], corrections(first)) == (
        "created",
        mission(A1),
        [],
    )
    early = party.message(A9, "AA-0003", "follow_up", SD54)  # before its order: waiting
    assert (early["state_before"], early["state"]) == (None, "waiting_for_order")
    office.assign(mission(A1))

    # --- day 1: orders with the party's mistakes; the driver's first jobs ----------------------
    day(1)
    uk = party.order(order(A2, "AA-0004", 1, services=["REMORQ"], en_route="10", loaded="100"))
    assert uk["state"] == "not_integrated"  # the order moved the waiting file on
    assert corrections(uk) == [
        ("km-miles", 1, "distance_km.en_route", "10", "16"),
        ("km-miles", 1, "distance_km.loaded", "100", "161"),
        ("codes-maison", 1, "services.0.code", "REMORQ", "TOW"),
    ]
    winch = party.order(order(A3, "AA-0005", 1, services=["REMORQ", "TREUIL"]))
    assert corrections(winch) == [
        ("codes-maison", 1, "services.0.code", "REMORQ", "TOW"),
        ("codes-maison", 1, "services.1.code", "TREUIL", "WIN"),
    ]
    a5_order = order(A5, "AA-0006", 1, loaded="20")
    assert party.order(a5_order)["outcome"] == "created"
    before = snapshot(w.engine)
    again = party.order(a5_order, status=200)  # the party's system sends it twice
    assert again["duplicate"] is True and again["outcome"] == "created"
    assert snapshot(w.engine) == before, "a duplicated order changed something"
    for m in (mission(A2), mission(A3), mission(A5)):
        office.assign(m)
    w.sync(karim)
    drive(karim, mission(A1))
    drive(karim, mission(A2), collect="93.80")  # beyond the 250.00 cap: the customer pays
    drive(karim, mission(A3), collect="96.00")  # winching without an accident: likewise
    drive(karim, mission(A5), photo=False)  # he forgets the photo
    w.sync(karim)  # the closings reach the office: the invoices are issued

    invoices = {}
    for file_number, party_share, customer_share in (
        (A1, "144.00", None),
        (A2, "250.00", "93.80"),
        (A3, "144.00", "96.00"),
        (A5, "144.00", None),
    ):
        issued = office.invoices(mission(file_number))
        assert issued["ordering_party"]["total"]["incl_vat"] == party_share, file_number
        if customer_share is None:
            assert "beneficiary" not in issued, file_number
        else:
            customer = office.call("get", f"/api/v1/documents/{issued['beneficiary']['number']}")
            assert customer["total"]["incl_vat"] == customer_share
            assert customer["balance"]["open"] == "0.00"  # collected on the spot
        invoices[file_number] = issued["ordering_party"]["number"]
    inv1, inv2, inv3, inv5 = invoices[A1], invoices[A2], invoices[A3], invoices[A5]
    for number in (inv1, inv2, inv3):
        assert office.claim(number, "create", "submit")["status"] == "to_validate"
    office.claim(inv5, "create")
    before = snapshot(w.engine)
    missing = office.call("post", f"/api/v1/claims/{inv5}/submit", status=409)
    assert missing["code"] == "documents_missing"
    assert missing["message"].startswith(f"Pièces manquantes pour la demande {inv5} : photo")
    assert snapshot(w.engine) == before, "a refused submission changed something"

    # --- day 2: the photo; an overtaken order; an amended one; a cancellation -----------------
    day(2)
    take_photo(karim, mission(A5))
    w.sync(karim)
    assert office.claim(inv5, "submit")["status"] == "to_validate"
    party.message(A8, "AA-0007", "opening_request", OPENING)
    party.order(order(A4, "AA-0008", 2, loaded="40"))
    party.order(order(A6, "AA-0009", 2))
    overtaking = party.message(A10, "AA-0010", "order_cancelled", SD25)
    assert (overtaking["state_before"], overtaking["state"]) == (None, "done")
    late = party.order(order(A10, "AA-0011", 2))
    assert (late["outcome"], late["mission_id"], late["state"]) == ("not_created", None, "done")
    party.order(order(A11, "AA-0012", 2, loaded="25"))
    amended = party.order(order(A11, "AA-0013", 2, loaded="30"))  # the party corrects it
    assert (amended["outcome"], amended["mission_id"]) == ("amended", mission(A11))
    party.order(order(A11, "AA-0014", 2, sequence=2, plate="GH-482-KL"))  # the tow home
    for m in (mission(A4), mission(A6), mission(A11), mission(A11, 2)):
        office.assign(m)
    w.sync(karim)
    stopped = party.message(A6, "AA-0015", "order_cancelled", SD25)
    assert stopped["state"] == "done" and stopped["missions_cancelled"] == [mission(A6)]
    w.sync(karim)
    assert karim.view(mission(A6)).cancelled_by_office  # the driver knows not to go
    drive(karim, mission(A4))
    drive(karim, mission(A11))
    drive(karim, mission(A11, 2))
    w.sync(karim)

    # --- day 3: a code the rules do not know, fixed by hand, made a rule ----------------------
    day(3)
    dsp = party.order(order(A12, "AA-0016", 3, services=["DSP"], loaded=None, en_route="8"))
    assert corrections(dsp) == []
    document = office.call("get", f"/api/v1/missions/{mission(A12)}")["document"]
    assert document["services"] == [{"code": "DSP"}]
    document["services"] = [{"code": "REP"}]
    fixed = office.call(
        "post",
        f"/api/v1/missions/{mission(A12)}/manual-clean",
        {"document": document, "reason": "DSP = dépannage sur place (REP)"},
    )
    assert fixed["changes"] == [{"path": "services.0.code", "before": "DSP", "after": "REP"}]
    proposal = office.call(
        "post", f"/api/v1/missions/{mission(A12)}/rule-from-fix", {"rule_id": "codes-depannage"}
    )
    assert proposal["left_out"] == [] and proposal["draft"]["version"] == 2
    assert proposal["rule"]["then"] == [
        {"map": {"path": "services.*.code", "table": {"DSP": "REP"}}}
    ]
    v2 = office.call(
        "post",
        f"/api/v1/parties/{PARTY}/cleaning-rules",
        {"document": proposal["draft"]},
        status=201,
    )
    assert v2["version"] == 2 and v2["digest"] != v1["digest"]
    party.order(order(A7, "AA-0017", 3))
    office.assign(mission(A12))
    office.assign(mission(A7))
    w.sync(karim)
    drive(karim, mission(A12), repair=True)
    drive(karim, mission(A7))
    w.sync(karim)
    for file_number, sequence in ((A4, 1), (A11, 1), (A11, 2), (A12, 1), (A7, 1)):
        number = office.invoices(mission(file_number, sequence))["ordering_party"]["number"]
        invoices[f"{file_number}.{sequence}"] = number
    inv4, inv7, inv12 = invoices[f"{A4}.1"], invoices[f"{A7}.1"], invoices[f"{A12}.1"]
    inv11a, inv11b = invoices[f"{A11}.1"], invoices[f"{A11}.2"]
    for number in (inv4, inv11a, inv11b, inv12, inv7):
        assert office.claim(number, "create", "submit")["status"] == "to_validate"

    followed = party.message(A3, "AA-0018", "follow_up", SD54)  # after the invoice was sent
    assert (followed["state_before"], followed["state"]) == ("sent", "integrated")
    assert followed["warning"]["fr"] == CHANGED.format(SD54)
    assert SD54 in followed["warning"]["en"]
    valid1 = party.message(A1, "AA-0019", "invoice_validated", SD36, invoice_number=inv1)
    assert valid1["state"] == "awaiting_payment"
    assert valid1["claims"] == [{"invoice_number": inv1, "status": "validated"}]
    reasons = ["Kilométrage au-delà de l'accord : 20,00 € TTC à déduire"]
    rejected = party.message(
        A2, "AA-0020", "invoice_rejected", SD37, invoice_number=inv2, reasons=reasons
    )
    assert (rejected["state_before"], rejected["state"]) == ("sent", "integrated")
    assert rejected["claims"] == [{"invoice_number": inv2, "status": "rejected"}]

    # --- day 6 (Mon 16): the rejection corrected and re-sent; a change of provider ------------
    day(6)
    credit2 = office.credit_note(inv2, "Kilométrage ramené à l'accord", "20.00")
    claim2 = office.call("get", f"/api/v1/claims/{inv2}")
    assert (claim2["status"], claim2["credited"], claim2["open"]) == ("rejected", "20.00", "230.00")
    assert claim2["rejection"]["reasons"] == reasons
    assert office.claim(inv2, "resubmit")["status"] == "to_validate"
    changed = party.message(A7, "AA-0021", "provider_changed", SD32)
    assert (changed["state"], changed["missions_kept"]) == ("done", [mission(A7)])
    assert changed["warning"]["fr"] == EXPECTED[A7][2]
    credit7 = office.credit_note(inv7, "Dossier confié à un autre prestataire")
    assert credit7["total"]["incl_vat"] == "144.00"
    assert office.call("get", f"/api/v1/claims/{inv7}")["status"] == "cancelled"
    party.message(A15, "AA-0022", "opening_request", OPENING)

    # --- day 7: the late order; validations, one after the payment advice; a duplicate -------
    day(7)
    late9 = party.order(order(A9, "AA-0023", 7, services=["DSP"], loaded=None, en_route="6"))
    assert late9["state"] == "not_integrated"
    assert corrections(late9) == [("codes-depannage", 2, "services.0.code", "DSP", "REP")]
    office.assign(mission(A9))
    w.sync(karim)
    drive(karim, mission(A9), repair=True)
    w.sync(karim)
    inv9 = office.invoices(mission(A9))["ordering_party"]["number"]
    assert office.claim(inv9, "create", "submit")["status"] == "to_validate"
    party.message(A2, "AA-0024", "invoice_validated", SD36, invoice_number=inv2)
    advised = party.message(A4, "AA-0025", "payment_advice", AP, invoice_number=inv4)
    assert (advised["state_before"], advised["state"]) == ("sent", "done")
    late_ok = party.message(A4, "AA-0026", "invoice_validated", SD36, invoice_number=inv4)
    assert (late_ok["state"], late_ok["changed"], late_ok["warning"]) == ("done", False, None)
    assert late_ok["claims"] == [{"invoice_number": inv4, "status": "validated"}]
    both = party.message(A11, "AA-0027", "invoice_validated", SD36)  # no number: both
    assert both["state"] == "awaiting_payment"
    assert sorted(c["invoice_number"] for c in both["claims"]) == sorted([inv11a, inv11b])
    before = snapshot(w.engine)
    twice = party.message(A11, "AA-0027", "invoice_validated", SD36)
    assert (twice["duplicate"], twice["state"], twice["claims"]) == (True, "awaiting_payment", [])
    assert snapshot(w.engine) == before, "a duplicated message changed something"
    party.message(A12, "AA-0028", "invoice_validated", SD36, invoice_number=inv12)

    # --- day 10 to 14: a validation; two files cancelled by hand, one reopened ---------------
    day(10)
    party.message(A5, "AA-0029", "invoice_validated", SD36, invoice_number=inv5)
    day(13)
    office.cancel_by_hand(A8, "Le client a été dépanné par un tiers")
    office.cancel_by_hand(A15, "Doublon d'un autre dossier")
    day(14)
    reopened = party.message(A15, "AA-0030", "follow_up", SD54)
    assert (reopened["state_before"], reopened["state"]) == ("cancelled", "not_integrated")

    # --- day 15: the payment advices, through the API ----------------------------------------
    day(15)
    advices = (
        "reference;montant;date;donneur_ordre\n"
        f"{inv1};144,00;2026-03-24;{PARTY}\n"
        f"{inv1};144,00;2026-03-24;{PARTY}\n"  # paid twice
        f"{inv2};230,00;2026-03-24;{PARTY}\n"  # what the credit note left
        f"{inv4};144,00;2026-03-24;{PARTY}\n"
        f"{inv5};100,00;2026-03-24;{PARTY}\n"  # in part
        f"{A11};144,00;2026-03-24;{PARTY}\n"  # by the party's file number
        f"A-2026-0999;80,00;2026-03-24;{PARTY}\n"  # a file that is not ours
    )
    body = {"source": "advice", "file_name": "avis-assist-a-0325.csv", "content": advices}
    imported = office.call("post", "/api/v1/payments/import", body, status=201)
    assert (imported["lines"], imported["matched"], imported["amount_differs"]) == (7, 4, 1)
    assert (imported["unknown_reference"], imported["already_paid"]) == (1, 1)
    assert imported["applied"] == "762.00"
    assert imported["claims_paid"] == [inv1, inv2, inv4, min(inv11a, inv11b)]
    before = snapshot(w.engine)
    refused = office.call("post", "/api/v1/payments/import", body, status=409)
    assert refused["code"] == "payment_file_already_imported"
    assert snapshot(w.engine) == before, "a payment file imported twice changed something"

    # --- day 17: a file opened, an order with last month's mistake ----------------------------
    day(17)
    party.message(A13, "AA-0031", "opening_request", OPENING)
    last = party.order(order(A14, "AA-0032", 17, services=["REMORQ"]))
    assert corrections(last) == [("codes-maison", 2, "services.0.code", "REMORQ", "TOW")]

    # --- day 18 (Sat 28): the bank statement, by the nightly command --------------------------
    day(18, hour=1)
    inbox = tmp_path / "inbox"
    drop(
        inbox,
        "bank",
        "releve-0327.csv",
        "date;libellé;montant\n"
        f"27/03/2026;VIR ASSISTANCE A REGLT {inv12};114,00\n"
        f"27/03/2026;VIR ASSISTANCE A {inv3.replace('-', '')};150,00\n"  # more than owed
        "27/03/2026;FRAIS TENUE DE COMPTE;-35,00\n"  # a debit, not a payment back
        "27/03/2026;VIR ASSISTANCE A REGLT GROUPE 0327;60,00\n",  # no invoice named
    )
    url = database_url(w.engine)
    run = CliRunner().invoke(
        towline_server, ["nightly", "demo", "--inbox", str(inbox), "--database", url, "--json"]
    )
    assert run.exit_code == 0, run.output
    [result] = json.loads(run.output)
    assert result["outcome"] == "imported"
    summary = result["summary"]
    assert (summary["lines"], summary["ignored"], summary["matched"]) == (3, 1, 1)
    assert (summary["amount_differs"], summary["unknown_reference"]) == (1, 1)
    assert (summary["applied"], summary["claims_paid"]) == ("114.00", [inv12])
    assert [p.name for p in (inbox / "demo/bank/done").iterdir()] == ["releve-0327.csv"]
    rerun = CliRunner().invoke(
        towline_server, ["nightly", "demo", "--inbox", str(inbox), "--database", url, "--json"]
    )
    assert (rerun.exit_code, json.loads(rerun.output)) == (0, [])

    # === day 20 (Mon 30 March): the month's accounts ==========================================
    day(20)

    # (1) Every file where the table says, by its own history and by hand.
    files = stored_files(w.engine)
    assert sorted(files) == sorted(EXPECTED)
    for file_number, (events, state, warning) in EXPECTED.items():
        rows = lifecycle_rows(w.engine, file_number)
        assert [r.event for r in rows] == events, file_number
        previous = None
        for r in rows:  # each step is the table's cell, from where the last one left it
            assert r.state_before == previous, (file_number, r.event)
            moved = lifecycle.apply(
                None if previous is None else lifecycle.parse_state(previous),
                lifecycle.parse_event(r.event),
            )
            assert r.state_after == moved.state.value, (file_number, r.event)
            previous = r.state_after
        replayed = lifecycle.replay(lifecycle.parse_event(r.event) for r in rows)
        assert files[file_number].state == replayed.value == state, file_number
        shown = files[file_number].warning
        assert (shown or {}).get("fr") == warning, file_number
    seen = party.file(A4)  # the party sees its own messages, in the order it sent them
    assert seen["state"] == "done"
    assert [m["kind"] for m in seen["messages"]] == [
        "order",
        "payment_advice",
        "invoice_validated",
    ]

    # (2) Every euro of every claim.
    claims = {c["invoice_number"]: c for c in office.call("get", "/api/v1/claims?limit=1000")}
    paid_first = min(inv11a, inv11b)
    expected_claims = {  # status, amount, paid, credited, open
        inv1: ("paid", "144.00", "144.00", "0.00", "0.00"),
        inv2: ("paid", "250.00", "230.00", "20.00", "0.00"),
        inv3: ("to_validate", "144.00", "0.00", "0.00", "144.00"),
        inv4: ("paid", "144.00", "144.00", "0.00", "0.00"),
        inv5: ("validated", "144.00", "100.00", "0.00", "44.00"),
        inv7: ("cancelled", "144.00", "0.00", "144.00", "0.00"),
        inv9: ("to_validate", "114.00", "0.00", "0.00", "114.00"),
        inv11a: ("paid", "144.00", "144.00", "0.00", "0.00"),
        inv11b: ("validated", "144.00", "0.00", "0.00", "144.00"),
        inv12: ("paid", "114.00", "114.00", "0.00", "0.00"),
    }
    if paid_first == inv11b:  # whichever of the two invoices is the older was paid first
        expected_claims[inv11a], expected_claims[inv11b] = (
            expected_claims[inv11b],
            expected_claims[inv11a],
        )
    assert {
        n: (c["status"], c["amount"], c["paid"], c["credited"], c["open"])
        for n, c in claims.items()
    } == expected_claims
    for number, c in claims.items():
        assert c["party_id"] == PARTY
        assert c["refund_due"] == "0.00", number
        assert D(c["amount"]) == D(c["paid"]) + D(c["credited"]) + D(c["open"]), number
    documents = office.call("get", "/api/v1/documents?limit=1000")
    to_party = [d for d in documents if d["recipient_kind"] == "ordering_party"]
    party_invoices = {
        d["number"]: D(d["total"]["incl_vat"]) for d in to_party if d["kind"] == "invoice"
    }
    party_credits = {
        d["number"]: D(d["total"]["incl_vat"]) for d in to_party if d["kind"] == "credit_note"
    }
    assert set(party_invoices) == set(claims)
    assert set(party_credits) == {credit2["number"], credit7["number"]}
    owed = sum(D(c["amount"]) - D(c["credited"]) for c in claims.values())
    assert owed == sum(party_invoices.values()) - sum(party_credits.values()) == D("1322.00")
    open_total = sum(D(c["open"]) for c in claims.values())
    assert open_total == D("446.00")
    aged = office.call("get", f"/api/v1/receivables?at=2026-03-30&party_id={PARTY}")
    assert aged["totals"]["total"] == "446.00" and aged["totals"]["claims"] == 4
    assert aged["totals"]["buckets"] == {
        "0-30": "446.00",
        "31-60": "0.00",
        "61-90": "0.00",
        "over_90": "0.00",
    }
    assert [p["party_id"] for p in aged["parties"]] == [PARTY]

    lines = payment_rows(w.engine)
    assert [(r.source, r.line_no, r.outcome, r.invoice_number) for r in lines] == [
        ("advice", 2, "matched", inv1),
        ("advice", 3, "already_paid", inv1),
        ("advice", 4, "matched", inv2),
        ("advice", 5, "matched", inv4),
        ("advice", 6, "amount_differs", inv5),
        ("advice", 7, "matched", paid_first),
        ("advice", 8, "unknown_reference", None),
        ("bank", 2, "matched", inv12),
        ("bank", 3, "amount_differs", inv3),
        ("bank", 5, "unknown_reference", None),
    ]
    applied = applied_by_line(w.engine)
    listed = {
        (m["import_id"], m["line_no"])
        for m in office.call("get", "/api/v1/payments/mismatches?limit=5000")
    }
    on_claims = unapplied = 0
    for r in lines:
        cents = applied.get(f"payment:{r.import_id}:{r.line_no}", 0)
        assert cents in (0, r.amount_cents), (r.source, r.line_no)
        if cents < r.amount_cents or r.outcome != "matched":
            assert (r.import_id, r.line_no) in listed, (r.source, r.line_no)  # shown, not lost
        on_claims += cents
        unapplied += r.amount_cents - cents
    assert len(listed) == 5
    received = sum(r.amount_cents for r in lines)
    assert (received, on_claims, unapplied) == (131000, 87600, 43400)
    assert on_claims == sum(int(D(c["paid"]) * 100) for c in claims.values())

    # (3) Each correction on its file, with its rule and version; the missions cleaned.
    digests = {1: v1["digest"], 2: v2["digest"]}
    expected_corrections = {
        A2: [
            ("km-miles", 1, "distance_km.en_route", "10", "16"),
            ("km-miles", 1, "distance_km.loaded", "100", "161"),
            ("codes-maison", 1, "services.0.code", "REMORQ", "TOW"),
        ],
        A3: [
            ("codes-maison", 1, "services.0.code", "REMORQ", "TOW"),
            ("codes-maison", 1, "services.1.code", "TREUIL", "WIN"),
        ],
        A9: [("codes-depannage", 2, "services.0.code", "DSP", "REP")],
        A14: [("codes-maison", 2, "services.0.code", "REMORQ", "TOW")],
    }
    for file_number in EXPECTED:
        logged = log_entries(w.engine, file_number, "cleaning_correction")
        assert [
            (e["rule"], e["version"], e["path"], e["before"], e["after"]) for e in logged
        ] == expected_corrections.get(file_number, []), file_number
        for e in logged:
            assert (e["cause"], e["digest"]) == ("intake", digests[e["version"]])
            assert e["description"]["fr"]
    [hand] = log_entries(w.engine, A12, "manual_clean")
    assert hand["changes"] == [{"path": "services.0.code", "before": "DSP", "after": "REP"}]
    cleaned = {
        m: office.call("get", f"/api/v1/missions/{m}", who="bureau")["document"]
        for m in (mission(A2), mission(A3), mission(A9), mission(A12), mission(A14))
    }
    assert cleaned[mission(A2)]["distance_km"] == {"en_route": "16", "loaded": "161"}
    assert cleaned[mission(A2)]["services"] == [{"code": "TOW"}]
    assert cleaned[mission(A3)]["services"] == [{"code": "TOW"}, {"code": "WIN"}]
    assert cleaned[mission(A9)]["services"] == [{"code": "REP"}]
    assert cleaned[mission(A12)]["services"] == [{"code": "REP"}]
    assert cleaned[mission(A14)]["services"] == [{"code": "TOW"}]
    with w.engine.connect() as conn:
        kept = conn.execute(
            sa.select(orders.c.received, orders.c.cleaned).where(orders.c.message_id == "AA-0004")
        ).one()
    assert json.loads(kept.received)["distance_km"] == {"en_route": "10", "loaded": "100"}
    assert json.loads(kept.cleaned)["distance_km"] == {"en_route": "16", "loaded": "161"}

    # (4) The duplicated order is one order, one mission, one event on its file.
    with w.engine.connect() as conn:
        sent_twice = conn.execute(
            sa.select(sa.func.count()).select_from(orders).where(orders.c.message_id == "AA-0006")
        ).scalar_one()
    assert sent_twice == 1
    assert [r.message_id for r in lifecycle_rows(w.engine, A5) if r.event == "order"] == ["AA-0006"]
    assert [r.message_id for r in lifecycle_rows(w.engine, A11) if r.source == "party"] == [
        "AA-0012",
        "AA-0013",
        "AA-0014",
        "AA-0027",
    ]

    # The party's own list of mismatches holds every line about its claims, whether or
    # not the payment file named the party: a bank statement never does, and the 150.00
    # paid on inv3 is Assistance A's money to sort out.
    theirs = office.call("get", f"/api/v1/payments/mismatches?party_id={PARTY}&limit=5000")
    assert {(m["import_id"], m["line_no"]) for m in theirs} == {
        (r.import_id, r.line_no)
        for r in lines
        if r.outcome != "matched" and (r.invoice_number in claims or r.party_id == PARTY)
    }, "a mismatch on the party's claim is missing from the party's list"
