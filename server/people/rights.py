"""Rights and roles (DOMAIN "Rights and modules", seed 004).

Rights are explicit names; a role is a set of them. The payment rights only exist once a
tenant's payments module is switched on, and the default roles are created without
them: nobody can record a transaction until the module is on *and* an admin has given
a role the right. Pure functions: the push endpoint calls `transaction_refusal`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from enum import StrEnum

from server.platform.errors import Forbidden


class Right(StrEnum):
    COLLECT = "collect"
    APPROVE_DISCOUNT = "approve_discount"
    VOID_COLLECTION = "void_collection"
    ISSUE_CREDIT_NOTE = "issue_credit_note"
    EDIT_CONTRACTS = "edit_contracts"
    MANAGE_DEVICES = "manage_devices"
    RECONCILE = "reconcile"
    MANAGE_USERS = "manage_users"
    MANAGE_MISSIONS = "manage_missions"  # create missions and assign them to drivers
    RECORD_PAYMENTS = "record_payments"  # payments received in the office (issue 15)
    # Act on a security alert (journal fork, invalid journal, quarantined push): not the
    # clerk's `reconcile`, which only lets one see them (migration 0004 gives it to the
    # roles that had `reconcile` in tenants created before).
    ACKNOWLEDGE_ALERTS = "acknowledge_alerts"
    # Create, list and revoke ordering parties' API keys: not `edit_contracts` (migration
    # 0004 gives it to the roles that had `edit_contracts` in tenants created before).
    MANAGE_PARTY_KEYS = "manage_party_keys"


ALL_RIGHTS = frozenset(Right)
# Released by the payments module (seed 004): meaningless while it is off.
PAYMENT_RIGHTS = frozenset(
    {
        Right.COLLECT,
        Right.APPROVE_DISCOUNT,
        Right.VOID_COLLECTION,
        Right.ISSUE_CREDIT_NOTE,
        Right.RECORD_PAYMENTS,
    }
)
# The right a driver's role needs to record a transaction (collection, reversal…).
TRANSACTION_RIGHT = Right.COLLECT

DEFAULT_ROLES: Mapping[str, frozenset[Right]] = {
    "driver": frozenset(),
    "manager": frozenset({Right.MANAGE_MISSIONS, Right.RECONCILE, Right.ACKNOWLEDGE_ALERTS}),
    "office": frozenset({Right.MANAGE_MISSIONS, Right.RECONCILE, Right.EDIT_CONTRACTS}),
    "admin": ALL_RIGHTS - PAYMENT_RIGHTS,
}
# What `tenants create --payments` grants: the operator's explicit choice.
DEFAULT_PAYMENT_RIGHTS: Mapping[str, frozenset[Right]] = {
    "driver": frozenset({Right.COLLECT}),
    "manager": frozenset({Right.APPROVE_DISCOUNT, Right.VOID_COLLECTION}),
    "office": frozenset({Right.VOID_COLLECTION, Right.ISSUE_CREDIT_NOTE, Right.RECORD_PAYMENTS}),
    "admin": PAYMENT_RIGHTS,
}

LABELS: Mapping[Right, tuple[str, str]] = {
    Right.COLLECT: ("encaisser", "collect"),
    Right.APPROVE_DISCOUNT: ("accorder une remise", "approve a discount"),
    Right.VOID_COLLECTION: ("annuler un encaissement", "void a collection"),
    Right.ISSUE_CREDIT_NOTE: ("émettre un avoir", "issue a credit note"),
    Right.EDIT_CONTRACTS: ("modifier les conventions", "edit contracts"),
    Right.MANAGE_DEVICES: ("gérer les tablettes", "manage devices"),
    Right.RECONCILE: ("rapprocher les caisses", "reconcile"),
    Right.MANAGE_USERS: ("gérer les utilisateurs", "manage users"),
    Right.MANAGE_MISSIONS: ("gérer les missions", "manage missions"),
    Right.RECORD_PAYMENTS: ("enregistrer les règlements reçus", "record payments received"),
    Right.ACKNOWLEDGE_ALERTS: ("traiter les alertes de sécurité", "handle security alerts"),
    Right.MANAGE_PARTY_KEYS: (
        "gérer les clés d'API des donneurs d'ordre",
        "manage ordering parties' API keys",
    ),
}


def effective_rights(payments_enabled: bool, role_rights: Collection[str]) -> frozenset[Right]:
    """The rights a role really gives: unknown names ignored, payment rights only when
    the tenant's payments module is on."""
    rights = frozenset(Right(r) for r in role_rights if r in ALL_RIGHTS)
    return rights if payments_enabled else rights - PAYMENT_RIGHTS


def transaction_refusal(payments_enabled: bool, role_rights: Collection[str]) -> Forbidden | None:
    """Why this role may not record a transaction, or None if it may (seed 004)."""
    if not payments_enabled:
        return Forbidden(
            "Le module Paiements n'est pas activé pour cette société : aucun encaissement "
            "ne peut être enregistré.",
            "The payments module is not enabled for this company: no transaction can be recorded.",
            code="payments_disabled",
        )
    if TRANSACTION_RIGHT not in effective_rights(payments_enabled, role_rights):
        return Forbidden(
            "Ce rôle n'a pas le droit « encaisser » : demandez à un administrateur de le lui "
            "attribuer.",
            "This role lacks the right 'collect': ask an administrator to grant it.",
            code="right_missing",
        )
    return None


def may_record_transactions(payments_enabled: bool, role_rights: Collection[str]) -> bool:
    return transaction_refusal(payments_enabled, role_rights) is None


def missing_right(right: Right) -> Forbidden:
    fr, en = LABELS[right]
    return Forbidden(
        f"Droit requis : « {fr} ». Demandez-le à un administrateur.",
        f"Right required: '{en}'. Ask an administrator for it.",
        code="right_missing",
    )
