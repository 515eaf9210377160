"""The tablet: what a driver does, offline, on top of the core and the local store.

Every action that touches money is one `store.write()` transaction that values the
mission if its valuation changed (a `valuation_recorded` entry), then records the action's
entry; the core (`shared.payments`, `shared.gate`, `shared.approvals`, `shared.register`)
decides, this module only gathers its inputs from the database and stores its outputs.
Nothing here needs the network; `fieldclient.syncing` does.

Why one module over 500 lines: one object, the tablet, whose actions share its identity,
clock, ledger and valuation of missions; its sections (identity, drivers, missions, steps
and money, register) are marked, and splitting the class would scatter its invariants.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from fieldclient import checked_documents, elsewhere, office_terms, road_ids, site_facts, store
from fieldclient.holiday_table import HolidayTable
from fieldclient.home import Home
from fieldclient.ledger import Ledger
from shared import calendar, signing
from shared.balance import MissionMoney, fold
from shared.contract import Contract
from shared.deposit import resolve_deposit
from shared.errors import Refused, TowlineError, ValuationRefused
from shared.gate import gate
from shared.i18n import Text
from shared.journal import utc_timestamp
from shared.mission import Mission, load_mission
from shared.money import ZERO, parse_amount, wire
from shared.payment_terms import Method, PayWhen
from shared.payments import (
    collection_payload,
    deferral_payload,
    discount_payload,
    dispute_payload,
    event_from_entry,
    reversal_payload,
)
from shared.steps import PROGRESS, Step, check_transition, is_terminal, next_steps, parse_step
from shared.valuation import Valuation, ValuationContext
from shared.valuation_plan import use_holiday_names

# What only some actions need is imported inside them (the register, approval codes,
# receipts, sign-in, enrolment): `show` and `step` start without it (docs/field-client.md
# "Speed").
if TYPE_CHECKING:
    import sqlite3

    from shared.approvals import Keyring, Kind
    from shared.debtor_rule import Verdict
    from shared.register import Register
    from shared.site_facts_found import Found

Clock = Callable[[], datetime]
REGISTER_TYPES = ("register_opened", "collection", "reversal", "bank_deposit", "register_closed")


class IntegrityFailure(TowlineError):
    """The local journal or database does not verify (exit code 4)."""

    code = "integrity"


class NotReady(Refused):
    """The tablet is not enrolled, or nobody is signed in."""


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Driver:
    id: str
    name: str
    rights: frozenset[str]
    pin_hash: str
    active: bool


@dataclass(frozen=True, slots=True)
class MissionView:
    """Everything the driver's screen shows about one mission."""

    mission: Mission
    office_status: str | None
    cancel_reason: str | None
    contract: Contract | None
    valuation: Valuation | None
    refusal: TowlineError | None  # why there is no valuation
    money: MissionMoney | None
    step: Step
    recorded_digest: str | None  # the valuation the journal holds (None: not yet recorded)
    office_pays: PayWhen | None = None  # the payment moment the office set by hand

    @property
    def cancelled_by_office(self) -> bool:
        return self.office_status == "cancelled"

    @property
    def pays(self) -> PayWhen:
        """When the beneficiary pays: the office's moment for this mission, else the
        contract's (the gate guards it)."""
        assert self.contract is not None
        return self.office_pays or self.contract.payment.beneficiary_pays

    def next_moves(self) -> list[tuple[Step, Text | None]]:
        """Each step the driver may go to next, with why it is held (None when open)."""
        moves: list[tuple[Step, Text | None]] = []
        for target in sorted(next_steps(self.step), key=lambda s: PROGRESS.get(s, 99)):
            reason: Text | None = None
            if self.cancelled_by_office and target is not Step.CANCELLED:
                reason = _CANCELLED_BY_OFFICE(self.cancel_reason)
            elif self.money is not None and self.contract is not None:
                decision = gate(self.money, self.pays, self.step, target)
                reason = None if decision.open else decision.reason
            elif self.refusal is not None and target not in (
                Step.CANCELLED,
                Step.GONE_ON_ARRIVAL,
            ):
                reason = self.refusal.text
            moves.append((target, reason))
        return moves


@dataclass(frozen=True, slots=True)
class Recorded:
    """What an action recorded: the entry's seq and hash, and the mission's money after."""

    seq: int
    hash: str
    payload: Mapping[str, Any]
    money: MissionMoney | None = None
    warning: Text | None = None  # e.g. "bill later" for a customer who owes (fieldclient.debtors)


