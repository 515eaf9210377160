"""The chain verifier: what is wrong with one device's journal, every problem as data.

Like beancount's validations it never stops at the first problem: a clerk or an auditor
gets the whole list, each finding with its kind, the entry number, and words in French and
English. It needs only the device's public key, so an auditor can run it.

Give the entries in the order they are stored (or were received), not sorted by seq, or
a reordering cannot be seen.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from shared import signing
from shared.i18n import Text
from shared.journal import Head, SignedEntry, entry_hash, genesis


class FindingKind(StrEnum):
    GAP = "gap"  # entries missing
    FORK = "fork"  # two different entries for one seq
    DUPLICATE = "duplicate"  # the same entry stored twice
    ALTERED = "altered"  # the hash does not match the content
    REORDERED = "reordered"  # stored after an entry with a higher seq
    BAD_SIGNATURE = "bad_signature"
    BROKEN_LINK = "broken_link"  # prev_hash is not the previous entry's hash
    WRONG_DEVICE = "wrong_device"
    TRUNCATED = "truncated"  # ends before, or lacks, the head the server acknowledged


class SignatureCheck(StrEnum):
    """Every signature (audit), or only where the chain does not vouch for an entry (fast).

    Fast: the hash of every entry is recomputed and every link checked, and a signature is
    checked only for an entry that no authentic successor links to -- normally just the
    last one. A valid last signature then authenticates the whole run (ARCHITECTURE "Push").
    A damaged signature on an entry inside a run is seen only by the audit.
    """

    EVERY = "every"
    RUN_ENDS = "run_ends"


@dataclass(frozen=True, slots=True)
class Finding:
    kind: FindingKind
    seq: int  # the entry's number (for a gap, the first one missing)
    index: int | None  # position in the entries given; None when the entry is absent
    text: Text

    def message(self, lang: str = "fr") -> str:
        return self.text(lang)


@dataclass(frozen=True, slots=True)
class _Item:
    index: int
    signed: SignedEntry
    computed: str  # the hash recomputed from the content

    @property
    def seq(self) -> int:
        return self.signed.entry.seq

    @property
    def hash(self) -> str:
        return self.signed.hash

    @property
    def altered(self) -> bool:
        return self.computed != self.signed.hash


def verify_chain(
    entries: Iterable[SignedEntry],
    *,
    device_id: str,
    public_key: signing.PublicKey,
    after: Head | None = None,
    acknowledged: Head | None = None,
    signatures: SignatureCheck = SignatureCheck.EVERY,
) -> tuple[Finding, ...]:
    """Every problem in a device's chain; an empty tuple means it verifies.

    `after`: the head the entries continue from (default: the device's genesis), to check a
    pushed batch against what is stored. `acknowledged`: the last head the server confirmed;
    a chain that ends before it or does not hold it has been cut or rewritten.
    """
    start = after or genesis(device_id)
    for head in (start, acknowledged):
        if head is not None and head.device_id != device_id:
            raise ValueError(f"head of device {head.device_id!r} given to verify {device_id!r}")
    findings: list[Finding] = []
    items: list[_Item] = []
    for index, signed in enumerate(entries):
        entry = signed.entry
        if entry.device_id != device_id:
            findings.append(_finding_wrong_device(index, signed, device_id))
            continue
        item = _Item(index, signed, entry_hash(entry))
        if item.altered:
            findings.append(
                Finding(
                    FindingKind.ALTERED,
                    item.seq,
                    index,
                    Text(
                        f"L'entrée n° {item.seq} a été modifiée après son enregistrement : "
                        "son contenu ne correspond plus à son empreinte.",
                        f"Entry no. {item.seq} was changed after it was recorded: "
                        "its content no longer matches its hash.",
                    ),
                )
            )
        items.append(item)
    by_seq = _order(items, start, findings)
    _gaps(by_seq, start, findings)
    _links(by_seq, start, findings)
    _signatures(by_seq, public_key, signatures, findings)
    if acknowledged is not None:
        _truncation(by_seq, start, acknowledged, findings)
    rank = list(FindingKind)
    findings.sort(key=lambda f: (f.seq, -1 if f.index is None else f.index, rank.index(f.kind)))
    return tuple(findings)


def _finding_wrong_device(index: int, signed: SignedEntry, device_id: str) -> Finding:
    seq, other = signed.entry.seq, signed.entry.device_id
    return Finding(
        FindingKind.WRONG_DEVICE,
        seq,
        index,
        Text(
            f"L'entrée n° {seq} appartient à l'appareil {other!r}, pas à {device_id!r}.",
            f"Entry no. {seq} belongs to device {other!r}, not to {device_id!r}.",
        ),
    )


def _order(items: list[_Item], start: Head, findings: list[Finding]) -> dict[int, list[_Item]]:
    """Forks, duplicates and reordering, in stored order; returns the entries to chain, by seq.

    A duplicate (same content, same hash) is set aside; both sides of a fork are kept.
    """
    by_seq: dict[int, list[_Item]] = {}
    highest = start.seq
    for item in items:
        seq = item.seq
        first = by_seq[seq][0] if seq in by_seq else None
        if seq <= start.seq:
            if seq == start.seq and item.hash == start.hash and not item.altered:
                findings.append(_duplicate(item))
            elif seq == start.seq:
                findings.append(_fork(item))
            else:
                findings.append(_reordered(item, start.seq, before_start=True))
            continue
        if first is not None:
            if first.hash == item.hash and first.computed == item.computed:
                findings.append(_duplicate(item))
                continue
            findings.append(_fork(item))
        elif seq < highest:
            findings.append(_reordered(item, highest, before_start=False))
        by_seq.setdefault(seq, []).append(item)
        highest = max(highest, seq)
    return by_seq


def _duplicate(item: _Item) -> Finding:
    return Finding(
        FindingKind.DUPLICATE,
        item.seq,
        item.index,
        Text(
            f"L'entrée n° {item.seq} est enregistrée deux fois.",
            f"Entry no. {item.seq} is stored twice.",
        ),
    )


def _fork(item: _Item) -> Finding:
    return Finding(
        FindingKind.FORK,
        item.seq,
        item.index,
        Text(
            f"Deux entrées différentes portent le n° {item.seq} : le journal a été réécrit "
            "ou l'appareil a été copié. Alerte de sécurité : prévenez l'administrateur.",
            f"Two different entries carry no. {item.seq}: the journal was rewritten or the "
            "device was copied. Security alert: tell the administrator.",
        ),
    )


def _reordered(item: _Item, after_seq: int, *, before_start: bool) -> Finding:
    where_fr = "avant le début de ce lot" if before_start else f"après le n° {after_seq}"
    where_en = "before the start of this batch" if before_start else f"after no. {after_seq}"
    return Finding(
        FindingKind.REORDERED,
        item.seq,
        item.index,
        Text(
            f"L'entrée n° {item.seq} n'est pas à sa place : elle est rangée {where_fr}.",
            f"Entry no. {item.seq} is out of place: it is stored {where_en}.",
        ),
    )


def _gaps(by_seq: dict[int, list[_Item]], start: Head, findings: list[Finding]) -> None:
    expected = start.seq + 1
    for seq in sorted(by_seq):
        if seq > expected:
            span_fr = f"n° {expected}" if seq - 1 == expected else f"n° {expected} à {seq - 1}"
            span_en = f"no. {expected}" if seq - 1 == expected else f"no. {expected} to {seq - 1}"
            findings.append(
                Finding(
                    FindingKind.GAP,
                    expected,
                    None,
                    Text(
                        f"Entrées manquantes : {span_fr}. Des entrées ont été perdues "
                        "ou supprimées.",
                        f"Missing entries: {span_en}. Entries were lost or deleted.",
                    ),
                )
            )
        expected = seq + 1


def _links(by_seq: dict[int, list[_Item]], start: Head, findings: list[Finding]) -> None:
    for seq, group in by_seq.items():
        if seq - 1 == start.seq:
            previous = {start.hash}
        else:
            previous = {item.hash for item in by_seq.get(seq - 1, ())}
        if not previous:
            continue  # a gap, already reported
        for item in group:
            if item.signed.entry.prev_hash not in previous:
                findings.append(
                    Finding(
                        FindingKind.BROKEN_LINK,
                        seq,
                        item.index,
                        Text(
                            f"L'entrée n° {seq} ne suit pas l'entrée n° {seq - 1} : "
                            "la chaîne est rompue (une entrée a été remplacée).",
                            f"Entry no. {seq} does not follow entry no. {seq - 1}: "
                            "the chain is broken (an entry was replaced).",
                        ),
                    )
                )


def _signature_ok(item: _Item, public_key: signing.PublicKey) -> bool:
    try:
        sig, message = bytes.fromhex(item.signed.sig), bytes.fromhex(item.hash)
    except ValueError:
        return False
    return signing.verify(public_key, sig, message)


def _signatures(
    by_seq: dict[int, list[_Item]],
    public_key: signing.PublicKey,
    mode: SignatureCheck,
    findings: list[Finding],
) -> None:
    authentic: set[int] = set()  # indexes of entries whose content is proven the device's
    for seq in sorted(by_seq, reverse=True):
        for item in by_seq[seq]:
            vouched = mode is SignatureCheck.RUN_ENDS and any(
                successor.index in authentic and successor.signed.entry.prev_hash == item.hash
                for successor in by_seq.get(seq + 1, ())
            )
            if not vouched and not _signature_ok(item, public_key):
                findings.append(
                    Finding(
                        FindingKind.BAD_SIGNATURE,
                        seq,
                        item.index,
                        Text(
                            f"La signature de l'entrée n° {seq} est invalide : l'entrée n'a "
                            "pas été signée par cet appareil, ou a été modifiée.",
                            f"The signature of entry no. {seq} is invalid: the entry was not "
                            "signed by this device, or was changed.",
                        ),
                    )
                )
                continue
            if not item.altered:
                authentic.add(item.index)


def _truncation(
    by_seq: dict[int, list[_Item]], start: Head, acknowledged: Head, findings: list[Finding]
) -> None:
    ack = acknowledged.seq
    if ack < start.seq:
        return  # before this batch: checked when that part was verified
    if ack == start.seq:
        if acknowledged.hash == start.hash:
            return
    elif any(item.hash == acknowledged.hash for item in by_seq.get(ack, ())):
        return
    last = max(by_seq, default=start.seq)
    if last < ack:
        text = Text(
            f"Le journal s'arrête au n° {last} alors que le serveur en a reçu jusqu'au "
            f"n° {ack} : des entrées ont été supprimées à la fin.",
            f"The journal ends at no. {last} but the server received up to no. {ack}: "
            "entries were deleted at the end.",
        )
    else:
        text = Text(
            f"Le journal ne contient pas l'entrée n° {ack} dont le serveur a accusé réception "
            f"(empreinte {acknowledged.hash[:12]}…) : il a été coupé ou réécrit.",
            f"The journal does not hold entry no. {ack} that the server acknowledged "
            f"(hash {acknowledged.hash[:12]}…): it was cut or rewritten.",
        )
    findings.append(Finding(FindingKind.TRUNCATED, ack, None, text))
