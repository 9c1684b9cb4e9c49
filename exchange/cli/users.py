"""``exch user …``: administration that works whether or not the server runs.

While a server holds the home, changes go to it over the wire as the admin
(so they take effect at once and deposits are journaled by it); otherwise the
command takes the home's lock and applies them to the store and journal itself.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import typer

from exchange.cli.common import (
    DbOption,
    HomeOption,
    cli_errors,
    existing_store,
    fail,
    resolve_home,
    server_running,
    with_admin,
)

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, help="Add, list, disable and fund users.")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline().rstrip("\n")
        if not line:
            fail("no password on standard input")
        return line
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not password:
        fail("the password cannot be empty")
    return password


def _shares(specs: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for spec in specs:
        symbol, sep, qty = spec.partition("=")
        if not sep or not symbol or not qty.isdigit() or int(qty) <= 0:
            fail(f"--shares takes SYMBOL=QTY with a positive QTY, not {spec!r}")
        out[symbol.upper()] = out.get(symbol.upper(), 0) + int(qty)
    return out


def _cash(text: str) -> int:
    """``--cash`` in dollars (``1000``, ``1,000.50``, ``$12``) as cents; one readable line if not an amount."""
    from exchange.money import parse_dollars

    try:
        return parse_dollars(text)
    except ValueError as exc:
        fail(f"--cash: {exc}")


def _gifts(cash: int, shares: dict[str, int]) -> str:
    """``$1,000.50 cash and 7 ACME`` (cash and shares as a person reads them)."""
    from exchange.money import dollars

    parts = ([f"{dollars(cash)} cash"] if cash else []) + [f"{q:,} {s}" for s, q in shares.items()]
    return " and ".join(parts)


def _offline(root: Path, db: str | None, action: Any) -> Any:
    """Run ``action(store, ledger_factory)`` holding the home lock."""
    from exchange.home import home_lock
    from exchange.ledger import Ledger
    from exchange.store import open_store

    with home_lock(root):
        store = open_store(db, home=root)
        try:
            return action(store, lambda: Ledger.open(store))
        finally:
            store.close()


def _deposit_offline(ledger: Any, user_id: int, cash: int, shares: dict[str, int]) -> None:
    from exchange.engine.commands import Deposit

    gifts = ([Deposit(user_id, cash=cash)] if cash else []) + [
        Deposit(user_id, symbol=s, qty=q) for s, q in shares.items()
    ]
    for gift in gifts:
        _, events = ledger.submit(gift)
        if getattr(events[0], "code", None):
            fail(f"deposit refused: {events[0].message}")  # the engine's words (amounts in dollars)


@app.command("add")
def add(
    name: str = typer.Argument(..., help="The new user's name."),
    role: str = typer.Option("trader", help="trader or admin."),
    cash_text: str = typer.Option("0", "--cash", metavar="DOLLARS",
                                  help="Initial cash in dollars, e.g. 10000 or 2,500.50."),
    shares: list[str] = typer.Option([], "--shares", metavar="SYMBOL=QTY",
                                     help="Initial shares, SYMBOL=QTY (repeatable)."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
    home: Path | None = HomeOption,
    db: str | None = DbOption,
) -> None:
    """Create a user (with initial cash and shares); they can log in at once."""
    with cli_errors():
        if role not in ("trader", "admin"):
            fail("--role is trader or admin")
        gifts = _shares(shares)
        cash = _cash(cash_text)
        root = resolve_home(home)
        password = _password(password_stdin)
        if server_running(root):
            with_admin(root, lambda s: s.user_add(name, password, role=role, cash=cash, positions=gifts))
        else:
            def act(store: Any, open_ledger: Any) -> None:
                unknown = [s for s in gifts]
                with open_ledger() as ledger:
                    unknown = [s for s in gifts if s not in ledger.engine.books]
                    if unknown:
                        fail(f"unknown symbol {unknown[0]}")
                    user = store.add_user(name, password, role=role)
                    _deposit_offline(ledger, user.id, cash, gifts)

            _offline(root, db, act)
        given = _gifts(cash, gifts)
        typer.echo(f"Added {role} {name}" + (f" with {given}" if given else "") + ".")


@app.command("list")
def list_users(home: Path | None = HomeOption, db: str | None = DbOption) -> None:
    """List users: name, role, disabled, created."""
    with cli_errors():
        import time

        with existing_store(db, home) as store:
            users = store.users()
        if not users:
            typer.echo("No users.")
            return
        width = max(len(u.name) for u in users)
        for u in users:
            created = time.strftime("%Y-%m-%d %H:%M", time.localtime(u.created / 1e9))
            flag = "disabled" if u.disabled else "active"
            typer.echo(f"{u.name:<{width}}  {u.role:<6}  {flag:<8}  {created}")


def _set_disabled(name: str, disabled: bool, home: Path | None, db: str | None) -> None:
    root = resolve_home(home)
    if server_running(root):
        with_admin(root, lambda s: s.user_disable(name) if disabled else s.user_enable(name))
    else:
        _offline(root, db, lambda store, _: store.set_disabled(name, disabled))


@app.command("disable")
def disable(name: str, home: Path | None = HomeOption, db: str | None = DbOption) -> None:
    """Disable a user: their sessions end and their logins are refused."""
    with cli_errors():
        _set_disabled(name, True, home, db)
        typer.echo(f"Disabled {name}: sessions closed, logins refused until `exch user enable {name}`.")


@app.command("enable")
def enable(name: str, home: Path | None = HomeOption, db: str | None = DbOption) -> None:
    """Let a disabled user log in again."""
    with cli_errors():
        _set_disabled(name, False, home, db)
        typer.echo(f"Enabled {name}: they can log in again.")


def _keep_admin_password_file(root: Path, name: str, password: str) -> str:
    """After ``name``'s password changed: if ``HOME/admin-password`` holds it, put the new one there.

    Returns what to add to the command's line ("" when the file is not this user's).
    """
    from exchange.home import FIRST_ADMIN, save_admin_password
    from exchange.info import ADMIN_PASSWORD_FILE

    if name != FIRST_ADMIN or not (root / ADMIN_PASSWORD_FILE).exists():
        return ""
    try:
        path = save_admin_password(root, password)
    except OSError as exc:
        fail(f"the password of {name} changed, but {root / ADMIN_PASSWORD_FILE} could not be updated "
             f"({exc.strerror or exc}): put the new password there")
    note = f" Saved the new password to {path} (mode 0600)"
    if os.environ.get("EXCH_ADMIN_PASSWORD") is not None:
        note += "; EXCH_ADMIN_PASSWORD still holds the old one"
    return note + "."


@app.command("passwd")
def passwd(
    name: str,
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
    home: Path | None = HomeOption,
    db: str | None = DbOption,
) -> None:
    """Set a user's password; their sessions end and their reconnect tokens stop working at once."""
    with cli_errors():
        root = resolve_home(home)
        password = _password(password_stdin)
        if server_running(root):
            reply = with_admin(root, lambda s: s.user_passwd(name, password))
            closed = reply.sessions_closed
            sessions = f"{closed} session{'' if closed == 1 else 's'} closed"
            line = f"Changed the password of {name}: {sessions}; their reconnect tokens no longer work."
        else:  # under the home's lock, as every offline change: no server starts in between
            _offline(root, db, lambda store, _: store.set_password(name, password))
            line = f"Changed the password of {name}; their reconnect tokens no longer work."
        typer.echo(line + _keep_admin_password_file(root, name, password))


