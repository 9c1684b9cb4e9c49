"""The admin panel: one modal form per action, each showing the server's answer.

A form checks what was typed (in plain words), sends one admin request over
the console's session through its :class:`AdminHost` (the app), and shows the
answer, success or refusal, until the operator closes it with Escape. After a
success the fields are emptied (a second Enter cannot send the same gift
again). Forms that name a user list the users they apply to (type to filter,
Tab to the list, Enter to pick). Every answer is also posted as
:class:`AdminForm.Answered` so the app can put it on the tape.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, ClassVar, Protocol, cast

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Label, OptionList, Static

from client.errors import ClientError
from client.session import Session
from console.answers import describe_error, describe_reply
from console.format import parse_dollars
from exchange.bounds import MAX_PASSWORD_BYTES

__all__ = [
    "AddUserForm",
    "AdminForm",
    "AdminHost",
    "DisableUserForm",
    "EnableUserForm",
    "GiftForm",
    "PasswordForm",
    "SymbolForm",
    "check_password",
    "parse_shares",
]

Call = Callable[[Session], Awaitable[Any]]
_SHARE = re.compile(r"\s*([A-Za-z0-9._-]+)\s*[=:]\s*(\d[\d,_]*)\s*")


class AdminHost(Protocol):
    """What a form needs from the app: a way to send one admin request, and to hear of a new password."""

    async def admin_call(self, call: Call) -> Any:
        """Run ``call(session)`` on the live admin session (ClientError when not connected)."""

    def password_changed(self, username: str, password: str) -> None:
        """The password of ``username`` is now ``password`` (the console's own login: log in again with it)."""


def check_password(password: str) -> str:
    """A new password as typed, if the server can take it (bcrypt reads at most 72 bytes of UTF-8).

    Raises:
        ValueError: empty or too long, in plain words.
    """
    if not password:
        raise ValueError("Give a password.")
    size = len(password.encode("utf-8", "surrogatepass"))
    if size > MAX_PASSWORD_BYTES:
        raise ValueError(f"The password is {size} bytes of UTF-8; at most {MAX_PASSWORD_BYTES} are allowed.")
    return password


def parse_shares(text: str) -> dict[str, int]:
    """``ACME=100, BOLT=5`` to ``{"ACME": 100, "BOLT": 5}``.

    Raises:
        ValueError: in plain words, what is wrong.
    """
    shares: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        match = _SHARE.fullmatch(part)
        if match is None:
            raise ValueError(f"Shares: write SYMBOL=QTY separated by commas (e.g. ACME=100), not {part!r}.")
        shares[match.group(1).upper()] = int(match.group(2).replace(",", "").replace("_", ""))
    return shares


def _quantity(text: str, what: str) -> int:
    raw = text.strip().replace(",", "").replace("_", "")
    if not raw:
        return 0
    if not raw.isdigit():
        raise ValueError(f"{what} must be a whole number of shares, not {text!r}.")
    return int(raw)


class AdminForm(ModalScreen[None]):
    """The frame of every admin form: title, fields, buttons and the answer line."""

    FORM_TITLE: ClassVar[str] = ""
    SUBMIT: ClassVar[str] = "Send"
    HELP: ClassVar[str] = ""
    BINDINGS = [Binding("escape", "close", "Close", id="admin.close")]

    class Answered(Message):
        """The server answered a form's request (or the form refused to send it)."""

        def __init__(self, text: str, ok: bool) -> None:
            super().__init__()
            self.text = text
            self.ok = ok

    PICK: ClassVar[str | None] = None
    """Which users the form's picker lists: ``"all"``, ``"active"``, ``"disabled"`` (None: no picker)."""

    def __init__(self, *, users: Iterable[str] = (), symbols: Iterable[str] = (),
                 disabled: Iterable[str] = ()) -> None:
        super().__init__()
        self.users = sorted(users)
        self.disabled_users = frozenset(disabled)
        self.symbols = sorted(symbols)
        self.answer: str = ""
        self.ok: bool | None = None
        self.form_title, self.submit_label, self.help_text = self.FORM_TITLE, self.SUBMIT, self.HELP

    def compose(self) -> ComposeResult:
        with Vertical(classes="admin-form") as form:
            form.border_title = self.form_title
            if self.help_text:
                yield Static(self.help_text, classes="form-help")
            yield from self.fields()
            with Horizontal(classes="form-buttons"):
                yield Button(self.submit_label, variant="primary", id="submit", compact=True)
                yield Button("Close", id="close", compact=True)
            yield Static("", id="answer", classes="form-answer")

    def fields(self) -> ComposeResult:
        """The form's inputs (labels and inputs)."""
        yield from ()

    def request(self) -> Call:
        """The request to send, from what was typed.

        Raises:
            ValueError: what is wrong with the input, in plain words.
        """
        raise NotImplementedError

    @staticmethod
    def row(label: str, widget: Widget) -> Horizontal:
        """One line of the form: its label, then its input."""
        return Horizontal(Label(label), widget, classes="form-field")

    def field(self, name: str) -> str:
        """The text of input ``#name``."""
        return self.query_one(f"#{name}", Input).value.strip()

    @staticmethod
    def password_input(name: str = "password", placeholder: str = "password") -> Input:
        """A masked password input (its value is taken as typed, spaces included)."""
        return Input(placeholder=placeholder, password=True, id=name, compact=True)

    def user_input(self, name: str = "username", value: str = "") -> Input:
        """A user-name input that suggests known users."""
        return Input(value=value, placeholder="user name", id=name, compact=True,
                     suggester=SuggestFromList(self.users, case_sensitive=True))

    def pickable(self, typed: str = "") -> list[str]:
        """The users the picker lists (see :attr:`PICK`) whose name contains ``typed``."""
        pick = self.PICK or "all"
        return [u for u in self.users if typed.lower() in u.lower()
                and (pick == "all" or (u in self.disabled_users) == (pick == "disabled"))]

    def user_picker(self) -> OptionList:
        """The list of :meth:`pickable` users under the user-name input."""
        picker = OptionList(*self.pickable(), id="user-picker", classes="user-picker", compact=True)
        picker.border_title = "users (Tab here, Enter picks)"
        return picker

    def on_mount(self) -> None:
        if self.PICK is not None:
            picker = self.query_one("#user-picker", OptionList)
            picker.highlighted = 0 if picker.option_count else None

    @on(Input.Changed, "#username")
    def _filter_users(self, event: Input.Changed) -> None:
        if self.PICK is None:
            return
        picker = self.query_one("#user-picker", OptionList)
        picker.clear_options()
        picker.add_options(self.pickable(event.value))
        picker.highlighted = 0 if picker.option_count else None

    @on(OptionList.OptionSelected, "#user-picker")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        name = self.query_one("#username", Input)
        with name.prevent(Input.Changed):
            name.value = str(event.option.prompt)
        self.set_focus(self.after_pick())

    def after_pick(self) -> Widget:
        """Where the focus goes once a user is picked: the button (Enter again sends)."""
        return self.query_one("#submit", Button)

    def clear_fields(self) -> None:
        """Empty every input and checkbox (after a success), back to the first field."""
        for field in self.query(Input):
            with field.prevent(Input.Changed):
                field.value = ""
        for box in self.query(Checkbox):
            box.value = False
        if self.PICK is not None:
            self._filter_users(Input.Changed(self.query_one("#username", Input), ""))
        first = self.query(Input).first() if self.query(Input) else None
        if first is not None:
            first.focus()

    def symbol_input(self, value: str = "", *, name: str = "symbol") -> Input:
        """A symbol input that suggests listed symbols."""
        return Input(value=value, placeholder="symbol, e.g. ACME", id=name, compact=True,
                     suggester=SuggestFromList(self.symbols, case_sensitive=False))

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        """Close the form."""
        self.dismiss(None)

    @on(Button.Pressed, "#submit")
    @on(Input.Submitted)
    def submit(self) -> None:
        """Check the input and send the request in a worker."""
        try:
            call = self.request()
        except ValueError as exc:
            self.show_answer(str(exc), False)
            return
        self.show_answer("Sending…", None)
        self.run_worker(self._send(call), exclusive=True, group="admin-request")

    async def _send(self, call: Call) -> None:
        host = cast(AdminHost, self.app)
        try:
            reply = await host.admin_call(call)
        except ClientError as exc:
            self.show_answer(describe_error(exc), False)
        else:
            self.show_answer(describe_reply(reply), True)
            self.done(reply)
            self.clear_fields()
        self.post_message(self.Answered(self.answer, bool(self.ok)))

    def done(self, reply: Any) -> None:
        """A request succeeded: what the form knows changes (e.g. who is disabled)."""

    def show_answer(self, text: str, ok: bool | None) -> None:
        """Show the answer (ok True: success, False: refused, None: waiting)."""
        self.answer, self.ok = text, ok
        line = self.query_one("#answer", Static)
        line.update(text)
        line.set_class(ok is True, "-ok")
        line.set_class(ok is False, "-error")


class AddUserForm(AdminForm):
    """``user_add``: a new user with a password, a role, cash and shares."""

    FORM_TITLE = "Add a user"
    SUBMIT = "Add user"
    HELP = "The user can log in as soon as the server answers."

    def fields(self) -> ComposeResult:
        yield self.row("User name", Input(placeholder="1-32 of A-Z a-z 0-9 _ . -", id="username", compact=True))
        yield self.row("Password", self.password_input())
        yield self.row("Role", Checkbox("administrator (cannot trade)", id="admin", compact=True))
        yield self.row("Cash ($)", Input(placeholder="e.g. 100000 or 2500.50", id="cash", compact=True))
        yield self.row("Shares", Input(placeholder="e.g. ACME=100, BOLT=50", id="shares", compact=True,
                                       suggester=SuggestFromList([f"{s}=" for s in self.symbols],
                                                                 case_sensitive=False)))

    def request(self) -> Call:
        name = self.field("username")
        if not name:
            raise ValueError("Give a user name.")
        password = check_password(self.query_one("#password", Input).value)
        role = "admin" if self.query_one("#admin", Checkbox).value else "trader"
        cash = _dollars(self.field("cash"))
        shares = parse_shares(self.field("shares"))
        return lambda s: s.user_add(name, password, role=role, cash=cash, positions=shares)  # type: ignore[arg-type]


class GiftForm(AdminForm):
    """``deposit``: the admin gives a user cash and/or shares."""

    FORM_TITLE = "Gift cash or shares"
    SUBMIT = "Give"
    HELP = "Cash and shares enter the exchange only this way."
    PICK = "all"

    def __init__(self, *, username: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.username = username

    def fields(self) -> ComposeResult:
        yield self.row("To user", self.user_input(value=self.username))
        yield self.row("Cash ($)", Input(placeholder="e.g. 1000 (empty: none)", id="cash", compact=True))
        yield self.row("Shares of", self.symbol_input())
        yield self.row("Quantity", Input(placeholder="e.g. 100 (empty: none)", id="qty", compact=True))
        yield self.user_picker()

    def request(self) -> Call:
        name = self.field("username")
        if not name:
            raise ValueError("Give the user name of the receiver.")
        cash = _dollars(self.field("cash"))
        symbol = self.field("symbol").upper() or None
        qty = _quantity(self.field("qty"), "Quantity")
        if qty and symbol is None:
            raise ValueError("Say which symbol the shares are of.")
        if symbol is not None and not qty:
            raise ValueError(f"Say how many {symbol} shares to give.")
        if not cash and not qty:
            raise ValueError("Give some cash, some shares, or both.")
        return lambda s: s.deposit(name, cash=cash, symbol=symbol, qty=qty)


class _UserForm(AdminForm):
    """A form of one user name and its picker (disable, enable, password), and what :meth:`more_fields` adds."""

    VERB: ClassVar[str] = ""

    def __init__(self, *, username: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.username = username

    def fields(self) -> ComposeResult:
        yield self.row("User name", self.user_input(value=self.username))
        yield from self.more_fields()
        yield self.user_picker()

    def more_fields(self) -> ComposeResult:
        """The inputs between the user name and the picker (none)."""
        yield from ()

    def chosen_user(self) -> str:
        """The user name typed or picked.

        Raises:
            ValueError: none.
        """
        name = self.field("username")
        if not name:
            raise ValueError(f"Give the user name to {self.VERB} (or pick one from the list).")
        return name


class DisableUserForm(_UserForm):
    """``user_disable``: log a user out and refuse their logins."""

    FORM_TITLE = "Disable a user"
    SUBMIT = "Disable"
    HELP = "Closes all the user's sessions and refuses their logins and tokens until enabled again (n)."
    PICK = "active"
    VERB = "disable"

    def request(self) -> Call:
        name = self.chosen_user()
        return lambda s: s.user_disable(name)

    def done(self, reply: Any) -> None:
        self.disabled_users |= {reply.username}


class EnableUserForm(_UserForm):
    """``user_enable``: let a disabled user log in again."""

    FORM_TITLE = "Enable a user"
    SUBMIT = "Enable"
    HELP = "The user can log in again."
    PICK = "disabled"
    VERB = "enable"

    def request(self) -> Call:
        name = self.chosen_user()
        return lambda s: s.user_enable(name)

    def done(self, reply: Any) -> None:
        self.disabled_users -= {reply.username}


class PasswordForm(_UserForm):
    """``user_passwd``: set a user's password (typed twice); their other sessions end."""

    FORM_TITLE = "Change a password"
    SUBMIT = "Change"
    HELP = "Closes the user's sessions (not this console's) and revokes their tokens: only the new password logs in."
    PICK = "all"
    VERB = "change the password of"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._sent: tuple[str, str] | None = None

    def more_fields(self) -> ComposeResult:
        yield self.row("Password", self.password_input(placeholder="the new password"))
        yield self.row("Again", self.password_input("again", placeholder="the same again"))

    def after_pick(self) -> Widget:
        password = self.query_one("#password", Input)
        return super().after_pick() if password.value else password

    def request(self) -> Call:
        name = self.chosen_user()
        password = check_password(self.query_one("#password", Input).value)
        again = self.query_one("#again", Input).value
        if not again:
            raise ValueError("Type the new password again in the second field.")
        if again != password:
            raise ValueError("The two passwords differ; type the same one twice.")
        self._sent = (name, password)
        return lambda s: s.user_passwd(name, password)

    def done(self, reply: Any) -> None:
        if self._sent is not None and self._sent[0] == reply.username:
            cast(AdminHost, self.app).password_changed(*self._sent)
        self._sent = None


class SymbolForm(AdminForm):
    """``halt`` or ``resume`` one symbol."""

    def __init__(self, action: str, *, symbol: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if action not in ("halt", "resume"):
            raise ValueError(f"unknown symbol action {action!r}")
        self.action = action
        self.symbol = symbol
        halt = action == "halt"
        self.form_title = "Halt a symbol" if halt else "Resume a symbol"
        self.submit_label = "Halt" if halt else "Resume"
        self.help_text = ("New orders and replaces are refused while halted; cancels still work." if halt
                          else "Orders are accepted again.")

    def fields(self) -> ComposeResult:
        yield self.row("Symbol", self.symbol_input(self.symbol))

    def request(self) -> Call:
        symbol = self.field("symbol").upper()
        if not symbol:
            raise ValueError("Give a symbol.")
        if self.action == "halt":
            return lambda s: s.halt(symbol)
        return lambda s: s.resume(symbol)


def _dollars(text: str) -> int:
    """The cash field: dollars as typed, in cents (empty: none)."""
    return parse_dollars(text) if text.strip() else 0
