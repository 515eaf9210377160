"""The numbers both sides agree on: protocol version, endpoint paths, limits, error codes.

docs/sync-protocol.md is the reference; this module is its executable part, imported by
the server (to refuse) and by the client (to stay within bounds).
"""

from __future__ import annotations

from enum import StrEnum

from shared.canonical import canonical_json
from shared.i18n import Text

# A client states its protocol version in the `Towline-Protocol` header of every request
# (and in the body of a push). The server serves every version from MIN_PROTOCOL up to
# PROTOCOL_VERSION and tells an older client to update, in words (HTTP 426).
# Version 2: a push may carry an `integrity_report` and may hold no entry (it then only
# answers the device's head).
PROTOCOL_VERSION = 2
MIN_PROTOCOL = 1
PROTOCOL_HEADER = "Towline-Protocol"

API_PREFIX = "/api/v1"
ENROL_PATH = f"{API_PREFIX}/devices/enrol"
CHALLENGE_PATH = f"{API_PREFIX}/devices/challenge"
SESSION_PATH = f"{API_PREFIX}/devices/session"
PUSH_PATH = f"{API_PREFIX}/sync/push"
PULL_PATH = f"{API_PREFIX}/sync/pull"
CHANGES_PATH = f"{API_PREFIX}/sync/changes"  # "anything new for me?" (204 or 200)
CURSOR_HEADER = "Towline-Cursor"  # the last change the server recorded, on every answer

# Bounds: a server refuses more, a client never sends more.
MAX_PUSH_ENTRIES = 500  # journal entries in one push batch
MAX_PAGE = 1000  # changes in one pull page (the server may return fewer)
DEFAULT_PAGE = 500
MAX_BODY_BYTES = 4 * 1024 * 1024  # a request body on the wire (compressed or not)
MAX_DECOMPRESSED_BYTES = 16 * 1024 * 1024  # a gzip request body once inflated
GZIP_MIN_BYTES = 1024  # the client compresses bodies from this size on

PUBLIC_KEY_HEX = 64  # Ed25519 raw public key, 32 bytes
SIGNATURE_HEX = 128  # Ed25519 signature, 64 bytes
MAX_REPORT_FINDINGS = 50  # findings listed in one integrity report (the count says the rest)


class ErrorCode(StrEnum):
    """The `code` of an error body `{code, message}`; the message is for a person.

    A client branches on the HTTP status first and on the code for the cases below; a
    code it does not know is a refusal whose message it shows.
    """

    INVALID_REQUEST = "invalid_request"  # 422: the body does not match its schema
    INVALID_ENTRY = "invalid_entry"  # 422: a journal entry is malformed
    JOURNAL_INVALID = "journal_invalid"  # 422: altered entry, bad signature, broken chain
    BATCH_TOO_LARGE = "batch_too_large"  # 413: more than MAX_PUSH_ENTRIES entries
    BODY_TOO_LARGE = "body_too_large"  # 413: over MAX_BODY_BYTES or MAX_DECOMPRESSED_BYTES
    WRONG_DEVICE = "wrong_device"  # 403: entries or ids of another device
    UNAUTHENTICATED = "unauthenticated"  # 401: no bearer token
    TOKEN_INVALID = "token_invalid"  # 401: a token the server did not issue
    TOKEN_EXPIRED = "token_expired"  # 401: open a new session
    DEVICE_UNKNOWN = "device_unknown"  # 401: enrol again
    DEVICE_REVOKED = "device_revoked"  # 403: the office revoked the device
    ENROLMENT_CODE_INVALID = "enrolment_code_invalid"  # 401
    ENROLMENT_CODE_USED = "enrolment_code_used"  # 401
    ENROLMENT_CODE_EXPIRED = "enrolment_code_expired"  # 401
    ENROLMENT_CODE_EXHAUSTED = "enrolment_code_exhausted"  # 401: too many wrong attempts
    KEY_ALREADY_ENROLLED = "key_already_enrolled"  # 409: generate a new key pair
    CHALLENGE_UNKNOWN = "challenge_unknown"  # 401
    CHALLENGE_USED = "challenge_used"  # 401: ask a new challenge
    CHALLENGE_EXPIRED = "challenge_expired"  # 401: ask a new challenge
    SIGNATURE_INVALID = "signature_invalid"  # 401: not signed with the enrolled key
    TOO_MANY_CHALLENGES = "too_many_challenges"  # 429
    UPDATE_REQUIRED = "update_required"  # 426: the client is too old
    SERVER_TOO_OLD = "server_too_old"  # 400: the client speaks a protocol newer than the server
    RATE_LIMITED = "rate_limited"  # 429: try again later (Retry-After)
    SERVER_ERROR = "server_error"  # 5xx


# A spent or stale nonce: the client asks for a fresh challenge once.
CHALLENGE_RETRY = frozenset(
    {ErrorCode.CHALLENGE_UNKNOWN, ErrorCode.CHALLENGE_USED, ErrorCode.CHALLENGE_EXPIRED}
)


class PushStatus(StrEnum):
    OK = "ok"  # stored (or already stored): the acknowledged head moved or stayed
    GAP = "gap"  # starts beyond head + 1: send again from `expected_seq`
    FORK = "fork"  # a seq already stored with another hash: refused, security alert
    QUARANTINED = "quarantined"  # the device is revoked: kept aside, not in the journal


# What a device signs to open a session: the nonce behind a fixed, versioned prefix.
# Journal entries are signed over a bare 32-byte hash; the prefix makes sure no
# challenge a server could send is ever the message of a journal signature.
SESSION_SIGNING_PREFIX = b"towline/session/v1\n"


def challenge_message(nonce: str) -> bytes:
    """The exact bytes a device signs for the challenge `nonce`."""
    return SESSION_SIGNING_PREFIX + nonce.encode("utf-8")


# What the server signs to vouch for an enrolment: which device of which tenant holds
# which public key. The prefix keeps it apart from anything else the server's key signs
# (its journal signs bare 32-byte hashes, archives their manifest).
ENROLMENT_SIGNING_PREFIX = b"towline/enrolment/v1\n"


def enrolment_message(tenant_id: str, device_id: str, device_public_key_hex: str) -> bytes:
    """The exact bytes of the server's `enrolment_signature` (docs/sync-protocol.md)."""
    return ENROLMENT_SIGNING_PREFIX + canonical_json(
        {
            "device_id": device_id,
            "device_public_key": device_public_key_hex.lower(),
            "tenant_id": tenant_id,
        }
    )


def accepts(version: int) -> bool:
    """Whether a server of this release serves a client speaking `version`."""
    return MIN_PROTOCOL <= version <= PROTOCOL_VERSION


UPDATE_REQUIRED = Text(
    "Cette application est trop ancienne pour le serveur. Mettez-la à jour, puis "
    "synchronisez de nouveau : rien n'est perdu, vos saisies restent sur la tablette.",
    "This application is too old for the server. Update it, then sync again: nothing is "
    "lost, your records stay on the tablet.",
)

SERVER_TOO_OLD = Text(
    "Le serveur est plus ancien que cette application. Prévenez le bureau : il faut mettre "
    "le serveur à jour. Vos saisies restent sur la tablette.",
    "The server is older than this application. Tell the office: the server must be "
    "updated. Your records stay on the tablet.",
)
