"""The level-3 depth ladder: price levels around the spread, every resting order in queue order.

A Line API widget: :meth:`Ladder.render_line` returns one prepared
:class:`~textual.strip.Strip` per row. The rows are rebuilt from the
:class:`~client.trade.model.TradeModel` only when :meth:`Ladder.sync` sees a
new model version — the app calls it at a steady rate (10 to 20 times a second),
however fast the book changes.

Layout, top to bottom: a column header; the asks, worst at the top and the best
ask just above the spread; a spread line (spread, last trade); the bids, best
first. Each row: a cursor mark, a mark when the trader has orders there, the
price (``◂`` on the last trade's price), the level's total size, the cumulative
size from the best price to this one (what a sweep to it would take), then the
individual orders' sizes oldest first — the trader's own highlighted, so their
queue position is visible. When the orders do not fit, ``+N`` says how many are
hidden and ``me#K`` where the first hidden own order stands.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from client import format as fmt
from client.trade.model import LadderLevel, TradeModel

__all__ = ["Ladder"]

RowKey = tuple[str, int]
"""``(side, price)`` of a ladder row."""
Styler = Callable[[Style], Style]


class Ladder(Widget, can_focus=True):
    """The depth ladder of the selected symbol (see the module docstring)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "move(-1)", "Up", show=False, id="ladder.up"),
        Binding("down", "move(1)", "Down", show=False, id="ladder.down"),
        Binding("enter", "choose", "Use price", show=False, id="ladder.choose"),
        Binding("home", "center", "Center", show=False, id="ladder.center"),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "ladder--header",
        "ladder--ask",
        "ladder--bid",
        "ladder--size",
        "ladder--queue",
        "ladder--mine",
        "ladder--cursor",
        "ladder--spread",
        "ladder--last",
        "ladder--dim",
        "ladder--warn",
    }

    DEFAULT_CSS = """
    Ladder { height: 1fr; }
    Ladder > .ladder--header { color: $text-muted; text-style: bold; }
    Ladder > .ladder--ask { color: $error; }
    Ladder > .ladder--bid { color: $success; }
    Ladder > .ladder--size { color: $foreground; }
    Ladder > .ladder--queue { color: $text-muted; }
    Ladder > .ladder--mine { background: $warning 70%; color: $background; text-style: bold; }
    Ladder > .ladder--cursor { background: $accent 30%; }
    Ladder > .ladder--spread { color: $text-muted; }
    Ladder > .ladder--last { color: $warning; text-style: bold; }
    Ladder > .ladder--dim { color: $text-disabled; }
    Ladder > .ladder--warn { color: $warning; text-style: bold; }
    """

    class PriceSelected(Message):
        """The trader chose a ladder level (Enter or a click): use its price."""

        def __init__(self, side: str, price: int) -> None:
            super().__init__()
            self.side = side
            self.price = price

    def __init__(self, model: TradeModel, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.model = model
        self.cursor: RowKey | None = None
        self._seen = -1
        self._built_size = (0, 0)
        self._lines: list[Strip] = []
        self._keys: list[RowKey | None] = []
        self.asks: list[LadderLevel] = []
        self.bids: list[LadderLevel] = []
        self.rebuilds = 0
        self._style_cache: dict[str, Style] | None = None

    # ------------------------------------------------------------------ updates

    def sync(self) -> bool:
        """Rebuild the rows if the model changed since the last call; returns whether it did."""
        if self.model.version == self._seen and self.size == self._built_size:
            return False
        self._rebuild()
        self.refresh()
        return True

    def on_resize(self, event: events.Resize) -> None:
        self._rebuild()

    def _styles(self) -> dict[str, Style]:
        """The component styles over the widget's own (cached until the CSS or theme changes)."""
        if self._style_cache is None:
            base = self.rich_style
            self._style_cache = {
                name.removeprefix("ladder--"): base + self.get_component_rich_style(name)
                for name in self.COMPONENT_CLASSES
            }
            self._style_cache["base"] = base
        return self._style_cache

    def notify_style_update(self) -> None:
        self._style_cache = None
        super().notify_style_update()

    def _rebuild(self) -> None:
        self._seen = self.model.version
        self._built_size = self.size
        width, height = self.size
        self.rebuilds += 1
        if height <= 0 or width <= 0:
            self._lines, self._keys = [], []
            return
        st = self._styles()
        base = st["base"]
        body = max(0, height - 2)
        n_asks = body // 2
        n_bids = body - n_asks
        self.asks, self.bids = self.model.ladder(n_asks, n_bids)
        self._fix_cursor(n_asks, n_bids)
        levels = [*self.asks, *self.bids]
        price_w = max([7, *(len(fmt.price(lv.price)) for lv in levels)])
        size_w = max([6, *(len(fmt.qty(lv.cum)) for lv in levels)])
        last = self.model.last_trade
        last_price = last.price if last is not None else None
        stale = not self.model.synced

        lines: list[Strip] = [self._header(width, price_w, size_w, st)]
        keys: list[RowKey | None] = [None]
        pad = n_asks - len(self.asks)
        for i in range(pad):
            text = "  (no asks)" if i == pad - 1 and not self.asks and self.model.book is not None else ""
            lines.append(self._plain(text, width, st["dim"]))
            keys.append(None)
        for lv in reversed(self.asks):
            lines.append(self._row(lv, width, price_w, size_w, last_price, stale, st))
            keys.append((lv.side, lv.price))
        if height >= 2:
            lines.append(self._spread(width, st))
            keys.append(None)
        for lv in self.bids:
            lines.append(self._row(lv, width, price_w, size_w, last_price, stale, st))
            keys.append((lv.side, lv.price))
        if not self.bids and self.model.book is not None and len(lines) < height:
            lines.append(self._plain("  (no bids)", width, st["dim"]))
            keys.append(None)
        while len(lines) < height:
            lines.append(Strip.blank(width, base))
            keys.append(None)
        self._lines, self._keys = lines[:height], keys[:height]

    def _plain(self, text: str, width: int, style: Style) -> Strip:
        return Strip([Segment(text, style)]).adjust_cell_length(width, self._styles()["base"])

    def _header(self, width: int, price_w: int, size_w: int, st: dict[str, Style]) -> Strip:
        model = self.model
        left = f"  {'PRICE':>{price_w}}  {'SIZE':>{size_w}} {'CUM':>{size_w}} │ QUEUE (oldest first)"
        if model.book is None:
            status, style = f"loading {model.symbol}…", st["warn"]
        elif not model.synced:
            status, style = "⟳ RESYNCING", st["warn"]
        else:
            status, style = f"seq {model.book.seq}", st["header"]
        room = width - len(left) - 1
        segs = [Segment(left[:width], st["header"])]
        if room >= len(status):
            segs.append(Segment(" " * (room - len(status) + 1) + status, style))
        elif style is st["warn"]:  # always say when the book is not current
            segs = [Segment(f"{status:<{width}}"[:width], style)]
        return Strip(segs).adjust_cell_length(width, st["base"])

    def _spread(self, width: int, st: dict[str, Style]) -> Strip:
        book = self.model.book
        bid = book.best_bid() if book is not None else None
        ask = book.best_ask() if book is not None else None
        parts: list[Segment] = [Segment("── ", st["spread"])]
        if bid is not None and ask is not None:
            parts.append(Segment(f"spread {fmt.price(ask[0] - bid[0])} ", st["spread"]))
        last = self.model.last_trade
        if last is not None:
            arrow = "▲" if last.taker_side == "buy" else "▼"
            parts.append(Segment(f"last {fmt.price(last.price)}{fmt.TIMES}{fmt.qty(last.qty)} {arrow} ", st["last"]))
        strip = Strip(parts)
        fill = width - strip.cell_length
        if fill > 0:
            strip = Strip([*parts, Segment("─" * fill, st["spread"])])
        return strip.crop(0, width).adjust_cell_length(width, st["base"])

    def _row(
        self, lv: LadderLevel, width: int, price_w: int, size_w: int, last_price: int | None, stale: bool,
        st: dict[str, Style],
    ) -> Strip:
        is_cursor = self.cursor == (lv.side, lv.price)
        side_style = st["dim"] if stale else st["ask"] if lv.side == "sell" else st["bid"]
        extra = st["cursor"] if is_cursor else None

        def s(style: Style) -> Style:
            return style + extra if extra is not None else style

        segs = [
            Segment("▸" if is_cursor else " ", s(st["warn"])),
            Segment("●" if lv.mine else " ", s(st["last"])),
            Segment(f"{fmt.price(lv.price):>{price_w}}", s(side_style)),
            Segment("◂" if lv.price == last_price else " ", s(st["last"])),
            Segment(f" {fmt.qty(lv.total) if lv.total else '-':>{size_w}}",
                    s(st["dim"] if stale or not lv.total else st["size"])),
            Segment(f" {fmt.qty(lv.cum) if lv.total else '':>{size_w}}", s(st["queue"])),
            Segment(" │ ", s(st["spread"])),
        ]
        used = sum(seg.cell_length for seg in segs)
        segs.extend(self._queue(lv, width - used, st, s))
        return Strip(segs).crop(0, width).adjust_cell_length(width, s(st["base"]))

    def _queue(self, lv: LadderLevel, room: int, st: dict[str, Style], s: Styler) -> list[Segment]:
        """The level's orders, oldest first, as many as fit in ``room`` cells."""
        mine = self.model.orders
        out: list[Segment] = []
        used = 0
        n = len(lv.queue)
        for i, (oid, q) in enumerate(lv.queue):
            text = str(q)
            hidden = n - i - 1
            tail = 0 if hidden == 0 else len(f" +{hidden}") + self._hidden_mine_width(lv, i + 1)
            need = (1 if out else 0) + len(text)
            if used + need + tail > room:
                return self._overflow(lv, i, out, st, s)
            if out:
                out.append(Segment(" ", s(st["queue"])))
            out.append(Segment(text, s(st["mine"]) if oid in mine else s(st["queue"])))
            used += need
        return out

    def _hidden_mine_width(self, lv: LadderLevel, start: int) -> int:
        mine = self.model.orders
        for pos, (oid, _) in enumerate(lv.queue[start:], start + 1):
            if oid in mine:
                return len(f" me#{pos}")
        return 0

    def _overflow(
        self, lv: LadderLevel, shown: int, out: list[Segment], st: dict[str, Style], s: Styler
    ) -> list[Segment]:
        hidden = len(lv.queue) - shown
        out.append(Segment(f"{' ' if out else ''}+{hidden}", s(st["dim"])))
        mine = self.model.orders
        for pos, (oid, _) in enumerate(lv.queue[shown:], shown + 1):
            if oid in mine:
                out.append(Segment(" ", s(st["queue"])))
                out.append(Segment(f"me#{pos}", s(st["mine"])))
                break
        return out

    # ------------------------------------------------------------------ Line API

    def render_line(self, y: int) -> Strip:
        if self.size != self._built_size:
            self._rebuild()
        if 0 <= y < len(self._lines):
            return self._lines[y]
        return Strip.blank(self.size.width, self._styles()["base"])

    def row_text(self) -> list[str]:
        """The rows as plain text (for tests and logs)."""
        return [line.text for line in self._lines]

    # ------------------------------------------------------------------ cursor

    def _fix_cursor(self, n_asks: int, n_bids: int) -> None:
        """Keep the cursor on its price, whatever the book does.

        A price that moved to the other side takes the cursor with it; a price with no
        orders left stays as an empty row (size ``-``) where it belongs, so Enter always
        takes the price the trader put the cursor on.
        """
        if self.cursor is None:
            return
        side, price = self.cursor
        for rows in (self.asks, self.bids):
            if any(lv.price == price for lv in rows):
                self.cursor = (rows[0].side, price)
                return
        rows, room = (self.asks, n_asks) if side == "sell" else (self.bids, n_bids)
        if room <= 0:
            return
        better = sum(1 for lv in rows if (lv.price < price if side == "sell" else lv.price > price))
        at = min(better, room - 1)  # past the shown depth: the last row
        rows = [*rows[:at], LadderLevel(side, price, 0, (), 0), *rows[at:]][:room]
        if side == "sell":
            self.asks = rows
        else:
            self.bids = rows

    def _ordered_keys(self) -> list[RowKey]:
        return [(lv.side, lv.price) for lv in reversed(self.asks)] + [(lv.side, lv.price) for lv in self.bids]

    def action_move(self, delta: int) -> None:
        """Move the cursor up (-1) or down (+1) one level."""
        keys = self._ordered_keys()
        if not keys:
            return
        if self.cursor not in keys:
            start = len(self.asks) - 1 if delta < 0 else len(self.asks)
            index = min(max(start, 0), len(keys) - 1)
        else:
            index = min(max(keys.index(self.cursor) + delta, 0), len(keys) - 1)
        self.cursor = keys[index]
        self._rebuild()
        self.refresh()

    def action_center(self) -> None:
        """Drop the cursor (back to the spread)."""
        self.cursor = None
        self._rebuild()
        self.refresh()

    def action_choose(self) -> None:
        """Use the cursor level's price in the order entry."""
        if self.cursor is None:
            self.action_move(1)
        if self.cursor is not None:
            self.post_message(self.PriceSelected(*self.cursor))

    def on_click(self, event: events.Click) -> None:
        y = event.y
        if 0 <= y < len(self._keys):
            key = self._keys[y]
            if key is not None:
                self.cursor = key
                self._rebuild()
                self.refresh()
                self.post_message(self.PriceSelected(*key))
