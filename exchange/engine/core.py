"""The matching engine: sequenced commands in, events out, nothing else.

No I/O, no clock, no randomness: ``Engine.apply(command, ts)`` checks the
command against the current state, and either refuses it (one ``Reject``
event, state untouched, sequence unchanged) or accepts it (the global sequence
``seq`` advances by one) and returns what it caused. Applying the same commands
with the same timestamps always gives the same events and the same state.

Matching is price-time priority; a trade happens at the resting order's price.
Self-trade prevention cancels the *resting* order (``Done`` reason
``self_trade``) and the incoming order goes on matching against the next
orders, the policy known as "cancel resting" or "expire maker".

Risk: a limit buy holds ``price * qty`` cash, a sell holds its shares; a market
buy holds nothing up front and pays level by level from available cash, its
remainder expiring when the cash runs out. Holds are released on cancel and on
fills (a buy filled below its limit gets the difference back at once).

More order types (docs/engine.md):

* Stop / stop-limit orders wait in the book's ``Stops``, out of the market's
  sight, holding what the market / limit order they become would hold (a stop
  buy: nothing, like a market buy). After a command whose trades went through
  stop prices (a buy stop triggers on a trade at or above its stop price, a
  sell stop at or below), those stops enter one by one in trigger order, each
  as a new order at the back of the queue; their trades may trigger more.
  Checking costs nothing while a book has no stops.
* Good-till-date orders expire once a command's timestamp reaches their
  ``expire_ts``: ``apply`` expires the due ones before the command (a heap of
  expiries; only its head is compared), so replay expires them identically.
* Icebergs show ``display`` of their open quantity; when the shown part
  fills, the next part joins the back of its level.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from typing import Final

import msgspec

from exchange.engine.accounts import Account
from exchange.engine.book import Book, BookSide, Level, Order
from exchange.engine.commands import (
    AddSymbol,
    Cancel,
    CancelAll,
    Command,
    Deposit,
    Expire,
    Halt,
    NewOrder,
    OrderType,
    Replace,
    Resume,
    Side,
    TimeInForce,
)
from exchange.engine.errors import EngineError
from exchange.engine.events import (
    Ack,
    Applied,
    Canceled,
    CanceledAll,
    Change,
    Done,
    DoneReason,
    Event,
    Match,
    Open,
    Reject,
    Triggered,
)
from exchange.engine.limits import MAX_CASH, MAX_EXPIRE_NS, MAX_SHARES, MAX_VOLUME, Limits
from exchange.money import dollars
from exchange.money import price as price_text

__all__ = ["Engine"]

# The largest int the compiled build keeps unboxed (a tagged "short" int): a
# compare or arithmetic with anything larger takes mypyc's slow, generic path.
_SHORT_MAX: Final = (1 << 62) - 1
_NO_LIMIT: Final = _SHORT_MAX  # the limit key of a market order: above every level's key
_NEVER: Final = _SHORT_MAX  # no expiry due
_EXPIRIES_MIN: Final = 1024
_SYMBOL_CHARS: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")
# Final aliases of the (msgspec) command classes: the mypyc build keeps them in C
# statics, so dispatch is a pointer comparison instead of a module-dict lookup.
_NEW_ORDER: Final = NewOrder
_CANCEL: Final = Cancel
_REPLACE: Final = Replace
# The hot commands' fields in one call: compiled code reads a struct field
# through the generic attribute protocol (~16 ns each), astuple gets them all at
# once. The import-time check below guards the order the engine unpacks them in.
_astuple: Final = msgspec.structs.astuple
_NewOrderFields = tuple[
    int, str, Side, OrderType, int | None, int, TimeInForce, bool, str | None, int | None, int | None, int | None
]
_CancelFields = tuple[int, int | None, str | None]
_ReplaceFields = tuple[int, int | None, int | None, int | None, str | None, int | None]
_UNPACKED: Final = (
    (NewOrder, (
        "user", "symbol", "side", "type", "price", "qty", "tif", "post_only", "client_order_id",
        "stop_price", "expire_ts", "display_qty",
    )),
    (Cancel, ("user", "order_id", "client_order_id")),
    (Replace, ("user", "order_id", "price", "qty", "client_order_id", "stop_price")),
)
for _cls, _names in _UNPACKED:
    if _cls.__struct_fields__ != _names:  # pragma: no cover - guards the unpacking in Engine
        raise ImportError(f"{_cls.__name__}'s fields changed: update its unpacking in Engine")


class Engine:
    """Order books for several symbols, with user wallets and pre-trade risk.

    Args:
        limits: per-user open-order cap and price/quantity/deposit bounds.

    ``cash`` is all the cash in every account together (``Book.shares`` is the
    same for one symbol's shares): deposits add to it, trades move it, so it is
    what :data:`~exchange.engine.limits.MAX_CASH` bounds.
    """

    def __init__(self, *, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self.books: dict[str, Book] = {}
        self.accounts: dict[int, Account] = {}
        self.cash = 0
        self.seq = 0
        self.next_order_id = 1
        self.next_trade_id = 1
        self.expiries: list[tuple[int, int, int]] = []  # (expire_ts, order_id, user), lazily pruned
        self.next_expiry = _NEVER  # the head of ``expiries``
        self._expiries_cap = _EXPIRIES_MIN
        self._expired_at = -1  # the seq the last expiry pass that expired something ran before
        self._admin: dict[type, Callable[..., list[Event]]] = {
            CancelAll: self._cancel_all,
            Expire: self._expire,
            Deposit: self._deposit,
            AddSymbol: self._add_symbol,
            Halt: self._halt,
            Resume: self._resume,
        }

    # ------------------------------------------------------------------ apply

    def apply(self, command: Command, ts: int) -> list[Event]:
        """Apply one command stamped ``ts`` (ns); return the reply and what followed.

        The first event is the reply. A ``Reject`` reply means the command
        changed nothing; any other reply means it was accepted as number
        ``self.seq``. Good-till-date orders due at ``ts`` expire first, their
        events right after the reply: then ``seq`` advances even for a
        ``Reject`` (the expiries are a change to journal and replay).
        """
        kind = type(command)
        expired: list[Event] | None = None
        if ts >= self.next_expiry:
            expired = self._expire_due(ts)
        try:
            # Exact-type dispatch; no typing.cast, which is a real call in pure Python.
            if kind is _NEW_ORDER:
                events = self._new_order(command, ts)  # type: ignore[arg-type]
            elif kind is _CANCEL:
                events = self._cancel(command, ts)  # type: ignore[arg-type]
            elif kind is _REPLACE:
                events = self._replace(command, ts)  # type: ignore[arg-type]
            else:
                events = self._admin[kind](command, ts)
        except EngineError as exc:
            events = [
                Reject(
                    getattr(command, "user", 0),
                    exc.code,
                    exc.message,
                    getattr(command, "client_order_id", None),
                    exc.field,
                )
            ]
            if not expired:
                return events
        self.seq += 1
        if expired:
            events[1:1] = expired
        return events

    # ----------------------------------------------------------------- orders

    def _new_order(self, c: NewOrder, ts: int) -> list[Event]:
        # The common path is written out inline: this is the engine's hot loop.
        fields: _NewOrderFields = _astuple(c)
        user, symbol, side, kind, price, qty, tif, post_only, coid, stop_price, expire_ts, display = fields
        book = self.books.get(symbol)
        if book is None or book.status != "trading":
            book = self._tradable_book(symbol)
        limits = self.limits
        if qty <= 0 or qty % book.lot or qty > limits.max_qty:
            self._check_qty(book, qty)
        # Each string compared once: an equal literal is a pointer compare, an unequal one a call.
        buy = side == "buy"
        opp = book.asks if buy else book.bids
        can_rest = tif == "gtc" or tif == "gtd"  # what does not fill rests (else it expires)
        special = (
            (kind != "limit" and kind != "market") or (can_rest and tif != "gtc")
            or stop_price is not None or expire_ts is not None or display is not None
        )
        if special:
            self._check_special(book, kind, side, qty, tif, post_only, stop_price, expire_ts, display, ts)
        market = kind == "market"
        if special and kind == "stop":
            market = True
        if market:
            if price is not None:
                raise EngineError("invalid_price", f"a {kind} order takes no price")
            if post_only:
                raise EngineError("bad_request", "post_only applies to limit orders only", "post_only")
            price = 0
            limit_key = _NO_LIMIT
        else:
            if price is None or price <= 0 or price % book.tick or price > limits.max_price:
                price = self._check_price(book, price)
            limit_key = opp.key(price)
            if post_only and not can_rest:
                raise EngineError("bad_request", "post_only orders must be gtc or gtd", "post_only")
        acct = self.accounts.get(user)
        if acct is None:
            raise EngineError(
                "insufficient_funds" if buy else "insufficient_position",
                "this account holds no cash or shares yet",
            )
        holding = acct.holdings.get(symbol)
        if coid is not None and coid in acct.client_ids:
            raise EngineError(
                "duplicate_client_order_id", f"client_order_id {coid!r} is already in use by an open order"
            )
        if (
            (stop_price is not None or (not market and can_rest))
            and len(acct.orders) >= limits.max_open_orders
        ):
            raise EngineError("too_many_orders", f"at most {limits.max_open_orders} open orders per user")
        if buy:
            if stop_price is not None and market:
                self._check_stop_buy(book, acct, stop_price)
            elif market:
                self._check_market_buy(book, opp, acct)
            elif acct.cash - acct.cash_held < price * qty:
                raise EngineError(
                    "insufficient_funds",
                    f"needs {dollars(price * qty)}, {dollars(acct.cash - acct.cash_held)} available",
                )
        else:
            available = 0 if holding is None else holding.qty - holding.held
            if available < qty:
                raise EngineError("insufficient_position", f"needs {qty} {symbol}, {available} available")
        if post_only:
            self._check_post_only(opp, limit_key, price)
        if not can_rest and tif == "fok" and stop_price is None:
            budget = acct.cash - acct.cash_held if market and buy else -1
            self._check_fok(book, opp, limit_key, acct, qty, budget)
        # Accepted: take the hold, then match.
        if holding is None:
            holding = acct.holding(symbol)
        if buy:
            acct.cash_held += price * qty
        else:
            holding.held += qty
            holding.has_held = True

        order_id = self.next_order_id
        self.next_order_id = order_id + 1
        order = Order(order_id, user, symbol, side, price, qty, qty, tif, post_only, coid, ts)
        order.holding = holding
        if special:
            order.kind = kind
            order.display = 0 if display is None else display
            order.expire_ts = 0 if expire_ts is None else expire_ts
            if stop_price is not None:
                return self._park(book, acct, order, stop_price)
        ack = Ack(user, order_id, coid, symbol, side, "open", qty)
        out: list[Event] = [ack]
        self._execute(book, acct, order, ack, out, market, limit_key)
        if book.stops.orders:
            self._fire_stops(book, out, 1, ts, ack)
        if special and order.expire_ts and order.order_id in acct.orders:
            self._push_expiry(order)
        return out

    def _check_special(
        self, book: Book, kind: str, side: str, qty: int, tif: str, post_only: bool,
        stop_price: int | None, expire_ts: int | None, display: int | None, ts: int,
    ) -> None:
        """Validate what stop, good-till-date and iceberg orders add to a new order."""
        limit_like = kind == "limit" or kind == "stop_limit"
        if kind == "stop" or kind == "stop_limit":
            if stop_price is None:
                raise EngineError("invalid_price", f"a {kind} order needs a stop_price", "stop_price")
            self._check_stop_price(book, side, stop_price)
            if post_only:
                raise EngineError("bad_request", "post_only applies to limit orders only", "post_only")
        elif stop_price is not None:
            raise EngineError("invalid_price", "only stop and stop_limit orders take a stop_price", "stop_price")
        if tif == "gtd":
            if not limit_like:
                raise EngineError("bad_request", "tif gtd applies to limit and stop_limit orders only", "tif")
            if expire_ts is None:
                raise EngineError("bad_request", "a gtd order needs an expire_ts", "expire_ts")
            if expire_ts <= ts or expire_ts > ts + MAX_EXPIRE_NS:
                raise EngineError(
                    "bad_request",
                    f"expire_ts must be after now ({ts}) and at most 366 days ahead, got {expire_ts}",
                    "expire_ts",
                )
        elif expire_ts is not None:
            raise EngineError("bad_request", "expire_ts goes with tif gtd only", "expire_ts")
        if display is not None:
            if not limit_like or (tif != "gtc" and tif != "gtd"):
                raise EngineError(
                    "bad_request", "display_qty applies to gtc or gtd limit and stop_limit orders only",
                    "display_qty",
                )
            if display <= 0 or display % book.lot or display >= qty:
                raise EngineError(
                    "invalid_qty",
                    f"display_qty must be a positive multiple of {book.lot} below qty ({qty}), got {display}",
                    "display_qty",
                )

    def _check_stop_price(self, book: Book, side: str, stop_price: int) -> None:
        if stop_price <= 0 or stop_price % book.tick or stop_price > self.limits.max_price:
            raise EngineError(
                "invalid_price",
                f"stop_price must be a positive multiple of {book.tick} "
                f"up to {self.limits.max_price}, got {stop_price}",
                "stop_price",
            )
        last = book.last
        if last is not None and (last >= stop_price if side == "buy" else last <= stop_price):
            raise EngineError(
                "would_trigger",
                f"the last trade ({price_text(last)}) is already through stop_price {price_text(stop_price)}",
            )

    def _check_stop_buy(self, book: Book, acct: Account, stop_price: int) -> None:
        """A stop buy holds nothing (it becomes a market buy); refuse one that cannot pay one lot."""
        self._check_one_lot(acct, stop_price, book.lot, "the stop price")

    def _park(self, book: Book, acct: Account, order: Order, stop_price: int) -> list[Event]:
        """File a new stop (its hold taken): owned and held, not on the book."""
        order.stop_price = stop_price
        order.arrival = self.seq + 1
        acct.add_order(order)
        book.stops.add(order)
        if order.expire_ts:
            self._push_expiry(order)
        return [Ack(order.user, order.order_id, order.client_order_id, book.symbol, order.side,
                    "pending", order.remaining)]

    # ------------------------------------------------------------------ stops

    def _fire_stops(self, book: Book, out: list[Event], start: int, ts: int, ack: Ack) -> None:
        """Trigger the stops the trades in ``out[start:]`` went through, and those theirs did.

        Triggered stops may trade with the order ``ack`` answers: its status is
        brought up to date after them.
        """
        fired_any = False
        while True:
            low = high = 0
            for i in range(start, len(out)):
                ev = out[i]
                if isinstance(ev, Match):
                    p = ev.price
                    if p > high:
                        high = p
                    if low == 0 or p < low:
                        low = p
            if high == 0:
                break
            start = len(out)
            fired = book.stops.triggered(low, high)
            if not fired:
                break
            fired_any = True
            for order in fired:
                self._trigger(book, order, out, ts)
        if fired_any and (ack.status == "open" or ack.status == "partially_filled"):
            self._settle(ack, out)

    def _settle(self, ack: Ack, out: list[Event]) -> None:
        """Bring a resting order's reply up to date after the stops its trades triggered."""
        order = self.accounts[ack.user].orders.get(ack.order_id)
        if order is not None:
            ack.remaining = order.remaining + order.hidden
            ack.status = "partially_filled" if ack.remaining < order.qty else "open"
            return
        ack.remaining = 0
        ack.status = "canceled"
        for ev in out:
            if isinstance(ev, Done) and ev.order_id == ack.order_id and ev.reason == "filled":
                ack.status = "filled"

    def _trigger(self, book: Book, order: Order, out: list[Event], ts: int) -> None:
        """Enter a triggered stop as a new market (stop) or limit (stop_limit) order."""
        acct = order.acct
        acct.drop_order(order)  # back in if it rests
        order.triggered = True
        market = order.kind == "stop"
        opp = book.opposite(order.side)
        limit_key = _NO_LIMIT if market else opp.key(order.price)
        note = Triggered(book.symbol, order.order_id, order.user, order.client_order_id, order.side,
                         order.stop_price, "canceled", 0)
        out.append(note)
        if order.tif == "fok":
            budget = acct.cash - acct.cash_held if market and order.side == "buy" else -1
            if not self._fillable(book, opp, limit_key, order.user, order.remaining, budget):
                self._release(acct, order, order.remaining)
                out.append(Done(book.symbol, 0, order.order_id, order.user, order.client_order_id,
                                order.side, None if market else order.price, "expired", order.remaining, 0))
                return
        ack = Ack(order.user, order.order_id, order.client_order_id, book.symbol, order.side, "open", 0)
        self._execute(book, acct, order, ack, out, market, limit_key)
        note.status = ack.status
        note.remaining = ack.remaining

    def _drop_stop(self, book: Book, order: Order, reason: DoneReason, out: list[Event]) -> None:
        """Take an untriggered stop away (cancel, expiry), release its hold, emit a private ``Done``."""
        remaining = order.remaining
        acct = order.acct
        self._release(acct, order, remaining)
        order.remaining = 0
        book.stops.discard(order)
        acct.drop_order(order)
        out.append(Done(book.symbol, 0, order.order_id, order.user, order.client_order_id, order.side,
                        None if order.kind == "stop" else order.price, reason, remaining, 0))

    def _take_off(self, book: Book, order: Order, reason: DoneReason, out: list[Event]) -> None:
        """Remove an open order, resting or untriggered, with ``reason``."""
        if order.stop_price and not order.triggered:
            self._drop_stop(book, order, reason, out)
        else:
            self._remove(book, book.side(order.side), order.level, order, reason, out)

    # ---------------------------------------------------------------- expiry

    def _push_expiry(self, order: Order) -> None:
        heapq.heappush(self.expiries, (order.expire_ts, order.order_id, order.user))
        if order.expire_ts < self.next_expiry:
            self.next_expiry = order.expire_ts
        if len(self.expiries) > self._expiries_cap:
            self.rebuild_expiries()

    def rebuild_expiries(self) -> None:
        """Index the open good-till-date orders afresh (after a restore, or stale entries piled up)."""
        heap = [
            (o.expire_ts, o.order_id, o.user)
            for acct in self.accounts.values() for o in acct.orders.values() if o.expire_ts
        ]
        heapq.heapify(heap)
        self.expiries = heap
        self.next_expiry = heap[0][0] if heap else _NEVER
        self._expiries_cap = max(_EXPIRIES_MIN, 2 * len(heap))

    def _expire_due(self, ts: int) -> list[Event]:
        """Expire every good-till-date order due at ``ts``, earliest (then oldest) first."""
        out: list[Event] = []
        heap = self.expiries
        count = 0
        while heap and heap[0][0] <= ts:
            expire_ts, order_id, user = heapq.heappop(heap)
            acct = self.accounts.get(user)
            order = None if acct is None else acct.orders.get(order_id)
            if order is not None and order.expire_ts == expire_ts:
                self._take_off(self.books[order.symbol], order, "expired", out)
                count += 1
        self.next_expiry = heap[0][0] if heap else _NEVER
        if count:
            self._expired_at = self.seq
        return out

    def _expire(self, c: Expire, ts: int) -> list[Event]:
        if self._expired_at != self.seq:  # this command's expiry pass expired nothing
            raise EngineError("bad_request", "no order is due to expire")
        return [Applied("expire")]

    def _execute(
        self, book: Book, acct: Account, order: Order, ack: Ack, out: list[Event], market: bool, limit_key: int
    ) -> None:
        """Match an incoming order (its hold already taken), then rest it or expire the rest.

        Sets the reply ``ack``'s status and remaining as of the end of the command.
        """
        side = order.side
        buy = side == "buy"
        if buy:
            own, opp = book.bids, book.asks
        else:
            own, opp = book.asks, book.bids
        market_buy = market and buy
        symbol = book.symbol
        lot = book.lot
        user = order.user
        remaining = order.remaining
        while remaining:
            level = opp.top
            if level is None or not level.count:
                level = opp.best()
            if level is None or level.key > limit_key:
                break
            price = level.price
            while remaining and level.count:
                maker = level.orders[level.head]
                if maker.remaining == 0:
                    maker = level.front()
                if maker.user == user:
                    self._remove(book, opp, level, maker, "self_trade", out)
                    continue
                maker_left = maker.remaining
                qty = remaining if remaining < maker_left else maker_left
                if market_buy:
                    afford = (acct.cash - acct.cash_held) // price
                    afford -= afford % lot
                    if afford < qty:
                        qty = afford
                        if qty == 0:
                            break
                # Settle the fill at the maker's price.
                maker_acct = maker.acct
                value = price * qty
                if buy:
                    buyer, seller, release = acct, maker_acct, order.price * qty
                    bought, sold = order.holding, maker.holding
                else:
                    buyer, seller, release = maker_acct, acct, value
                    bought, sold = maker.holding, order.holding
                buyer.cash -= value
                buyer.cash_held -= release
                bought.qty += qty
                bought.has_qty = True
                sold.qty -= qty
                sold.held -= qty
                seller.cash += value
                maker_left -= qty
                maker.remaining = maker_left
                remaining -= qty
                level.total -= qty
                opp.total -= qty
                book.last_price = price
                book.last_qty = qty
                volume = book.volume + qty
                if volume >= _SHORT_MAX:  # never in practice; keeps the common compare unboxed
                    volume = min(volume, MAX_VOLUME)
                book.volume = volume
                trade_id = self.next_trade_id
                self.next_trade_id = trade_id + 1
                seq = book.seq = book.seq + 1
                out.append(
                    Match(
                        symbol, seq, trade_id, price, qty, maker.side,
                        maker.order_id, maker.user, maker.client_order_id, maker_left + maker.hidden,
                        order.order_id, user, order.client_order_id, remaining,
                        level.total,
                    )
                )
                if maker_left == 0:
                    if maker.hidden:
                        self._refresh(book, opp, level, maker, out)
                        continue
                    level.pop_front()
                    maker_acct.drop_order(maker)
                    if level.count == 0:
                        opp.level_emptied()
                    seq = book.seq = seq + 1
                    out.append(
                        Done(symbol, seq, maker.order_id, maker.user, maker.client_order_id,
                             maker.side, price, "filled", 0, level.total)
                    )
            else:
                continue
            break  # a market buy ran out of cash
        order.remaining = remaining
        if not remaining:
            ack.status = "filled"
            ack.remaining = 0
            out.append(
                Done(symbol, 0, order.order_id, user, order.client_order_id,
                     side, None if market else order.price, "filled", 0, 0)
            )
        elif market or (order.tif != "gtc" and order.tif != "gtd"):
            ack.status = "canceled"
            ack.remaining = 0
            self._release(acct, order, remaining)
            out.append(
                Done(symbol, 0, order.order_id, user, order.client_order_id,
                     side, None if market else order.price, "expired", remaining, 0)
            )
        else:
            ack.status = "partially_filled" if remaining < order.qty else "open"
            ack.remaining = remaining
            display = order.display
            if display and remaining > display:  # an iceberg shows a part
                order.hidden = remaining - display
                order.remaining = remaining = display
            # Rest it: Level.append and Account.add_order, written out.
            level = own.levels.get(own.key(order.price))
            if level is None or not level.count:
                level = own.level_for(order.price)
            order.level = level
            level.orders.append(order)
            level.count += 1
            total = level.total = level.total + remaining
            own.total += remaining
            order.acct = acct
            acct.orders[order.order_id] = order
            if order.client_order_id is not None:
                acct.client_ids[order.client_order_id] = order
            seq = book.seq = book.seq + 1
            out.append(Open(symbol, seq, order.order_id, side, order.price, remaining, total))

    def _refresh(self, book: Book, side: BookSide, level: Level, maker: Order, out: list[Event]) -> None:
        """An iceberg's shown part filled: its next part joins the back of the level.

        A fresh object (the old one stays consumed in the queue); on the feed a
        ``done`` (reason ``refreshed``) and an ``open`` of the same id.
        """
        level.pop_front()
        hidden = maker.hidden
        show = maker.display if maker.display < hidden else hidden
        fresh = maker.copy(maker.price, maker.qty, show, maker.ts)
        fresh.hidden = hidden - show
        maker.hidden = 0
        acct = maker.acct
        fresh.acct = acct
        acct.orders[fresh.order_id] = fresh
        if fresh.client_order_id is not None:
            acct.client_ids[fresh.client_order_id] = fresh
        seq = book.seq = book.seq + 1
        out.append(Done(book.symbol, seq, maker.order_id, maker.user, maker.client_order_id,
                        maker.side, maker.price, "refreshed", 0, level.total))
        level.append(fresh)
        side.total += show
        seq = book.seq = seq + 1
        out.append(Open(book.symbol, seq, fresh.order_id, fresh.side, fresh.price, show, level.total))

    def _remove(
        self, book: Book, side: BookSide, level: Level, order: Order, reason: str, out: list[Event]
    ) -> None:
        """Take a resting order off the book, release its hold, emit ``Done``."""
        remaining = order.remaining
        hidden = order.hidden
        acct = order.acct
        if order.side == "buy":
            acct.cash_held -= order.price * (remaining + hidden)
        else:
            order.holding.held -= remaining + hidden
        order.remaining = 0
        order.hidden = 0
        level.total -= remaining
        side.total -= remaining
        level.kill(order)
        if level.count == 0:
            side.level_emptied()
        acct.drop_order(order)
        seq = book.seq = book.seq + 1
        out.append(
            Done(book.symbol, seq, order.order_id, order.user, order.client_order_id,
                 order.side, order.price, reason, remaining + hidden, level.total)  # type: ignore[arg-type]
        )

    # ------------------------------------------------------ cancel / replace

    def _cancel(self, c: Cancel, ts: int) -> list[Event]:
        fields: _CancelFields = _astuple(c)
        user, order_id, coid = fields
        acct = self.accounts.get(user)
        order = None if acct is None or order_id is None else acct.orders.get(order_id)
        if acct is None or order is None:
            acct, order = self._own_order(user, order_id, coid)
        book = self.books[order.symbol]
        out: list[Event] = [
            Canceled(acct.user, order.order_id, order.client_order_id, order.remaining + order.hidden)
        ]
        if order.stop_price and not order.triggered:
            self._drop_stop(book, order, "canceled", out)
        else:
            side = book.bids if order.side == "buy" else book.asks
            self._remove(book, side, order.level, order, "canceled", out)
        return out

    def _cancel_all(self, c: CancelAll, ts: int) -> list[Event]:
        acct = self.accounts.get(c.user)
        if c.symbol is not None and c.symbol not in self.books:
            raise EngineError("unknown_symbol", f"no symbol {c.symbol!r}")
        if acct is None:
            return [CanceledAll(c.user, 0)]
        orders = [o for o in acct.orders.values() if c.symbol is None or o.symbol == c.symbol]
        reply = CanceledAll(c.user, len(orders))
        out: list[Event] = [reply]
        for order in orders:
            self._take_off(self.books[order.symbol], order, "canceled", out)
        return out

    def _replace(self, c: Replace, ts: int) -> list[Event]:
        fields: _ReplaceFields = _astuple(c)
        user, order_id, new_price, new_qty, coid, stop_price = fields
        acct, order = self._own_order(user, order_id, coid)
        book = self.books[order.symbol]
        if book.status != "trading":
            raise EngineError("halted", f"{book.symbol} is halted")
        if order.stop_price and not order.triggered:
            return self._replace_stop(book, acct, order, c)
        if stop_price is not None:
            raise EngineError("bad_request", "only an untriggered stop has a stop_price to change", "stop_price")
        price = order.price if new_price is None else self._check_price(book, new_price)
        open_qty = order.remaining + order.hidden
        qty = open_qty if new_qty is None else new_qty
        self._check_qty(book, qty)
        side = book.side(order.side)
        level = order.level
        if price == order.price and qty <= open_qty:
            return self._reduce(book, side, level, acct, order, qty)
        filled = order.qty - open_qty
        if filled + qty > self.limits.max_qty:
            raise EngineError(
                "invalid_qty",
                f"this order has filled {filled}: its size (filled + open) is at most "
                f"{self.limits.max_qty}, so qty is at most {self.limits.max_qty - filled}, got {qty}",
            )
        self._check_replace_hold(book, acct, order, price, qty, open_qty)
        opp = book.opposite(order.side)
        limit_key = opp.key(price)
        if order.post_only:
            self._check_post_only(opp, limit_key, price)
        ack = Ack(acct.user, order.order_id, order.client_order_id, book.symbol, order.side, "open", qty)
        out: list[Event] = [ack]
        self._remove(book, side, level, order, "replaced", out)
        # A fresh object: the old one stays dead in its level's queue.
        order = order.copy(price, filled + qty, qty, ts)
        self._hold(acct, order)
        self._execute(book, acct, order, ack, out, False, limit_key)
        if book.stops.orders:
            self._fire_stops(book, out, 1, ts, ack)
        return out

    def _check_replace_hold(
        self, book: Book, acct: Account, order: Order, price: int, qty: int, open_qty: int
    ) -> None:
        """Refuse a replace the order's hold plus what is available cannot cover."""
        if order.side == "buy":
            available = acct.cash - acct.cash_held + order.price * open_qty
            if available < price * qty:
                raise EngineError("insufficient_funds", f"needs {dollars(price * qty)}, {dollars(available)} available")
        else:
            available = order.holding.qty - order.holding.held + open_qty
            if available < qty:
                raise EngineError(
                    "insufficient_position", f"needs {qty} {book.symbol}, {available} available"
                )

    def _replace_stop(self, book: Book, acct: Account, order: Order, c: Replace) -> list[Event]:
        """Change an untriggered stop in place; a new stop_price puts it behind that price's stops."""
        stop_price = order.stop_price
        if c.stop_price is not None and c.stop_price != stop_price:
            stop_price = c.stop_price
            self._check_stop_price(book, order.side, stop_price)
        if order.kind == "stop":
            if c.price is not None:
                raise EngineError("invalid_price", "a stop order takes no price")
            price = 0
        else:
            price = order.price if c.price is None else self._check_price(book, c.price)
        qty = order.remaining if c.qty is None else c.qty
        self._check_qty(book, qty)
        self._check_replace_hold(book, acct, order, price, qty, order.remaining)
        if order.kind == "stop" and order.side == "buy":
            self._check_stop_buy(book, acct, stop_price)
        self._release(acct, order, order.remaining)
        order.price = price
        order.qty = order.remaining = qty
        self._hold(acct, order)
        if stop_price != order.stop_price:
            book.stops.discard(order)
            order.stop_price = stop_price
            order.arrival = self.seq + 1
            book.stops.add(order)
        return [Ack(acct.user, order.order_id, order.client_order_id, book.symbol, order.side, "pending", qty)]

    def _reduce(
        self, book: Book, side: BookSide, level: Level, acct: Account, order: Order, qty: int
    ) -> list[Event]:
        """Lower a resting order's open quantity in place, keeping its priority.

        An iceberg gives up its hidden part first: the book sees a change only
        when the new open quantity is below the part shown.
        """
        cut = order.remaining + order.hidden - qty
        ack = Ack(acct.user, order.order_id, order.client_order_id, book.symbol, order.side, "open", qty)
        out: list[Event] = [ack]
        if cut:
            self._release(acct, order, cut)
            order.qty -= cut
            if qty >= order.remaining:
                order.hidden = qty - order.remaining
            else:
                shown_cut = order.remaining - qty
                order.hidden = 0
                order.remaining = qty
                level.total -= shown_cut
                side.total -= shown_cut
                book.seq += 1
                out.append(
                    Change(book.symbol, book.seq, order.order_id, order.side, order.price, qty, level.total)
                )
        ack.status = "partially_filled" if order.qty > qty else "open"
        return out

    # ------------------------------------------------------------------ admin

    def _deposit(self, c: Deposit, ts: int) -> list[Event]:
        if c.cash < 0 or c.qty < 0:
            raise EngineError("bad_request", "a deposit cannot be negative", "cash" if c.cash < 0 else "qty")
        if c.cash > self.limits.max_deposit or c.qty > self.limits.max_deposit:
            raise EngineError(
                "bad_request", f"a deposit is at most {self.limits.max_deposit:,} (cents of cash or shares)",
                "cash" if c.cash > self.limits.max_deposit else "qty",
            )
        if (c.qty and c.symbol is None) or (c.symbol is not None and c.symbol not in self.books):
            raise EngineError("unknown_symbol", f"no symbol {c.symbol!r}")
        if not c.cash and not c.qty:
            raise EngineError("bad_request", "a deposit needs cash or a symbol and qty", "cash")
        if c.cash > MAX_CASH - self.cash:
            raise EngineError(
                "limit_exceeded",
                f"the exchange holds {dollars(self.cash)} in cash; a deposit of {dollars(c.cash)} "
                f"would take it over its maximum of {dollars(MAX_CASH)}",
            )
        book = self.books[c.symbol] if c.qty and c.symbol is not None else None
        if book is not None and c.qty > MAX_SHARES - book.shares:
            raise EngineError(
                "limit_exceeded",
                f"the accounts hold {book.shares:,} {book.symbol}; a deposit of {c.qty:,} "
                f"would take them over the maximum of {MAX_SHARES:,} shares of a symbol",
            )
        acct = self.accounts.get(c.user)
        if acct is None:
            acct = self.accounts[c.user] = Account(c.user)
        acct.cash += c.cash
        self.cash += c.cash
        if book is not None:
            book.shares += c.qty
            holding = acct.holding(book.symbol)
            holding.qty += c.qty
            holding.has_qty = True
            holding.has_held = True
        return [Applied("deposit", c.symbol)]

    def _add_symbol(self, c: AddSymbol, ts: int) -> list[Event]:
        if not c.symbol or len(c.symbol) > 12 or not set(c.symbol) <= _SYMBOL_CHARS:
            raise EngineError("bad_request", "a symbol is 1-12 of A-Z, 0-9, '.' and '-'", "symbol")
        if c.symbol in self.books:
            raise EngineError("bad_request", f"symbol {c.symbol} is already listed", "symbol")
        limits = self.limits
        if not (1 <= c.tick <= limits.max_price and 1 <= c.lot <= limits.max_qty):
            raise EngineError(
                "bad_request",
                f"tick must be 1 to {limits.max_price} and lot 1 to {limits.max_qty}, "
                f"got tick {c.tick} and lot {c.lot}",
                "tick" if not 1 <= c.tick <= limits.max_price else "lot",
            )
        self.books[c.symbol] = Book(c.symbol, c.tick, c.lot)
        return [Applied("add_symbol", c.symbol, "trading")]

    def _halt(self, c: Halt, ts: int) -> list[Event]:
        self._book(c.symbol).status = "halted"
        return [Applied("halt", c.symbol, "halted")]

    def _resume(self, c: Resume, ts: int) -> list[Event]:
        self._book(c.symbol).status = "trading"
        return [Applied("resume", c.symbol, "trading")]

    # ---------------------------------------------------------------- helpers

    def _book(self, symbol: str) -> Book:
        book = self.books.get(symbol)
        if book is None:
            raise EngineError("unknown_symbol", f"no symbol {symbol!r}")
        return book

    def _tradable_book(self, symbol: str) -> Book:
        book = self._book(symbol)
        if book.status != "trading":
            raise EngineError("halted", f"{symbol} is halted")
        return book

    def _check_qty(self, book: Book, qty: int) -> None:
        if qty <= 0 or qty % book.lot or qty > self.limits.max_qty:
            raise EngineError(
                "invalid_qty",
                f"qty must be a positive multiple of {book.lot} up to {self.limits.max_qty}, got {qty}",
            )

    def _check_price(self, book: Book, price: int | None) -> int:
        if price is None:
            raise EngineError("invalid_price", "a limit order needs a price")
        if price <= 0 or price % book.tick or price > self.limits.max_price:
            raise EngineError(
                "invalid_price",
                f"price must be a positive multiple of {book.tick} "
                f"up to {self.limits.max_price}, got {price}",
            )
        return price

    def _own_order(
        self, user: int, order_id: int | None, client_order_id: str | None
    ) -> tuple[Account, Order]:
        acct = self.accounts.get(user)
        order = None
        if acct is not None:
            if order_id is not None:
                order = acct.orders.get(order_id)
            elif client_order_id is not None:
                order = acct.client_ids.get(client_order_id)
            else:
                raise EngineError("bad_request", "name the order by order_id or client_order_id", "order_id")
        if acct is None or order is None:
            ref = order_id if order_id is not None else client_order_id
            raise EngineError("unknown_order", f"no open order {ref!r} of yours",
                              "order_id" if order_id is not None else "client_order_id")
        return acct, order

    @staticmethod
    def _hold(acct: Account, order: Order) -> None:
        if order.side == "buy":
            acct.cash_held += order.price * order.remaining
        else:
            order.holding.held += order.remaining
            order.holding.has_held = True

    @staticmethod
    def _release(acct: Account, order: Order, qty: int) -> None:
        if order.side == "buy":
            acct.cash_held -= order.price * qty
        else:
            order.holding.held -= qty

    @staticmethod
    def _check_post_only(opp: BookSide, limit_key: int, price: int) -> None:
        best = opp.best()
        if best is not None and best.key <= limit_key:
            raise EngineError("would_cross", f"post-only order at {price} would trade at {best.price}")

    def _check_fok(
        self, book: Book, opp: BookSide, limit_key: int, acct: Account, qty: int, budget: int
    ) -> None:
        if not self._fillable(book, opp, limit_key, acct.user, qty, budget):
            raise EngineError("unfillable", f"fill-or-kill: {qty} cannot fill completely now")

    def _crossing(self, opp: BookSide, limit_key: int) -> Iterator[Level]:
        """Levels of ``opp`` an order with ``limit_key`` may trade with, best first."""
        best = opp.best()
        if best is None or best.key > limit_key:
            return
        yield best
        rest = sorted(k for k, lv in opp.levels.items() if best.key < k <= limit_key and lv.count)
        for key in rest:
            yield opp.levels[key]

    def _fillable(
        self, book: Book, opp: BookSide, limit_key: int, user: int, qty: int, budget: int
    ) -> bool:
        """Could ``qty`` fill completely now (own orders excluded, within ``budget`` if >= 0)?"""
        for level in self._crossing(opp, limit_key):
            for order in level.live():
                if order.user == user:
                    continue
                open_qty = order.remaining + order.hidden  # an iceberg's reserve fills too
                take = qty if qty < open_qty else open_qty
                if budget >= 0:
                    afford = budget // level.price
                    afford -= afford % book.lot
                    take = take if take < afford else afford
                    if take == 0:
                        return False
                    budget -= take * level.price
                qty -= take
                if qty == 0:
                    return True
        return False

    def _check_market_buy(self, book: Book, opp: BookSide, acct: Account) -> None:
        """Refuse a market buy that cannot pay for one lot of the first order it would take."""
        for level in self._crossing(opp, _NO_LIMIT):
            for order in level.live():
                if order.user != acct.user:
                    self._check_one_lot(acct, level.price, book.lot, None)
                    return

    @staticmethod
    def _check_one_lot(acct: Account, price: int, lot: int, named: str | None) -> None:
        """Refuse a buy that holds nothing up front when one lot at ``price`` is beyond its available cash.

        ``named`` says what the price is in the refusal (None: the price itself).
        """
        available = acct.cash - acct.cash_held
        if available < price * lot:
            where = named if named is not None else price_text(price)
            raise EngineError(
                "insufficient_funds",
                f"one lot at {where} costs {dollars(price * lot)}, {dollars(available)} available",
            )
