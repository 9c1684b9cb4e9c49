"""The symbol switcher: a filterable list of the listed symbols with their tick, lot and status."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option

from client import format as fmt
from exchange.protocol import SymbolInfo

__all__ = ["SymbolSwitcher"]


class SymbolSwitcher(ModalScreen[str | None]):
    """Pick a symbol: type to filter, arrows to move, Enter to show it, Escape to stay."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss_none", "Back", id="symbols.back"),
        Binding("down", "focus_list", "List", show=False, id="symbols.list"),
    ]

    def __init__(self, symbols: dict[str, SymbolInfo], current: str) -> None:
        super().__init__()
        self.symbols = symbols
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="symbols-box", classes="modal-box") as box:
            box.border_title = "Switch symbol"
            yield Input(placeholder="type to filter, Enter to show", compact=True, id="symbol-filter")
            yield OptionList(*self._options(""), id="symbol-list")

    def _options(self, query: str) -> list[Option]:
        out = []
        for info in self.symbols.values():
            if query.upper() not in info.symbol:
                continue
            text = Text()
            shown = info.symbol == self.current
            text.append("● " if shown else "  ", style="bold yellow")
            text.append(f"{info.symbol:<12}", style="bold" if shown else "")
            text.append(f" tick {fmt.price(info.tick):>6}  lot {info.lot:>4}  ", style="dim")
            text.append(info.status, style="green" if info.status == "trading" else "bold red")
            out.append(Option(text, id=info.symbol))
        return out

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        if self.current in self.symbols:
            options.highlighted = list(self.symbols).index(self.current)
        self.query_one(Input).focus()

    @on(Input.Changed)
    def _filter(self, event: Input.Changed) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options(self._options(event.value))
        if options.option_count:
            options.highlighted = 0

    @on(Input.Submitted)
    def _take_first(self) -> None:
        options = self.query_one(OptionList)
        if options.highlighted is not None:
            self.dismiss(options.get_option_at_index(options.highlighted).id)

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_focus_list(self) -> None:
        """Move from the filter to the list."""
        self.query_one(OptionList).focus()

    def action_dismiss_none(self) -> None:
        """Close without switching."""
        self.dismiss(None)