@app.command("deposit")
def deposit(
    name: str,
    cash_text: str = typer.Option("0", "--cash", metavar="DOLLARS", help="Cash to gift in dollars, e.g. 500 or 12.50."),
    shares: list[str] = typer.Option([], "--shares", metavar="SYMBOL=QTY",
                                     help="Shares to gift, SYMBOL=QTY (repeatable)."),
    home: Path | None = HomeOption,
    db: str | None = DbOption,
) -> None:
    """Gift a user cash and/or shares (journaled like any command)."""
    with cli_errors():
        gifts = _shares(shares)
        cash = _cash(cash_text)
        if not cash and not gifts:
            fail("give --cash and/or --shares")
        root = resolve_home(home)
        if server_running(root):
            async def send(s: Any) -> None:
                if cash:
                    await s.deposit(name, cash=cash)
                for symbol, qty in gifts.items():
                    await s.deposit(name, symbol=symbol, qty=qty)

            with_admin(root, send)
        else:
            def act(store: Any, open_ledger: Any) -> None:
                user = store.get_user(name)
                if user is None:
                    fail(f"no user {name!r}")
                with open_ledger() as ledger:
                    for symbol in gifts:
                        if symbol not in ledger.engine.books:
                            fail(f"unknown symbol {symbol}")
                    _deposit_offline(ledger, user.id, cash, gifts)

            _offline(root, db, act)
        typer.echo(f"Gave {name} {_gifts(cash, gifts)}.")
