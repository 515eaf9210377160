"""What is wrong with a tenant's records, and exactly where: an archive file, or the live
database. Public keys only: nothing here needs, or reads, a private key.

Checked, every problem listed (never stopping at the first), each finding in French and
English with its place (file and line, chain and entry number, closing, document):

- the archive: the manifest's signature (by the server key the auditor trusts), every
  file's size and sha256 against the signed manifest, files missing or extra;
- every chain, tablets' and the server's, with shared.chain_verifier (every signature),
  against the public keys of `keys.json` (live: the devices table and the server key),
  up to the head the manifest names (live: the head the server acknowledged);
- every closing, recomputed from the journal entries (dated by reception) and compared
  with the closing entry stored: totals, heads, previous digests; a missing closing;
- every document: its PDFs against the hashes its issuing journal entry recorded;
- live, every column copied from a signed body (server.office.stored_columns): a value
  or a type an insider changed is a finding with its table and row, never a traceback.

`verify_archive` and `verify_live` give the findings; `check_archive` and `check_live`
also count what was checked (for the command line's summary).

Why one module over 500 lines: one verifier. The archive and the live database go
through the same checks of chains, closings and documents; only how the entries are read
differs, and splitting would spread one algorithm over several files.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from server.office import archive, closing, office_journal, stored_columns
from server.platform.tables import devices, journal_entries, tenants
from shared import archive_format as fmt
from shared import chain_verifier, signing
from shared.archive_format import Finding, Kind, Where
from shared.canonical import plain
from shared.closings import CLOSING, Level, Period, Record
from shared.errors import InvalidDocument, TowlineError
from shared.i18n import Text
from shared.journal import EntryType, Head, SignedEntry, from_wire

PDF_HASHES = {"pdf": "pdf_sha256", "facturx": "facturx_sha256"}  # blob → issuing entry field
_LOWER = {Level.MONTH: Level.DAY, Level.YEAR: Level.MONTH}
# Any valid point, for a chain whose key is unknown: its signature findings are dropped.
_NO_KEY = signing.public_key_from_bytes(
    bytes.fromhex("3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29")
)


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    chains: int = 0
    entries: int = 0
    closings: int = 0
    documents: int = 0
    rows: int = 0  # live: rows whose columns were checked against their signed body

    @property
    def clean(self) -> bool:
        return not self.findings

    def add(self, kind: Kind, where: Where, fr: str, en: str) -> None:
        self.findings.append(Finding(kind, where, Text(fr, en)))


@dataclass(frozen=True, slots=True)
class _Entry:
    """A readable entry, where it is, and when the server received it."""

    signed: SignedEntry
    where: Where
    received_at: datetime


@dataclass(frozen=True, slots=True)
class _Stored:
    """A closing entry of the server journal."""

    seq: int
    hash: str
    payload: Mapping[str, Any]
    where: Where


# --- chains ---------------------------------------------------------------------------------


def _chain(
    report: Report,
    chain: str,
    items: Sequence[_Entry],
    public_key: signing.PublicKey | None,
    *,
    acknowledged: Head | None,
    where: Where,
) -> None:
    """Every finding of shared.chain_verifier, placed where the entry is."""
    report.chains += 1
    report.entries += len(items)
    if public_key is None:
        report.add(
            Kind.UNKNOWN_KEY,
            where,
            f"aucune clé publique connue pour {chain} : ses signatures ne peuvent pas être "
            "vérifiées (empreintes et liens le sont).",
            f"no public key known for {chain}: its signatures cannot be checked (hashes and "
            "links are).",
        )
    found = chain_verifier.verify_chain(
        [i.signed for i in items],
        device_id=chain,
        public_key=public_key or _NO_KEY,
        acknowledged=acknowledged,
    )
    for finding in found:
        if public_key is None and finding.kind is chain_verifier.FindingKind.BAD_SIGNATURE:
            continue
        if finding.index is not None:
            place = items[finding.index].where
        else:
            place = Where(file=where.file, chain=chain, seq=finding.seq)
        report.findings.append(Finding(Kind(finding.kind.value), place, finding.text))


# --- closings -------------------------------------------------------------------------------


def _show(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= 120 else text[:117] + "…"


def _differences(stored: Mapping[str, Any], expected: Mapping[str, Any]) -> dict[str, str]:
    """Each field that differs: "stored ≠ recomputed"."""
    return {
        name: f"{_show(stored.get(name))} ≠ {_show(expected.get(name))}"
        for name in sorted(set(stored) | set(expected))
        if stored.get(name) != expected.get(name)
    }


def _closings(
    report: Report,
    tenant_id: str,
    records: Sequence[Record],
    stored: Sequence[_Stored],
    *,
    through: datetime | None,
) -> None:
    """Each closing recomputed from the entries and the closing stored before it (so a
    doctored closing is named, not everything after it), compared with what is stored."""
    ordered = sorted(records, key=lambda r: r.at)
    moments = [r.at for r in ordered]
    read: dict[Level, list[closing.TenantClosing]] = defaultdict(list)
    for level in Level:
        previous: closing.TenantClosing | None = None
        for item in stored:
            if item.payload.get("level") != level.value:
                continue
            try:
                current = closing.TenantClosing.from_payload(item.payload)
            except (KeyError, TypeError, ValueError) as exc:
                report.add(
                    Kind.CLOSING_UNREADABLE,
                    item.where,
                    f"clôture illisible ({exc}).",
                    f"unreadable closing ({exc}).",
                )
                previous = None
                continue
            if through is not None and current.closing.ends_at > through:
                continue  # a later period: its entries are not all here
            read[level].append(current)
            report.closings += 1
            _one_closing(report, tenant_id, (ordered, moments), read, item, current, previous)
            previous = current


def _one_closing(
    report: Report,
    tenant_id: str,
    entries: tuple[Sequence[Record], Sequence[datetime]],
    read: Mapping[Level, Sequence[closing.TenantClosing]],
    item: _Stored,
    current: closing.TenantClosing,
    previous: closing.TenantClosing | None,
) -> None:
    period = current.period
    where = replace(item.where, period=period.key, level=period.level.value)
    ordered, moments = entries
    if current.closing.scope != closing.scope(tenant_id):
        report.add(
            Kind.CLOSING_DIFFERS,
            where,
            f"la clôture porte sur {current.closing.scope}, pas sur {closing.scope(tenant_id)}.",
            f"the closing is of {current.closing.scope}, not of {closing.scope(tenant_id)}.",
        )
        return
    if previous is not None and period != previous.period.next():
        if period.first <= previous.period.first:
            report.add(
                Kind.CLOSING_CHAIN,
                where,
                f"la période est déjà clôturée (clôture précédente : {previous.period.key}).",
                f"the period is closed already (previous closing: {previous.period.key}).",
            )
        else:
            report.add(
                Kind.CLOSING_MISSING,
                where,
                f"clôtures manquantes entre {previous.period.key} et {period.key}.",
                f"closings missing between {previous.period.key} and {period.key}.",
            )
        return
    if previous is None and current.closing.previous is not None:
        report.add(
            Kind.CLOSING_MISSING,
            where,
            "la clôture suit une clôture précédente qui n'est pas dans le journal : les "
            "premières clôtures manquent.",
            "the closing follows a previous closing that is not in the journal: the first "
            "closings are missing.",
        )
        return
    timezone = current.closing.timezone
    try:
        if period.level is Level.DAY:
            start, end = period.starts_at(timezone), period.ends_at(timezone)
            if previous is None and ordered and ordered[0].at < start:
                report.add(
                    Kind.CLOSING_MISSING,
                    where,
                    f"des entrées ont été reçues avant la première clôture ({ordered[0].device_id}"
                    f" n° {ordered[0].seq}) : des clôtures manquent.",
                    f"entries were received before the first closing ({ordered[0].device_id}"
                    f" no. {ordered[0].seq}): closings are missing.",
                )
                return
            expected = closing.close_period(
                ordered[bisect_left(moments, start) : bisect_left(moments, end)],
                tenant_id=tenant_id,
                period=period,
                timezone=timezone,
                previous=previous,
                version=current.version,  # a closing is recomputed in its own format
            )
        else:
            lower = [
                c
                for c in read[_LOWER[period.level]]
                if period.first <= c.period.first <= period.last
            ]
            expected = closing.roll_up_period(
                lower, period=period, previous=previous, version=current.version
            )
    except (TowlineError, ValueError, KeyError) as exc:
        text = exc.message("fr") if isinstance(exc, TowlineError) else str(exc)
        text_en = exc.message("en") if isinstance(exc, TowlineError) else str(exc)
        report.add(
            Kind.CLOSING_DIFFERS,
            where,
            f"la clôture ne peut pas être recalculée : {text}",
            f"the closing cannot be recomputed: {text_en}",
        )
        return
    differences = _differences(item.payload, expected.payload())
    if not differences:
        return
    if list(differences) == ["previous"]:
        before = previous.period.key if previous else "?"
        report.add(
            Kind.CLOSING_CHAIN,
            where,
            f"la clôture ne s'enchaîne pas à la clôture de {before} telle qu'elle est "
            "enregistrée : l'une des deux a été modifiée ou remplacée.",
            f"the closing does not chain to the closing of {before} as it is stored: one "
            "of them was changed or replaced.",
        )
        return
    listed_fr = " ; ".join(f"{name} : {text}" for name, text in differences.items())
    listed_en = "; ".join(f"{name}: {text}" for name, text in differences.items())
    report.add(
        Kind.CLOSING_DIFFERS,
        where,
        "la clôture enregistrée diffère de celle recalculée depuis les journaux "
        f"(enregistré ≠ recalculé) : {listed_fr}",
        f"the stored closing differs from the one recomputed from the journals "
        f"(stored ≠ recomputed): {listed_en}",
    )


def _records(items: Sequence[_Entry]) -> list[Record]:
    return [
        Record(
            i.signed.entry.device_id,
            i.signed.entry.seq,
            i.signed.hash,
            i.received_at,
            str(i.signed.entry.type),
            i.signed.entry.payload,
        )
        for i in items
    ]


def _stored(tenant_id: str, server: Sequence[_Entry]) -> list[_Stored]:
    wanted = closing.scope(tenant_id)
    return [
        _Stored(i.signed.seq, i.signed.hash, plain(i.signed.entry.payload), i.where)
        for i in server
        if i.signed.entry.type == CLOSING and i.signed.entry.payload.get("scope") == wanted
    ]


# --- documents ------------------------------------------------------------------------------


def _issued(server: Sequence[_Entry]) -> dict[str, _Entry]:
    """The issuing entries of the server journal, by document number."""
    found = {}
    for item in server:
        number = item.signed.entry.payload.get("number")
        if item.signed.entry.type in archive.ISSUING_TYPES and isinstance(number, str):
            found[number] = item
    return found


def _rendered(server: Sequence[_Entry]) -> dict[str, _Entry]:
    """The `document_rendered` entries of the server journal, by document number: they
    sign the files of documents rendered after their issue."""
    found: dict[str, _Entry] = {}
    for item in server:
        number = item.signed.entry.payload.get("number")
        if item.signed.entry.type == EntryType.DOCUMENT_RENDERED and isinstance(number, str):
            found.setdefault(number, item)
    return found


def _document_blob(
    report: Report, number: str, column: str, data: bytes | None, issuer: _Entry, place: Where
) -> None:
    """The file against the hash its issuing entry, or its `document_rendered` entry
    (`issuer` is then that one), recorded."""
    expected = issuer.signed.entry.payload.get(PDF_HASHES.get(column, f"{column}_sha256"))
    if not isinstance(expected, str):
        return  # that entry recorded no hash for this file
    if data is None:
        report.add(
            Kind.DOCUMENT_MISSING,
            place,
            f"le fichier {column} manque, alors que l'entrée qui l'a émis "
            f"({issuer.signed.entry.device_id} n° {issuer.signed.seq}) en donne l'empreinte.",
            f"the {column} file is missing, though the entry that issued it "
            f"({issuer.signed.entry.device_id} no. {issuer.signed.seq}) gives its hash.",
        )
        return
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        report.add(
            Kind.DOCUMENT_DIFFERS,
            place,
            f"le fichier {column} n'est pas celui qui a été émis : empreinte {actual[:16]}…, "
            f"l'entrée {issuer.signed.entry.device_id} n° {issuer.signed.seq} dit "
            f"{expected[:16]}….",
            f"the {column} file is not the one issued: hash {actual[:16]}…, entry "
            f"{issuer.signed.entry.device_id} no. {issuer.signed.seq} says {expected[:16]}….",
        )


# --- the archive ----------------------------------------------------------------------------


def verify_archive(
    path: Path | str, *, trusted_server_key_hex: str | None = None, tenant_id: str | None = None
) -> list[Finding]:
    """Every problem of an archive file; an empty list means it verifies.

    `trusted_server_key_hex`: the server's public key as the auditor received it. Without
    it, the key the archive carries is used: the archive is then shown whole and
    self-consistent, not shown to come from that server.
    """
    return check_archive(
        path, trusted_server_key_hex=trusted_server_key_hex, tenant_id=tenant_id
    ).findings


def check_archive(
    path: Path | str, *, trusted_server_key_hex: str | None = None, tenant_id: str | None = None
) -> Report:
    report = Report()
    files = _open(report, Path(path))
    if files is None:
        return report
    manifest_data, manifest = _manifest(report, files)
    server_key_hex = _signature(report, files, manifest_data, manifest, trusted_server_key_hex)
    if manifest is not None:
        report.findings.extend(fmt.check_files(manifest, files))
        if tenant_id is not None and manifest.tenant_id != tenant_id:
            report.add(
                Kind.MANIFEST_INVALID,
                Where(file=fmt.MANIFEST_FILE),
                f"l'archive est celle de {manifest.tenant_id}, pas de {tenant_id}.",
                f"the archive is {manifest.tenant_id}'s, not {tenant_id}'s.",
            )
    tenant = manifest.tenant_id if manifest is not None else tenant_id
    keys = _keys(report, files, server_key_hex, tenant)
    chains = _journals(report, files, keys, manifest)
    if tenant is None:
        return report
    server = chains.get(office_journal.chain_id(tenant), [])
    records = _records([i for items in chains.values() for i in items])
    stored = _stored(tenant, server)
    through = manifest.ends_at if manifest is not None else None
    _closings(report, tenant, records, stored, through=through)
    _closings_file(report, files, stored, through)
    if manifest is not None and not any(
        s.payload.get("period") == manifest.period.key
        and s.payload.get("level") == manifest.period.level.value
        for s in stored
    ):
        report.add(
            Kind.CLOSING_MISSING,
            Where(period=manifest.period.key, level=manifest.period.level.value),
            "la clôture de la période archivée n'est pas dans le journal du serveur.",
            "the closing of the archived period is not in the server journal.",
        )
    _archive_documents(report, files, server, manifest)
    return report


def _open(report: Report, path: Path) -> dict[str, bytes] | None:
    try:
        with zipfile.ZipFile(path) as archived:
            names = archived.namelist()
            files = {name: archived.read(name) for name in names if not name.endswith("/")}
    except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile, RuntimeError, ValueError) as exc:
        report.add(
            Kind.ARCHIVE_UNREADABLE,
            Where(file=path.name),
            f"archive illisible : {exc}",
            f"unreadable archive: {exc}",
        )
        return None
    for name in sorted({n for n in names if names.count(n) > 1}):
        report.add(
            Kind.FILE_EXTRA,
            Where(file=name),
            "le fichier figure deux fois dans l'archive.",
            "the file appears twice in the archive.",
        )
    return files


def _manifest(
    report: Report, files: Mapping[str, bytes]
) -> tuple[Mapping[str, Any] | None, fmt.Manifest | None]:
    raw = files.get(fmt.MANIFEST_FILE)
    where = Where(file=fmt.MANIFEST_FILE)
    if raw is None:
        report.add(
            Kind.MANIFEST_MISSING,
            where,
            "le manifeste manque : rien ne prouve ce que l'archive doit contenir.",
            "the manifest is missing: nothing proves what the archive must hold.",
        )
        return None, None
    try:
        data = fmt.load_json(raw)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        report.add(
            Kind.MANIFEST_INVALID, where, f"JSON illisible : {exc}", f"unreadable JSON: {exc}"
        )
        return None, None
    try:
        return data, fmt.manifest_from_payload(data)
    except InvalidDocument as error:
        report.add(Kind.MANIFEST_INVALID, where, error.message("fr"), error.message("en"))
        return data if isinstance(data, Mapping) else None, None


def _signature(
    report: Report,
    files: Mapping[str, bytes],
    data: Mapping[str, Any] | None,
    manifest: fmt.Manifest | None,
    trusted: str | None,
) -> str | None:
    """Checks the manifest's signature; returns the server key the journals are checked
    with (the trusted one, else the manifest's)."""
    carried = manifest.server_public_key if manifest is not None else None
    key_hex = trusted.lower() if trusted else carried
    if trusted and carried and trusted.lower() != carried:
        report.add(
            Kind.UNTRUSTED_KEY,
            Where(file=fmt.MANIFEST_FILE),
            f"l'archive a été faite avec la clé {carried[:16]}…, pas avec la clé de "
            f"confiance {trusted[:16]}… : elle ne vient pas de ce serveur.",
            f"the archive was made with key {carried[:16]}…, not with the trusted key "
            f"{trusted[:16]}…: it does not come from this server.",
        )
    raw = files.get(fmt.SIGNATURE_FILE)
    if raw is None:
        report.add(
            Kind.SIGNATURE_MISSING,
            Where(file=fmt.SIGNATURE_FILE),
            "la signature du manifeste manque.",
            "the manifest's signature is missing.",
        )
        return key_hex
    if data is None or key_hex is None:
        return key_hex
    public = parse_public_key(key_hex)
    signature = raw.decode("ascii", "replace")
    if public is None or not fmt.signature_valid(data, signature, public):
        report.add(
            Kind.MANIFEST_SIGNATURE,
            Where(file=fmt.SIGNATURE_FILE),
            "la signature ne correspond pas au manifeste : le manifeste a été modifié, ou "
            "n'a pas été signé par la clé du serveur.",
            "the signature does not match the manifest: the manifest was changed, or was "
            "not signed by the server's key.",
        )
    return key_hex


def parse_public_key(key_hex: str) -> signing.PublicKey | None:
    try:
        return signing.public_key_from_bytes(bytes.fromhex(key_hex))
    except (ValueError, InvalidDocument):
        return None


def _keys(
    report: Report, files: Mapping[str, bytes], server_hex: str | None, tenant: str | None
) -> dict[str, signing.PublicKey | None]:
    """The public key of every chain: the server's (trusted) and the tablets' of keys.json."""
    keys: dict[str, signing.PublicKey | None] = {}
    where = Where(file=fmt.KEYS_FILE)
    raw = files.get(fmt.KEYS_FILE)
    data: Any = None
    if raw is not None:
        try:
            data = fmt.load_json(raw)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            report.add(Kind.KEYS_INVALID, where, f"JSON illisible : {exc}", f"unreadable: {exc}")
    if isinstance(data, Mapping):
        server = data.get("server")
        listed = server.get("public_key") if isinstance(server, Mapping) else None
        if server_hex is not None and listed != server_hex:
            report.add(
                Kind.KEYS_INVALID,
                where,
                "la clé du serveur de keys.json n'est pas celle qui a signé le manifeste.",
                "the server key in keys.json is not the one that signed the manifest.",
            )
        for number, device in enumerate(data.get("devices") or ()):
            ok = isinstance(device, Mapping) and isinstance(device.get("device_id"), str)
            key = parse_public_key(str(device.get("public_key"))) if ok else None
            if not ok or key is None:
                report.add(
                    Kind.KEYS_INVALID,
                    where,
                    f"tablette n° {number + 1} : identifiant ou clé publique illisible.",
                    f"device no. {number + 1}: unreadable id or public key.",
                )
                continue
            keys[str(device["device_id"])] = key
    if tenant is not None and server_hex is not None:
        keys[office_journal.chain_id(tenant)] = parse_public_key(server_hex)
    return keys


def _journals(
    report: Report,
    files: Mapping[str, bytes],
    keys: Mapping[str, signing.PublicKey | None],
    manifest: fmt.Manifest | None,
) -> dict[str, list[_Entry]]:
    heads = {h.device_id: h for h in manifest.heads} if manifest is not None else {}
    chains: dict[str, list[_Entry]] = {}
    for path in sorted(p for p in files if p.startswith(fmt.JOURNALS_DIR)):
        items = _read_journal(report, path, files[path])
        chain = items[0].signed.entry.device_id if items else None
        if chain is None:
            continue
        if fmt.journal_path(chain) != path:
            report.add(
                Kind.WRONG_DEVICE,
                Where(file=path),
                f"le fichier porte le nom d'une autre chaîne que {chain}.",
                f"the file is named for another chain than {chain}.",
            )
        if chain in chains:
            report.add(
                Kind.FORK,
                Where(file=path, chain=chain),
                "une autre copie de cette chaîne est dans l'archive.",
                "another copy of this chain is in the archive.",
            )
            continue
        chains[chain] = items
        head = heads.get(chain)
        _chain(report, chain, items, keys.get(chain), acknowledged=head, where=Where(file=path))
        last = max(items, key=lambda i: i.signed.seq)
        if manifest is not None and head is None:
            report.add(
                Kind.HEAD_MISMATCH,
                Where(file=path, chain=chain),
                "le manifeste signé ne nomme pas cette chaîne.",
                "the signed manifest does not name this chain.",
            )
        elif head is not None and last.signed.seq > head.seq:
            report.add(
                Kind.HEAD_MISMATCH,
                last.where,
                f"la chaîne va au-delà de la tête que nomme le manifeste signé (n° {head.seq}).",
                f"the chain goes beyond the head the signed manifest names (no. {head.seq}).",
            )
    for chain in sorted(set(heads) - set(chains)):
        report.add(
            Kind.HEAD_MISMATCH,
            Where(file=fmt.journal_path(chain), chain=chain),
            "le manifeste signé nomme cette chaîne, l'archive n'en contient aucune entrée.",
            "the signed manifest names this chain, the archive holds none of its entries.",
        )
    return chains


def _read_journal(report: Report, path: str, raw: bytes) -> list[_Entry]:
    items = []
    for number, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        where = Where(file=path, line=number)
        try:
            data = fmt.load_json(line)
            if not isinstance(data, dict):
                raise ValueError("not an object")
            received = fmt.parse_utc(data.pop("received_at", None))
            signed = from_wire(data)
        except InvalidDocument as error:
            report.add(Kind.LINE_UNREADABLE, where, error.message("fr"), error.message("en"))
            continue
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            report.add(
                Kind.LINE_UNREADABLE,
                where,
                f"ligne illisible : {exc}",
                f"unreadable line: {exc}",
            )
            continue
        place = Where(file=path, line=number, chain=signed.entry.device_id, seq=signed.seq)
        items.append(_Entry(signed, place, received))
    return items


def _closings_file(
    report: Report, files: Mapping[str, bytes], stored: Sequence[_Stored], through: datetime | None
) -> None:
    """closings.jsonl must list exactly the closing entries of the server journal."""
    expected = [
        {"seq": s.seq, "hash": s.hash, "closing": s.payload}
        for s in stored
        if through is None or _ends(s, through) <= through
    ]
    raw = files.get(fmt.CLOSINGS_FILE)
    if raw is None:
        return  # missing: reported against the manifest
    lines = [line for line in raw.split(b"\n") if line.strip()]
    for number, line in enumerate(lines, start=1):
        where = Where(file=fmt.CLOSINGS_FILE, line=number)
        try:
            data = fmt.load_json(line)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            report.add(Kind.CLOSINGS_FILE, where, f"ligne illisible : {exc}", f"unreadable: {exc}")
            continue
        want = expected[number - 1] if number <= len(expected) else None
        if data != want:
            seq = data.get("seq") if isinstance(data, dict) else None
            report.add(
                Kind.CLOSINGS_FILE,
                where,
                f"la ligne ne reprend pas la clôture du journal du serveur (n° {seq}).",
                f"the line is not the closing of the server journal (no. {seq}).",
            )
    for missing in expected[len(lines) :]:
        report.add(
            Kind.CLOSINGS_FILE,
            Where(file=fmt.CLOSINGS_FILE),
            f"la clôture n° {missing['seq']} du journal du serveur n'y figure pas.",
            f"closing no. {missing['seq']} of the server journal is not listed.",
        )


def _ends(stored: _Stored, default: datetime) -> datetime:
    """The end of a closing's period (`default` if the closing is unreadable)."""
    try:
        period = Period.parse(str(stored.payload["period"]))
        return period.ends_at(str(stored.payload["timezone"]))
    except (KeyError, ValueError):
        return default


def _archive_documents(
    report: Report,
    files: Mapping[str, bytes],
    server: Sequence[_Entry],
    manifest: fmt.Manifest | None,
) -> None:
    """Each document of the archive against the entry that issued it; and every document
    issued in the period whose entry gives a PDF hash must be there."""
    issued = _issued(server)
    rendered = _rendered(server)
    prefixes = sorted(
        ((f"{fmt.DOCUMENTS_DIR}{fmt.safe_name(n)}.", n) for n in issued),
        key=lambda pair: -len(pair[0]),
    )
    seen: set[str] = set()
    for path in sorted(p for p in files if p.startswith(fmt.DOCUMENTS_DIR)):
        number = next((n for prefix, n in prefixes if path.startswith(prefix)), None)
        if number is None:
            report.add(
                Kind.DOCUMENT_DIFFERS,
                Where(file=path),
                "aucune entrée du journal du serveur n'a émis ce document.",
                "no entry of the server journal issued this document.",
            )
            continue
        seen.add(number)
    in_period = [
        number
        for number, item in issued.items()
        if manifest is None or manifest.starts_at <= item.received_at < manifest.ends_at
    ]
    for number in sorted(set(in_period) | seen):
        issuer = issued[number]
        report.documents += 1
        fields_path = archive.fields_path(number)
        if fields_path in files:
            _archive_fields(report, files[fields_path], number, issuer, fields_path)
        signer = rendered.get(number, issuer)
        for column in PDF_HASHES:
            path = archive.blob_path(number, column)
            place = Where(file=path, document=number)
            _document_blob(report, number, column, files.get(path), signer, place)


def _archive_fields(report: Report, raw: bytes, number: str, issuer: _Entry, path: str) -> None:
    place = Where(file=path, document=number)
    try:
        fields = fmt.load_json(raw)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        report.add(Kind.DOCUMENT_DIFFERS, place, f"illisible : {exc}", f"unreadable: {exc}")
        return
    linked = fields.get("journal_seq") if isinstance(fields, dict) else None
    named = fields.get("number") if isinstance(fields, dict) else None
    if named != number or (linked is not None and linked != issuer.signed.seq):
        report.add(
            Kind.DOCUMENT_DIFFERS,
            place,
            f"les champs du document ne sont pas ceux du document {number} émis par l'entrée "
            f"n° {issuer.signed.seq}.",
            f"the document's fields are not those of document {number} issued by entry "
            f"no. {issuer.signed.seq}.",
        )


# --- the live database ----------------------------------------------------------------------


def verify_live(
    conn: sa.Connection, tenant_id: str, server_public_key: signing.PublicKey | str
) -> list[Finding]:
    """Every problem of a tenant's records in the database; empty means it verifies."""
    return check_live(conn, tenant_id, server_public_key).findings


def check_live(
    conn: sa.Connection, tenant_id: str, server_public_key: signing.PublicKey | str
) -> Report:
    report = Report()
    if isinstance(server_public_key, str):
        server_key = parse_public_key(server_public_key)
        if server_key is None:
            raise ValueError("the server's public key must be 64 hex digits")
    else:
        server_key = server_public_key
    tenant = conn.execute(
        sa.select(sa.type_coerce(tenants.c.journal_seq, sa.types.NullType())).where(
            tenants.c.id == tenant_id
        )
    ).first()
    if tenant is None:
        raise LookupError(f"unknown tenant {tenant_id!r}")
    journal_seq = _whole(report, tenant[0], "tenants", "journal_seq", tenant_id)
    known = {
        row.id: row
        for row in conn.execute(
            sa.select(
                devices.c.id, devices.c.public_key, devices.c.head_seq, devices.c.head_hash
            ).where(devices.c.tenant_id == tenant_id)
        )
    }
    server_chain = office_journal.chain_id(tenant_id)
    chains = _live_entries(report, conn, tenant_id)
    for chain in sorted(set(chains) | {server_chain} | set(known)):
        items = chains.get(chain, [])
        where = Where(chain=chain)
        if chain == server_chain:
            key: signing.PublicKey | None = server_key
            acknowledged = None
            if journal_seq is not None and journal_seq != max(
                (i.signed.seq for i in items), default=0
            ):
                report.add(
                    Kind.TRUNCATED,
                    Where(chain=chain, seq=int(journal_seq)),
                    f"le journal du serveur devrait aller jusqu'au n° {journal_seq} : des "
                    "entrées ont été supprimées.",
                    f"the server journal should go up to no. {journal_seq}: entries were deleted.",
                )
        else:
            device = known.get(chain)
            key = parse_public_key(device.public_key) if device is not None else None
            head_seq = (
                _whole(report, device.head_seq, "devices", "head_seq", chain)
                if device is not None
                else None
            )
            acknowledged = (
                Head(chain, head_seq, str(device.head_hash))
                if device is not None and head_seq and device.head_hash
                else None
            )
        if items or acknowledged is not None:
            _chain(report, chain, items, key, acknowledged=acknowledged, where=where)
    server = chains.get(server_chain, [])
    records = _records([i for items in chains.values() for i in items])
    _closings(report, tenant_id, records, _stored(tenant_id, server), through=None)
    _live_documents(report, conn, tenant_id, server)
    columns = stored_columns.check(
        conn, tenant_id, {chain: [i.signed for i in items] for chain, items in chains.items()}
    )
    report.findings.extend(columns.findings)
    report.rows += columns.rows
    return report


def _whole(report: Report, value: object, table: str, column: str, key: str) -> int | None:
    """A counter column that must hold a whole number; None (and a finding) otherwise."""
    if type(value) is int:
        return value
    report.add(
        Kind.ROW_MISMATCH,
        stored_columns.RowWhere(table=table, row=key),
        f"la colonne {column} est illisible ({value!r} n'est pas un nombre entier) : la "
        "ligne a été modifiée.",
        f"column {column} is unreadable ({value!r} is not a whole number): the row was changed.",
    )
    return None


_COLUMNS = ("device_id", "seq", "type", "at", "driver_id", "prev_hash")


def _live_entries(report: Report, conn: sa.Connection, tenant_id: str) -> dict[str, list[_Entry]]:
    rows = conn.execute(  # as stored: a corrupt value is a finding, not a traceback
        sa.select(*stored_columns.raw(journal_entries))
        .where(journal_entries.c.tenant_id == tenant_id)
        .order_by(journal_entries.c.device_id, journal_entries.c.seq)
    )
    chains: dict[str, list[_Entry]] = defaultdict(list)
    for row in rows:
        received = stored_columns.instant_or_none(row.received_at)
        readable = {"seq": type(row.seq) is int, "body": isinstance(row.body, str)}
        readable["received_at"] = received is not None
        if not all(readable.values()) or not isinstance(row.device_id, str):
            names = ", ".join(name for name, ok in readable.items() if not ok) or "device_id"
            report.add(
                Kind.ROW_MISMATCH,
                stored_columns.RowWhere(
                    table="journal_entries",
                    row=f"{row.device_id} n° {row.seq}",
                    chain=str(row.device_id),
                ),
                f"colonne(s) {names} illisible(s) : la ligne a été modifiée.",
                f"unreadable column(s) {names}: the row was changed.",
            )
            continue
        assert received is not None
        where = Where(chain=row.device_id, seq=row.seq)
        try:
            data = fmt.load_json(row.body.encode("utf-8"))
            signed = from_wire({**data, "hash": row.hash, "sig": row.sig})
        except InvalidDocument as error:
            report.add(Kind.LINE_UNREADABLE, where, error.message("fr"), error.message("en"))
            continue
        except (ValueError, TypeError, RecursionError) as exc:
            report.add(
                Kind.LINE_UNREADABLE,
                where,
                f"entrée illisible : {exc}",
                f"unreadable entry: {exc}",
            )
            continue
        body = signed.entry.as_dict()
        wrong = [name for name in _COLUMNS if body[name] != getattr(row, name)]
        if wrong:
            names = ", ".join(wrong)
            report.add(
                Kind.ROW_MISMATCH,
                where,
                f"les colonnes {names} de la ligne ne sont pas celles de l'entrée signée : "
                "la ligne a été modifiée.",
                f"the row's columns {names} are not those of the signed entry: the row was "
                "changed.",
            )
        chains[row.device_id].append(_Entry(signed, where, received))
    return chains


def _live_documents(
    report: Report, conn: sa.Connection, tenant_id: str, server: Sequence[_Entry]
) -> None:
    table = archive.documents_table(conn)
    if table is None:
        return
    issued = _issued(server)
    rendered = _rendered(server)
    blobs = archive.blob_columns(table)
    stored: set[str] = set()
    names = ["number", *blobs, *(["journal_seq"] if "journal_seq" in table.c else [])]
    rows = conn.execute(  # only these columns, as stored: stored_columns reads the others
        sa.select(*stored_columns.raw(table, names))
        .where(table.c.tenant_id == tenant_id)
        .order_by(table.c.number)
    ).mappings()
    for row in rows:
        number = str(row["number"])
        made = stored_columns.rendered_files(conn, tenant_id, number)
        stored.add(number)
        report.documents += 1
        place = Where(document=number)
        issuer = issued.get(number)
        if issuer is None:
            report.add(
                Kind.DOCUMENT_DIFFERS,
                place,
                "aucune entrée du journal du serveur n'a émis ce document.",
                "no entry of the server journal issued this document.",
            )
            continue
        linked = row.get("journal_seq")
        if type(linked) is int and linked != issuer.signed.seq:  # unreadable: stored_columns
            report.add(
                Kind.DOCUMENT_DIFFERS,
                place,
                f"le document renvoie à l'entrée n° {linked}, mais c'est l'entrée "
                f"n° {issuer.signed.seq} qui l'a émis.",
                f"the document points at entry no. {linked}, but entry no. "
                f"{issuer.signed.seq} issued it.",
            )
        signer = rendered.get(number)
        for column in blobs:
            data = made.get(column) if made is not None and signer is not None else row[column]
            _document_blob(
                report,
                number,
                column,
                None if data is None else stored_columns.as_bytes(data),
                signer or issuer,
                place,
            )
    for number in sorted(set(issued) - stored):
        item = issued[number]
        report.add(
            Kind.DOCUMENT_MISSING,
            Where(chain=item.signed.entry.device_id, seq=item.signed.seq, document=number),
            "le document émis par cette entrée n'est pas dans la base.",
            "the document this entry issued is not in the database.",
        )