class Tablet:
    """One enrolled tablet: its database, keys and clock."""

    def __init__(self, home: Home, *, clock: Clock = system_clock) -> None:
        home.create()
        self.home = home
        self.db: sqlite3.Connection = store.connect(home.database)
        self._clock = clock
        try:
            self._keys = home.read_keys()
        except ValueError:  # not JSON: the key file was damaged or replaced
            raise _key_file_unreadable() from None
        self._contracts: dict[tuple[str, int], Contract] = {}
        self._holidays = HolidayTable(self.db)  # kept per year, not asked of the library

    def close(self) -> None:
        self.db.close()

    # --- identity ------------------------------------------------------------------------

    @property
    def enrolled(self) -> bool:
        return self._keys is not None and self.meta("device_id") is not None

    def meta(self, key: str) -> str | None:
        return store.get_meta(self.db, key)

    def _require_enrolled(self) -> None:
        if not self.enrolled:
            raise NotReady(
                "Cette tablette n'est pas enrôlée. Demandez un code au bureau, puis :"
                " towline-field enroll ADRESSE_DU_SERVEUR CODE",
                "This tablet is not enrolled. Ask the office for a code, then:"
                " towline-field enroll SERVER_URL CODE",
            )

    @property
    def device_id(self) -> str:
        self._require_enrolled()
        return str(self.meta("device_id"))

    @property
    def tenant_id(self) -> str:
        self._require_enrolled()
        return str(self.meta("tenant_id"))

    def private_key(self) -> signing.PrivateKey:
        self._require_enrolled()
        assert self._keys is not None
        try:
            return signing.private_key_from_bytes(bytes.fromhex(self._keys["private_key"]))
        except (KeyError, TypeError, ValueError):  # InvalidDocument is a ValueError too
            raise _key_file_unreadable() from None

    def keyring(self) -> Keyring:
        from shared.approvals import DeviceKey, Keyring

        assert self._keys is not None
        return Keyring(
            tuple(
                DeviceKey(int(k["version"]), bytes.fromhex(k["secret"]))
                for k in self._keys.get("approval_keys", [])
            )
        )

    def ledger(self) -> Ledger:
        return Ledger(self.db, self.device_id, self.private_key())

    def save_enrolment(
        self,
        *,
        server_url: str,
        device_id: str,
        tenant_id: str,
        server_public_key: bytes,
        private_key: signing.PrivateKey,
        approval_key: Mapping[str, Any],
        drivers: Sequence[Mapping[str, Any]],
        label: str,
        enrolment_signature: bytes | None = None,
    ) -> None:
        """Keep what enrolment gave: keys in the owner-only key file, the rest in the db,
        with the server's signature of the enrolment (`fieldclient.enrolment_record`)."""
        self.home.write_keys(
            {
                "device_id": device_id,
                "private_key": signing.private_key_to_bytes(private_key).hex(),
                "approval_keys": [
                    {"version": int(approval_key["version"]), "secret": approval_key["secret"]}
                ],
            }
        )
        self._keys = self.home.read_keys()
        from fieldclient import enrolment_record

        with store.write(self.db):
            for key, text in (
                ("device_id", device_id),
                ("tenant_id", tenant_id),
                ("server_url", server_url),
                ("server_public_key", server_public_key.hex()),
                ("label", label),
                ("pull_cursor", "0"),
            ):
                store.set_meta(self.db, key, text)
            if enrolment_signature is not None:
                public = signing.public_key_to_bytes(signing.public_key_of(private_key))
                enrolment_record.save(self.db, public.hex(), enrolment_signature.hex())
            for driver in drivers:
                self.upsert_driver(driver)

    # --- clock -------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The tablet's best clock: its own, corrected by the offset the server's clock
        showed at the last sync (tablet clocks can be months off)."""
        offset = float(self.meta("clock_offset_seconds") or 0)
        return self._clock() + timedelta(seconds=offset)

    def _at(self) -> str:
        return utc_timestamp(self.now())

    def today(self) -> date:
        return calendar.local(self.now(), self.timezone).date()

    @property
    def timezone(self) -> str:
        return self.meta("timezone") or "Europe/Paris"

    # --- drivers and sign-in -------------------------------------------------------------

    def upsert_driver(self, data: Mapping[str, Any]) -> None:
        self.db.execute(
            "INSERT INTO drivers (id, name, role, pin_hash, active, rights) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name,"
            " role = excluded.role, pin_hash = excluded.pin_hash, active = excluded.active,"
            " rights = excluded.rights",
            [
                data["id"],
                data.get("name") or data["id"],
                data.get("role"),
                data.get("pin_hash") or "",
                1 if data.get("active", True) else 0,
                json.dumps(sorted(data.get("rights") or [])),
            ],
        )

    def driver(self, driver_id: str) -> Driver | None:
        row = self.db.execute(
            "SELECT id, name, rights, pin_hash, active FROM drivers WHERE id = ?", [driver_id]
        ).fetchone()
        if row is None:
            return None
        return Driver(row[0], row[1], frozenset(json.loads(row[2])), row[3], bool(row[4]))

    def drivers(self) -> list[Driver]:
        ids = [r[0] for r in self.db.execute("SELECT id FROM drivers ORDER BY id")]
        return [d for d in (self.driver(i) for i in ids) if d is not None]

    def login(self, driver_id: str, pin: str) -> Driver:
        self._require_enrolled()
        driver = self.driver(driver_id)
        if driver is None or not driver.active:
            raise Refused(
                f"Le chauffeur « {driver_id} » ne peut pas se connecter sur cette tablette."
                " Synchronisez, ou demandez au bureau de l'ajouter.",
                f"Driver “{driver_id}” cannot sign in on this tablet."
                " Sync, or ask the office to add them.",
            )
        from fieldclient import guards
        from fieldclient.guards import PIN_LOCK, PIN_TRIES
        from shared.secret_hash import verify_secret

        # Wrong PINs are signed entries (fieldclient.guards): no table to wipe.
        recent = guards.pin_failures(self.db, driver_id, self.now())
        if recent >= PIN_TRIES:
            raise Refused(
                f"Trop de codes PIN faux : réessayez dans {int(PIN_LOCK.total_seconds() // 60)}"
                " minutes, ou appelez le bureau.",
                f"Too many wrong PINs: try again in {int(PIN_LOCK.total_seconds() // 60)}"
                " minutes, or call the office.",
            )
        ok = verify_secret(pin, driver.pin_hash)
        ledger = self.ledger()
        with store.write(self.db):
            if ok:
                store.set_meta(self.db, "signed_in", driver.id)
            else:
                guards.record_wrong_pin(ledger, driver.id, self._at())
        if not ok:
            left = PIN_TRIES - recent - 1
            raise Refused(
                f"Code PIN incorrect ({left} essai(s) restant(s)).",
                f"Wrong PIN ({left} attempt(s) left).",
            )
        return driver

    def logout(self) -> str | None:
        who = self.meta("signed_in")
        with store.write(self.db):
            store.set_meta(self.db, "signed_in", None)
        return who

    def signed_in(self) -> Driver:
        self._require_enrolled()
        driver_id = self.meta("signed_in")
        driver = self.driver(driver_id) if driver_id else None
        if driver is None or not driver.active:
            raise NotReady(
                "Aucun chauffeur connecté : towline-field login VOTRE_IDENTIFIANT",
                "No driver signed in: towline-field login YOUR_ID",
            )
        return driver

    # --- missions ------------------------------------------------------------------------

    def store_mission(
        self, data: Mapping[str, Any], *, source: str, document: Mapping[str, Any]
    ) -> Mission:
        mission = load_mission(document)
        day = calendar.local(mission.times["call"], self.timezone).date().isoformat()
        self.db.execute(
            "INSERT INTO missions (id, file_number, ordering_party_id, driver_id, office_status,"
            " cancel_reason, source, document, day) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET file_number = excluded.file_number,"
            " ordering_party_id = excluded.ordering_party_id, driver_id = excluded.driver_id,"
            " office_status = excluded.office_status, cancel_reason = excluded.cancel_reason,"
            " document = excluded.document, day = excluded.day",
            [
                mission.id,
                mission.file_number,
                mission.ordering_party,
                data.get("driver_id"),
                data.get("status"),
                data.get("cancel_reason"),
                source,
                json.dumps(document, sort_keys=True, ensure_ascii=False),
                day,
            ],
        )
        checked_documents.passed(self.db, checked_documents.MISSION, document)
        return mission

    def mission(self, mission_id: str) -> tuple[Mission, str | None, str | None]:
        row = self.db.execute(
            "SELECT document, office_status, cancel_reason FROM missions WHERE id = ?",
            [mission_id],
        ).fetchone()
        if row is None:
            raise UnknownMission(mission_id)
        # Without the schema when it passed it before (fieldclient.checked_documents).
        return checked_documents.mission(self.db, row[0]), row[1], row[2]

    def mission_document(self, mission_id: str) -> dict[str, Any]:
        row = self.db.execute("SELECT document FROM missions WHERE id = ?", [mission_id]).fetchone()
        if row is None:
            raise UnknownMission(mission_id)
        document = json.loads(row[0])
        assert isinstance(document, dict)
        return document

    def mission_rows(self, *, day: date | None = None) -> list[dict[str, Any]]:
        """Missions of `day` (default: today) and every one not finished yet, with their
        step, what is due and what remains, read from the derived rows."""
        self._require_enrolled()
        day = day or self.today()
        rows = self.db.execute(
            "SELECT m.id, m.file_number, m.ordering_party_id, m.office_status, m.day,"
            " COALESCE(s.step, 'assigned'), s.due_cents,"
            " (SELECT COALESCE(SUM(CASE kind WHEN 'reversal' THEN -amount_cents"
            "   ELSE amount_cents END), 0) FROM money WHERE mission_id = m.id)"
            " + COALESCE((SELECT settled_cents FROM money_elsewhere"
            "   WHERE mission_id = m.id), 0),"
            " json_extract(m.document, '$.customer'), json_extract(m.document, '$.vehicle.plate')"
            " FROM missions m LEFT JOIN mission_state s ON s.mission_id = m.id"
            " WHERE m.day = ? OR COALESCE(s.step, 'assigned') NOT IN"
            " ('closed', 'cancelled', 'gone_on_arrival') ORDER BY m.day, m.id",
            [day.isoformat()],
        ).fetchall()
        out = []
        for mid, file_number, party, status, mday, step, due, settled, customer, plate in rows:
            if due is None and not is_terminal(Step(step)):
                # Not valued in the journal yet: show what the tablet would ask now.
                view = self.view(mid)
                due = int(view.money.due * 100) if view.money is not None else None
            out.append(
                {
                    "id": mid,
                    "short": road_ids.short(mid, self.device_id),
                    "file_number": file_number,
                    "ordering_party": party,
                    "customer": customer,
                    "plate": plate,
                    "day": mday,
                    "office_status": status,
                    "step": step,
                    "due": None if due is None else wire(Decimal(due) / 100),
                    "remaining": None if due is None else wire(Decimal(due - settled) / 100),
                }
            )
        return out

    def contract_for(self, mission: Mission) -> Contract:
        """The contract the server sent for the mission's ordering party (or the private
        customers' one), in its version valid on the mission's day."""
        party = (
            "ordering_party_id IS NULL"
            if mission.ordering_party is None
            else ("ordering_party_id = ?")
        )
        rows = self.db.execute(
            f"SELECT id, version FROM contracts WHERE {party}",
            [] if mission.ordering_party is None else [mission.ordering_party],
        ).fetchall()
        versions = [self._contract(str(i), int(v)) for i, v in rows]
        call = mission.times["call"]
        valid: dict[str, Contract] = {}
        for c in versions:
            if c.is_valid_on(calendar.local(call, c.timezone).date()) and (
                c.id not in valid or valid[c.id].version < c.version
            ):
                valid[c.id] = c
        who = mission.ordering_party or "particuliers"
        who_en = mission.ordering_party or "private customers"
        if not valid:
            raise ValuationRefused(
                f"Aucune convention pour {who} valable ce jour-là sur cette tablette :"
                " synchronisez, ou appelez le bureau.",
                f"No contract for {who_en} valid on that day on this tablet:"
                " sync, or call the office.",
            )
        if len(valid) > 1:
            names = ", ".join(sorted(valid))
            raise ValuationRefused(
                f"Plusieurs conventions pour {who} ({names}) : le bureau doit préciser"
                " laquelle s'applique.",
                f"Several contracts for {who_en} ({names}): the office must say which applies.",
            )
        return next(iter(valid.values()))

    def _contract(self, contract_id: str, version: int) -> Contract:
        """A contract version, parsed once per process (a version never changes)."""
        key = (contract_id, version)
        if key not in self._contracts:
            document = self.db.execute(
                "SELECT document FROM contracts WHERE id = ? AND version = ?", [*key]
            ).fetchone()[0]
            contract = checked_documents.contract(self.db, document)
            use_holiday_names(contract, self._holidays)
            self._contracts[key] = contract
        return self._contracts[key]

    def file_consumed(self, mission: Mission, contract_id: str) -> Decimal:
        """What the file's other missions on this tablet consumed of its cap."""
        if not mission.file_number:
            return ZERO
        total = self.db.execute(
            "SELECT COALESCE(SUM(s.file_cap_consumed_cents), 0) FROM mission_state s"
            " JOIN missions m ON m.id = s.mission_id"
            " WHERE m.file_number = ? AND m.id != ? AND s.contract_id = ?",
            [mission.file_number, mission.id, contract_id],
        ).fetchone()[0]
        return Decimal(int(total)) / 100

    def view(self, mission_id: str) -> MissionView:
        self._require_enrolled()
        mission, status, reason = self.mission(mission_id)
        state = self.db.execute(
            "SELECT step, digest FROM mission_state WHERE mission_id = ?", [mission_id]
        ).fetchone()
        step = Step(state[0]) if state else Step.ASSIGNED
        recorded = state[1] if state else None
        try:
            contract = self.contract_for(mission)
            # The order with the facts the driver recorded on site (fieldclient.site_facts).
            mission, valuation = site_facts.valued_on_site(
                self.db,
                mission,
                contract,
                ValuationContext(file_consumed=self.file_consumed(mission, contract.id)),
            )
        except TowlineError as refusal:
            return MissionView(mission, status, reason, None, None, refusal, None, step, recorded)
        money = self._money(mission_id, valuation, contract)
        pays = office_terms.terms(self.db, mission_id).pays
        return MissionView(
            mission, status, reason, contract, valuation, None, money, step, recorded, pays
        )

    def _money(self, mission_id: str, valuation: Valuation, contract: Contract) -> MissionMoney:
        events = []
        for row in self.ledger().rows(mission_id=mission_id):
            event = event_from_entry(row.type, row.hash, row.payload)
            if event is not None:
                events.append(event)
        # What other tablets recorded on it, as the server said (fieldclient.elsewhere).
        events.extend(elsewhere.events(self.db, mission_id, self.device_id))
        # The office's deposit, set by hand and pulled, wins (fieldclient.office_terms).
        manual = office_terms.terms(self.db, mission_id).deposit
        deposit = resolve_deposit(contract.payment.deposit, manual)
        return fold(mission_id, valuation.beneficiary_due, events, deposit)

    def _valued(self, ledger: Ledger, mission_id: str, driver_id: str | None) -> MissionView:
        """The mission's view, recording its valuation first if the journal does not hold
        this one yet (inside the caller's transaction)."""
        view = self.view(mission_id)
        if view.valuation is None:
            assert view.refusal is not None
            raise view.refusal
        if view.recorded_digest != view.valuation.digest:
            ledger.append(
                "valuation_recorded",
                {
                    "mission_id": mission_id,
                    "valuation": view.valuation.to_wire(),
                    "mission": self.mission_document(mission_id),
                },
                driver_id=driver_id,
                at=self._at(),
            )
        return view

    def new_mission(self, document: Mapping[str, Any]) -> Recorded:
        """A private customer met on the road: the mission is created on the tablet and
        reaches the office with its first valuation."""
        driver = self.signed_in()
        mission = load_mission(document)
        if self.db.execute("SELECT 1 FROM missions WHERE id = ?", [mission.id]).fetchone():
            raise Refused(
                f"La mission {mission.id} existe déjà sur cette tablette.",
                f"Mission {mission.id} already exists on this tablet.",
            )
        ledger = self.ledger()
        with store.write(self.db):
            self.store_mission(
                {"driver_id": driver.id, "status": "assigned"}, source="tablet", document=document
            )
            view = self._valued(ledger, mission.id, driver.id)
            head = ledger.head()
        return Recorded(head.seq, head.hash, {"mission_id": mission.id}, view.money)

    def next_mission_id(self) -> str:
        """A mission met on the road: R-0012 for the driver, unique in the tenant
        (fieldclient.road_ids)."""
        return road_ids.next_id(self.db, self.device_id)

    # --- steps and money -----------------------------------------------------------------

    def step(self, mission_id: str, target: object) -> Recorded:
        driver = self.signed_in()
        chosen = parse_step(target)
        ledger = self.ledger()
        with store.write(self.db):
            view = self.view(mission_id)
            check_transition(view.step, chosen)
            if view.cancelled_by_office and chosen is not Step.CANCELLED:
                raise Refused(
                    _CANCELLED_BY_OFFICE(view.cancel_reason).fr,
                    _CANCELLED_BY_OFFICE(view.cancel_reason).en,
                )
            if view.valuation is None and chosen in (Step.CANCELLED, Step.GONE_ON_ARRIVAL):
                payload = {
                    "mission_id": mission_id,
                    "from": view.step.value,
                    "to": chosen.value,
                    "remaining": "0.00",
                }
                money = None
            else:
                view = self._valued(ledger, mission_id, driver.id)
                assert view.money is not None and view.contract is not None
                decision = gate(view.money, view.pays, view.step, chosen)
                if not decision.open:
                    assert decision.reason is not None
                    raise Refused(decision.reason.fr, decision.reason.en)
                payload = {
                    "mission_id": mission_id,
                    "from": view.step.value,
                    "to": chosen.value,
                    "remaining": wire(view.money.remaining),
                }
                money = view.money
            signed = ledger.append("mission_step", payload, driver_id=driver.id, at=self._at())
        return Recorded(signed.seq, signed.hash, payload, money)

    def collect(
        self, mission_id: str, method: str, amount: object, evidence: Mapping[str, object]
    ) -> Recorded:
        driver = self.signed_in()
        if "collect" not in driver.rights:
            raise Refused(
                f"{driver.name} n'a pas le droit d'encaisser. Le chauffeur qui encaisse doit se"
                " connecter, ou le bureau doit vous donner ce droit.",
                f"{driver.name} may not collect payments. The driver who collects must sign"
                " in, or the office must give you this right.",
            )
        from fieldclient import cash_limits
        from shared.register import Status

        ledger = self.ledger()
        with store.write(self.db):
            register = self.register(driver.id)
            if register.status is not Status.OPEN:
                raise Refused(
                    "Ouvrez d'abord votre caisse : towline-field register open --float MONTANT",
                    "Open your register first: towline-field register open --float AMOUNT",
                )
            view = self._valued(ledger, mission_id, driver.id)
            assert view.money is not None and view.contract is not None
            if view.step in (Step.CANCELLED, Step.GONE_ON_ARRIVAL):
                raise Refused(
                    "Mission annulée : rien à encaisser.", "Mission cancelled: nothing to collect."
                )
            payload = collection_payload(
                view.money,
                method,
                amount,
                evidence,
                company_methods=list(Method),  # the company's own list is not modelled yet
                contract_methods=view.contract.payment.methods,
                # The company's limit as the pull gave it, the law's until then.
                cash_limit=cash_limits.limit(self.db),
                vat_basis=view.valuation.beneficiary if view.valuation else None,
            )
            # The receipt's number, gapless per tablet, in this very entry (fieldclient.receipts).
            from fieldclient import receipts

            payload["receipt"] = receipts.block_for(
                self.db, view.money, self.mission_document(mission_id)
            )
            signed = ledger.append("collection", payload, driver_id=driver.id, at=self._at())
            assert view.valuation is not None
            money = self._money(mission_id, view.valuation, view.contract)
        return Recorded(signed.seq, signed.hash, payload, money)

    def _check_approval(
        self, mission_id: str, kind: Kind, amount: Decimal, code: str, remaining: Decimal
    ) -> str:
        """Check a manager's code offline. A code that fits nothing is recorded as a signed
        entry in its own transaction, so the count survives the refusal and no table
        holds it (fieldclient.guards): a guesser is locked out."""
        from fieldclient import guards
        from shared.approvals import ApprovalRefused, Request, check_code

        attempts = guards.approval_attempts(self.db)
        others = [
            r[0] for r in self.db.execute("SELECT id FROM missions WHERE id != ?", [mission_id])
        ]
        try:
            approval = check_code(
                self.keyring(),
                code,
                Request(self.tenant_id, self.device_id, mission_id, kind, amount),
                self.now(),
                self._used_approvals(),
                attempts,
                other_missions=others,
                other_amounts=[remaining],
            )
        except ApprovalRefused as refused:
            ledger = self.ledger()
            with store.write(self.db):
                guards.record_refused_code(
                    ledger,
                    refused,
                    mission_id=mission_id,
                    kind=kind,
                    amount=amount,
                    driver_id=self.signed_in().id,
                    at=self._at(),
                )
            raise
        return approval.ref

    def _used_approvals(self) -> set[str]:
        from fieldclient import guards

        return guards.used_approvals(self.db)  # the journal, not the derived `money` rows

    def discount(self, mission_id: str, amount: object, code: str) -> Recorded:
        from shared.approvals import Kind

        return self._approved(Kind.DISCOUNT, mission_id, amount, code)

    def defer(self, mission_id: str, code: str, amount: object | None = None) -> Recorded:
        """ "Bill later", unless the tenant blocks it for a customer who owes money: the
        check comes first, so no approval code is spent on a refusal."""
        from dataclasses import replace

        from shared.approvals import Kind

        verdict = self.deferral_verdict(mission_id)
        if not verdict.allowed:
            assert verdict.text is not None
            raise Refused(verdict.text.fr, verdict.text.en)
        recorded = self._approved(Kind.DEFERRAL, mission_id, amount, code)
        return replace(recorded, warning=verdict.text)

    def deferral_verdict(self, mission_id: str) -> Verdict:
        """May this mission's payment be deferred, given what its customer owes
        (fieldclient.debtors, as last pulled)?"""
        from fieldclient import debtors

        return debtors.verdict(self.db, mission_id)

    def _approved(self, kind: Kind, mission_id: str, amount: object, code: str) -> Recorded:
        from shared.approvals import Kind

        driver = self.signed_in()
        build = discount_payload if kind is Kind.DISCOUNT else deferral_payload
        money = self._settled_view(mission_id).money
        assert money is not None
        if amount is None:
            amount = wire(money.remaining)
        # The core refuses what no code could approve (nothing remaining, too much…)
        # before a code attempt is spent on it.
        build(money, amount, "pending")
        ref = self._check_approval(mission_id, kind, parse_amount(amount), code, money.remaining)
        ledger = self.ledger()
        with store.write(self.db):
            view = self._valued(ledger, mission_id, driver.id)
            assert view.money is not None and view.valuation and view.contract
            if ref in self._used_approvals():  # used meanwhile by another command
                raise Refused(
                    "Ce code d'accord vient d'être utilisé.", "This approval code was just used."
                )
            payload = build(view.money, amount, ref)
            signed = ledger.append(kind.value, payload, driver_id=driver.id, at=self._at())
            after = self._money(mission_id, view.valuation, view.contract)
        return Recorded(signed.seq, signed.hash, payload, after)

    def _settled_view(self, mission_id: str) -> MissionView:
        view = self.view(mission_id)
        if view.valuation is None:
            assert view.refusal is not None
            raise view.refusal
        return view

    def record_site_facts(
        self,
        mission_id: str,
        found: Found,
        photos: Mapping[str, bytes] | None = None,
        *,
        code: str | None = None,
        for_office: bool = False,
    ) -> site_facts.FactsRecorded:
        """What the driver found on site: one signed `site_facts` entry, then the mission
        valued again at once (fieldclient.site_facts)."""
        return site_facts.record(
            self,
            mission_id,
            found,
            photos or {},
            code=code,
            for_office=for_office,
            check_approval=self._check_approval,
            revalue_and_record=self._valued,
        )

    def record_beneficiary(
        self, mission_id: str, typed: Mapping[str, object], place: str | None = None
    ) -> Recorded:
        """Who pays on site (and where), as the driver captured them: one signed entry
        (fieldclient.beneficiaries)."""
        from fieldclient import beneficiaries

        return beneficiaries.record(self, mission_id, typed, place)

    def dispute(self, mission_id: str, reason: str) -> Recorded:
        driver = self.signed_in()
        ledger = self.ledger()
        with store.write(self.db):
            view = self.view(mission_id)
            if view.money is not None:
                view = self._valued(ledger, mission_id, driver.id)
                assert view.money is not None
                payload = dispute_payload(view.money, reason)
            else:  # no valuation at all is exactly something to dispute
                payload = dispute_payload(fold(mission_id, ZERO, []), reason)
            signed = ledger.append("dispute", payload, driver_id=driver.id, at=self._at())
        return Recorded(signed.seq, signed.hash, payload, view.money)

    # --- the register ---------------------------------------------------------------------

    def register(self, driver_id: str) -> Register:
        """The driver's current register session, folded from the journal since the last
        closing (so it costs the same on the last day of the year as on the first). A
        reversal that arrives while the register is closed is applied to the next
        session (docs/register.md)."""
        from shared.register import Opened, Register, Status, apply
        from shared.register import Reversed as RegisterReversed
        from shared.register import event_from_entry as register_event

        # Fold the last session whole (its figures stay visible once it is closed), from
        # the closing before it: reversals held in between go to that session.
        last_open = self.db.execute(
            "SELECT MAX(seq) FROM journal WHERE driver_id = ? AND type = 'register_opened'",
            [driver_id],
        ).fetchone()[0]
        start = self.db.execute(
            "SELECT MAX(seq) FROM journal WHERE driver_id = ? AND type = 'register_closed'"
            " AND seq < ?",
            [driver_id, last_open or 0],
        ).fetchone()[0]
        sessions = self.db.execute(
            "SELECT COUNT(*) FROM journal WHERE driver_id = ? AND type = 'register_opened'"
            " AND seq < ?",
            [driver_id, start or 0],
        ).fetchone()[0]
        current = Register() if start is None else Register(Status.CLOSED, int(sessions))
        held: list[RegisterReversed] = []
        rows = self.ledger().rows_of_driver(driver_id, REGISTER_TYPES, after=start or 0)
        for row in rows:
            event = register_event(row.type, row.payload)
            if event is None:
                continue
            if isinstance(event, RegisterReversed) and current.status is not Status.OPEN:
                held.append(event)
                continue
            current = apply(current, event)
            if isinstance(event, Opened):
                for reversal in held:
                    current = apply(current, reversal)
                held = []
        return current

    def register_open(self, float_amount: Decimal) -> Register:
        from shared.register import Opened, apply, opened_payload

        driver = self.signed_in()
        ledger = self.ledger()
        with store.write(self.db):
            register = self.register(driver.id)
            apply(register, Opened(float_amount))
            ledger.append(
                "register_opened",
                opened_payload(float_amount),
                driver_id=driver.id,
                at=self._at(),
            )
            return self.register(driver.id)

    def register_deposit(self, amount: Decimal, reference: str) -> Register:
        from shared.register import Deposited, apply, deposit_payload

        driver = self.signed_in()
        ledger = self.ledger()
        if not reference.strip():
            raise Refused(
                "Indiquez le numéro du bordereau de dépôt.", "Enter the deposit slip number."
            )
        with store.write(self.db):
            register = self.register(driver.id)
            apply(register, Deposited(amount))
            ledger.append(
                "bank_deposit",
                deposit_payload(amount, reference.strip()),
                driver_id=driver.id,
                at=self._at(),
            )
            return self.register(driver.id)

    def register_close(self, counted: Decimal) -> tuple[Register, Mapping[str, object]]:
        from shared.register import Closed, apply, closed_payload

        driver = self.signed_in()
        ledger = self.ledger()
        with store.write(self.db):
            register = self.register(driver.id)
            apply(register, Closed(counted))
            payload = closed_payload(register, counted)
            ledger.append("register_closed", payload, driver_id=driver.id, at=self._at())
            return self.register(driver.id), payload

    # --- integrity ------------------------------------------------------------------------

    def integrity_problems(self) -> list[str]:
        """What `PRAGMA integrity_check` finds (nothing when the file is sound)."""
        rows = [str(r[0]) for r in self.db.execute("PRAGMA integrity_check").fetchall()]
        return [] if rows == ["ok"] else rows

    def pending_count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])


