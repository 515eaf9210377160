"""`towline-field register …`: the signed-in driver's cash register."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import click

from fieldclient import render
from fieldclient.cli.common import (
    AMOUNT,
    AMOUNT_OR_ZERO,
    Env,
    command,
)

COMMANDS: list[click.Command] = []


@click.group()
def register() -> None:
    """The signed-in driver's cash register: open, status, deposit, close.

    \b
    Example:
      towline-field register open --float 50.00
      towline-field register close --counted 149.00
    """


def _show_register(env: Env, reg: Any, extra: dict[str, Any] | None = None) -> None:
    driver = env.tablet.signed_in()
    env.out(
        {"driver": driver.id, **render.register_json(reg), **(extra or {})},
        render.register_text(reg, driver.name, env.lang),
    )


@command(register, "open")
@click.option(
    "--float", "float_amount", required=True, type=AMOUNT_OR_ZERO, help="Change in the drawer."
)
def register_open(env: Env, float_amount: Decimal) -> None:
    """Open the register with the change in the drawer.

    \b
    Example:
      towline-field register open --float 50.00
    """
    _show_register(env, env.tablet.register_open(float_amount))


@command(register, "status")
def register_status(env: Env) -> None:
    """What the drawer should hold, and what was taken per method.

    \b
    Example:
      towline-field register status
    """
    driver = env.tablet.signed_in()
    _show_register(env, env.tablet.register(driver.id))


@command(register, "deposit")
@click.option("--amount", required=True, type=AMOUNT, help="Cash paid into the bank.")
@click.option("--reference", required=True, help="The deposit slip number.")
def register_deposit(env: Env, amount: Decimal, reference: str) -> None:
    """Cash taken out of the drawer and paid into the bank.

    \b
    Example:
      towline-field register deposit --amount 100.00 --reference BORD-1187
    """
    _show_register(env, env.tablet.register_deposit(amount, reference))


@command(register, "close")
@click.option("--counted", required=True, type=AMOUNT_OR_ZERO, help="Cash counted in the drawer.")
def register_close(env: Env, counted: Decimal) -> None:
    """Close the register with the cash counted; the variance goes to the office.

    \b
    Example:
      towline-field register close --counted 149.00
    """
    reg, payload = env.tablet.register_close(counted)
    _show_register(env, reg, {"closing": dict(payload)})


COMMANDS.append(register)
