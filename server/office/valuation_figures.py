"""The figures a stored valuation keeps beside its body, for readers that must not parse it.

A valuation's body (its wire form, a few kilobytes) is the truth; reconciliation reads
only a handful of its fields for each mission: what the beneficiary owes (the
`beneficiary_due_cents` column, since the first schema), the contract version (its
payment moment and accepted methods) and how much of the file's cap was consumed before
it (`file_cap_gap`). Parsing every body made up a quarter of a whole reconciliation, so
these are written as columns when the row is stored (migration 0014 fills the rows
stored before). `towline-server verify` checks them against the body
(server.office.stored_columns), like every other derived column.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from shared.money import parse_amount

CONTRACT_ID_LENGTH = 64  # the column's size (contracts.id is as long)


class Figures(NamedTuple):
    """What reconciliation reads of one valuation."""

    due_cents: int | None
    contract_id: str | None
    contract_version: int | None
    file_cap_before_cents: int | None  # None: the valuation shows no file cap

    @property
    def contract(self) -> tuple[str, int] | None:
        """The contract version valued with, as its key (None: the body names none)."""
        if not self.contract_id:
            return None
        return self.contract_id, self.contract_version or 0


def columns(body: Mapping[str, Any]) -> dict[str, Any]:
    """The row's columns derived from a valuation's wire form (besides its due amount)."""
    contract = body.get("contract")
    name = contract.get("id") if isinstance(contract, Mapping) else None
    version = contract.get("version") if isinstance(contract, Mapping) else None
    cap = body.get("file_cap")
    before = cap.get("consumed_before") if isinstance(cap, Mapping) and cap else None
    # What a tablet wrote, bounded to what the columns hold: beyond, left empty (read
    # from the body), never a push or a migration refused by the database.
    cents = None if before is None else _cents(before)
    return {
        "contract_id": name if _fits(name) else None,
        "contract_version": version if _is_int(version, 2**31) else None,
        "file_cap_before_cents": cents if _is_int(cents, 2**63) else None,
    }


def of_body(body: Mapping[str, Any], due_cents: int | None) -> Figures:
    """The figures of a row stored without its columns, read from its body."""
    derived = columns(body)
    return Figures(
        due_cents,
        derived["contract_id"],
        derived["contract_version"],
        derived["file_cap_before_cents"],
    )


def _fits(name: object) -> bool:
    """A contract id the column holds (PostgreSQL refuses a NUL in text)."""
    return isinstance(name, str) and len(name) <= CONTRACT_ID_LENGTH and "\x00" not in name


def _is_int(value: object, bound: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and -bound < value < bound


def _cents(amount: object) -> int | None:
    try:
        return int(parse_amount(amount) * 100)
    except (ValueError, TypeError, ArithmeticError):  # TypeError: a float (FloatRefused)
        return None
