"""The trader's open orders (every symbol), with their queue position on the shown symbol's book.

A :class:`~textual.widgets.DataTable`: the rows are rebuilt when the orders
change (a few times a second at most); the queue column is updated in place
when only the book moved. The cursor row is what ``c`` cancels and ``r``
replaces.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from client import format as fmt
from client.trade.model import TradeModel
from exchange.protocol import OrderInfo

__all__ = ["OpenOrders"]


class OpenOrders(DataTable[str | Text]):
    """Open orders, oldest first; ``Queue`` is ``#position (qty ahead)`` at the order's price."""

    def __init__(self, model: TradeModel, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False, show_cursor=True)
        self.model = model
        self.border_title = "Open orders"
        self._orders_seen: tuple[tuple[int, int, int | None, int | None, bool], ...] | None = None
        self._book_seen = -1
        self._symbol_seen = ""

    def on_mount(self) -> None:
        self.add_column("Id", key="id")
        self.add_column("Order", key="order")
        self.add_column("Queue", key="queue")

    def sync(self) -> None:
        """Bring the table up to date with the model (cheap when nothing changed)."""
        model = self.model
        current = tuple((o.order_id, o.remaining, o.price, o.stop_price, o.triggered) for o in model.orders.values())
        if current != self._orders_seen or model.symbol != self._symbol_seen:
            self._rebuild()
            self._orders_seen, self._symbol_seen = current, model.symbol
            self._book_seen = model.book_version
        elif model.book_version != self._book_seen:
            self._book_seen = model.book_version
            for order in model.orders.values():
                if order.symbol == model.symbol:
                    self.update_cell(str(order.order_id), "queue", self._queue(order))
        n = len(model.orders)
        title = f"Open orders ({n})" if n else "Open orders"
        if title != self.border_title:
            self.border_title = title

    def _queue(self, order: OrderInfo) -> str:
        if order.status == "pending":
            return "waiting"  # a stop: off the book until a trade goes through its stop price
        pos = self.model.queue_position(order.order_id)
        if pos is None:
            return "" if order.symbol != self.model.symbol else "…"
        ahead, qty_ahead = pos
        return f"#{ahead + 1} ({fmt.qty(qty_ahead)})"

    def _describe(self, order: OrderInfo) -> Text:
        """``BUY 30/50 @101.00`` (``ACME@`` when not the shown symbol; ``PO`` post-only).

        A stop waiting for its trigger reads ``BUY 10 STP≥101.00`` (a stop-limit adds its limit, ``@101.50``);
        an iceberg adds ``show 2``; a good-till-date order ``till 15:30``.
        """
        text = Text(no_wrap=True)
        text.append(order.side.upper(), style="bold green" if order.side == "buy" else "bold red")
        done = order.qty - order.remaining
        text.append(f" {fmt.qty(order.remaining)}" + (f"/{fmt.qty(order.qty)}" if done else ""))
        text.append(f" {order.symbol}" if order.symbol != self.model.symbol else " ", style="bold")
        if order.stop_price is not None and not order.triggered:
            text.append(f"STP{'≥' if order.side == 'buy' else '≤'}{fmt.price(order.stop_price)}", style="bold yellow")
            if order.price is not None:
                text.append(" ")
        if order.price is not None:
            text.append(f"@{fmt.price(order.price)}")
        elif order.stop_price is None or order.triggered:
            text.append("@market")
        if order.post_only:
            text.append(" PO", style="dim")
        if order.display_qty is not None:
            text.append(f" show {fmt.qty(order.display_qty)}", style="dim")
        if order.expire_ts is not None:
            text.append(f" till {fmt.until(order.expire_ts)}", style="dim")
        elif order.tif != "gtc":
            text.append(f" {order.tif.upper()}", style="dim")
        return text

    def _rebuild(self) -> None:
        selected = self.selected_order_id
        self.clear()
        for order in self.model.orders.values():
            self.add_row(str(order.order_id), self._describe(order), self._queue(order), key=str(order.order_id))
        if selected is not None and str(selected) in self.rows:
            self.move_cursor(row=self.get_row_index(str(selected)))

    @property
    def selected_order_id(self) -> int | None:
        """The order under the cursor, if any."""
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except Exception:
            return None
        return None if key.value is None else int(key.value)
