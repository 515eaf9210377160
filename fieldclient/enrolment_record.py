"""The enrolment the server vouched for, and the key the journal is checked against.

At enrolment the server signs which device of which tenant holds which public key
(`sync.protocol.enrolment_message`); the tablet keeps that signature, the key it enrolled
and the server's public key (table `meta`). `journal verify` checks the journal against
the enrolled key, not against whatever `device-keys.json` holds now: a key file swapped
and a journal signed again with it is caught offline.

What stays out of reach offline: someone who can write the tablet's files can also
replace the server's key kept here, and sign a record of their own. That is caught at
the next contact, where the session answer says which key the server has and signs the
enrolment again (`against_session`); a swapped device key cannot even open a session.
A tablet enrolled before the server signed enrolments gets its record at its next sync.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from fieldclient import store
from fieldclient.integrity_report import Finding
from shared import signing
from shared.errors import InvalidDocument
from shared.i18n import Text
from sync.protocol import enrolment_message

DEVICE_PUBLIC_KEY = "device_public_key"  # meta: the key the server enrolled (hex)
SIGNATURE = "enrolment_signature"  # meta: the server's signature of the enrolment (hex)
SERVER_PUBLIC_KEY = "server_public_key"  # meta: the server's key, given at enrolment (hex)
MISSING = "enrolment_missing"


def save(db: sqlite3.Connection, device_public_key_hex: str, signature_hex: str) -> None:
    """Inside `store.write()`."""
    store.set_meta(db, DEVICE_PUBLIC_KEY, device_public_key_hex.lower())
    store.set_meta(db, SIGNATURE, signature_hex.lower())


@dataclass(slots=True)
class Enrolled:
    """The key to check the journal with, and what is wrong with the record."""

    key: signing.PublicKey
    findings: list[Finding] = field(default_factory=list)


def _key(text: str | None) -> signing.PublicKey | None:
    try:
        return signing.public_key_from_bytes(bytes.fromhex(text or ""))
    except (ValueError, InvalidDocument):
        return None


def _signed(
    server_key: signing.PublicKey | None,
    signature_hex: str,
    tenant_id: str,
    device_id: str,
    device_key_hex: str,
) -> bool:
    try:
        signature = bytes.fromhex(signature_hex)
    except ValueError:
        return False
    message = enrolment_message(tenant_id, device_id, device_key_hex)
    return server_key is not None and signing.verify(server_key, signature, message)


def check(
    db: sqlite3.Connection, tenant_id: str, device_id: str, key_file: signing.PublicKey
) -> Enrolled:
    """The enrolled key, checked against the server's signature, and compared with the
    key file's. Without a record, the key file's key (and a finding saying so)."""
    file_hex = signing.public_key_to_bytes(key_file).hex()
    enrolled_hex = store.get_meta(db, DEVICE_PUBLIC_KEY)
    signature_hex = store.get_meta(db, SIGNATURE)
    if not enrolled_hex or not signature_hex:
        return Enrolled(key_file, [Finding(MISSING, _MISSING)])
    enrolled = _key(enrolled_hex)
    found = Enrolled(enrolled or key_file)
    server_key = _key(store.get_meta(db, SERVER_PUBLIC_KEY))
    if enrolled is None or not _signed(
        server_key, signature_hex, tenant_id, device_id, enrolled_hex
    ):
        found.findings.append(Finding("enrolment_forged", _FORGED))
    if enrolled_hex != file_hex:
        found.findings.append(Finding("key_replaced", _replaced(enrolled_hex, file_hex)))
    return found


def against_session(
    db: sqlite3.Connection,
    tenant_id: str,
    device_id: str,
    key_file: signing.PublicKey,
    server_public_key_hex: str | None,
    signature_hex: str | None,
) -> list[Finding]:
    """What the server said at the session (it has just checked the key file's key):
    its key must be the one kept here, and its signature must fit this tablet's ids and
    key. A tablet without a record keeps the server's one now. Nothing to compare when
    the server says nothing (older than the signed enrolment)."""
    if server_public_key_hex is None or signature_hex is None:
        return []
    kept = store.get_meta(db, SERVER_PUBLIC_KEY)
    if kept != server_public_key_hex.lower():
        return [Finding("server_key_replaced", _server_replaced(kept, server_public_key_hex))]
    file_hex = signing.public_key_to_bytes(key_file).hex()
    if not _signed(_key(kept), signature_hex, tenant_id, device_id, file_hex):
        return [Finding("enrolment_forged", _FORGED)]
    if not store.get_meta(db, SIGNATURE):
        with store.write(db):
            save(db, file_hex, signature_hex)
    return []


def _short(key_hex: str | None) -> str:
    return f"{key_hex[:16]}…" if key_hex else "—"


_MISSING = Text(
    "Aucun enrôlement signé par le serveur n'est gardé sur cette tablette (towline-field.db,"
    " table meta : device_public_key, enrolment_signature) : le journal n'a pu être vérifié"
    " qu'avec le fichier de clés. Une tablette enrôlée avant cette version le reçoit à sa"
    " prochaine synchronisation ; sinon, ses fichiers ont été modifiés : appelez le bureau.",
    "No enrolment signed by the server is kept on this tablet (towline-field.db, table"
    " meta: device_public_key, enrolment_signature): the journal could only be checked"
    " against the key file. A tablet enrolled before this version gets it at its next"
    " sync; otherwise its files were changed: call the office.",
)

_FORGED = Text(
    "L'enrôlement gardé sur cette tablette (towline-field.db, table meta) ne porte pas une"
    " signature valide du serveur : l'identifiant de la tablette, de la société, la clé"
    " enrôlée ou la clé du serveur y a été modifié. Appelez le bureau.",
    "The enrolment kept on this tablet (towline-field.db, table meta) does not carry a"
    " valid signature of the server: the tablet's or the company's id, the enrolled key or"
    " the server's key was changed there. Call the office.",
)


def _replaced(enrolled: str, in_file: str) -> Text:
    return Text(
        f"Le fichier de clés (device-keys.json) contient une autre clé ({_short(in_file)})"
        f" que celle que le serveur a enrôlée pour cette tablette ({_short(enrolled)}) :"
        " il a été remplacé. Le journal est vérifié avec la clé enrôlée. Appelez le bureau.",
        f"The key file (device-keys.json) holds another key ({_short(in_file)}) than the"
        f" one the server enrolled for this tablet ({_short(enrolled)}): it was replaced."
        " The journal is checked against the enrolled key. Call the office.",
    )


def _server_replaced(kept: str | None, said: str) -> Text:
    return Text(
        f"La clé du serveur gardée sur cette tablette (towline-field.db, table meta :"
        f" {_short(kept)}) n'est pas celle que le serveur présente ({_short(said)}) : elle"
        " a été remplacée. Appelez le bureau.",
        f"The server's key kept on this tablet (towline-field.db, table meta:"
        f" {_short(kept)}) is not the one the server shows ({_short(said)}): it was"
        " replaced. Call the office.",
    )


KEY_NOT_ENROLLED = Text(
    "Le serveur ne reconnaît pas la clé de cette tablette (device-keys.json) : ce n'est"
    " pas celle qu'il a enrôlée, le fichier de clés a été remplacé. Rien n'est envoyé ;"
    " appelez le bureau.",
    "The server does not recognise this tablet's key (device-keys.json): it is not the"
    " one it enrolled, the key file was replaced. Nothing is sent; call the office.",
)

KEY_FILE_UNREADABLE = Text(
    "Le fichier de clés de la tablette (device-keys.json) est illisible ou ne contient pas"
    " de clé privée valable : il a été abîmé ou remplacé. Rien n'est signé ni envoyé ;"
    " n'effacez rien et appelez le bureau.",
    "The tablet's key file (device-keys.json) cannot be read or holds no valid private"
    " key: it was damaged or replaced. Nothing is signed or sent; erase nothing and call"
    " the office.",
)