def _key_file_unreadable() -> IntegrityFailure:
    from fieldclient import enrolment_record

    text = enrolment_record.KEY_FILE_UNREADABLE
    return IntegrityFailure(text.fr, text.en)


class UnknownMission(Refused):
    def __init__(self, mission_id: str) -> None:
        super().__init__(
            f"Mission inconnue sur cette tablette : {mission_id}. "
            "Vérifiez le numéro (towline-field missions), ou synchronisez.",
            f"Unknown mission on this tablet: {mission_id}. "
            "Check the number (towline-field missions), or sync.",
        )


def _CANCELLED_BY_OFFICE(reason: str | None) -> Text:
    why_fr = f" ({reason})" if reason else ""
    return Text(
        f"Mission annulée par le bureau{why_fr} : seule l'annulation peut être enregistrée."
        " Ce qui a déjà été encaissé reste enregistré ; appelez le bureau.",
        f"Mission cancelled by the office{why_fr}: only the cancellation can be recorded."
        " What was already collected stays recorded; call the office.",
    )


def reversal_for(
    money: MissionMoney, reverses: Mapping[str, object], reason: str, decision_id: str
) -> dict[str, object]:
    """The `reversal` entry that applies an office's void: the core's payload, naming the
    decision it comes from."""
    payload = reversal_payload(money, reverses, reason)
    payload["decision"] = decision_id
    return payload
