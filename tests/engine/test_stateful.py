"""Random command sequences against the engine, with every invariant checked after every step.

Four users trade two symbols in a narrow price range (so orders cross often)
with every order type (stops, stop-limits, good-till-date orders and icebergs
too), TIF, post-only, cancels, replaces, deposits, halts, expiry ticks, jumps of
the clock and a share of invalid commands. After each command the machine checks conservation,
non-negative balances, exact holds, an uncrossed book, level bookkeeping, that
every open order is in exactly one place, that the public L3 stream rebuilds the
book, that a restored snapshot answers exactly as the original, and that the
state always checkpoints (msgpack) and loads back.

``BoundsMachine`` runs the same rules next to a whale holding nearly all the
cash and shares the exchange may hold, with deposits, orders, replaces and
listings at and just beyond the maxima of ``exchange.engine.limits``.
"""

from __future__ import annotations

import zlib
from collections import defaultdict

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from exchange.engine import (
    Ack,
    AddSymbol,
    Applied,
    Cancel,
    CancelAll,
    Canceled,
    CanceledAll,
    Change,
    Command,
    Deposit,
    Done,
    Engine,
    Event,
    Expire,
    Halt,
    Limits,
    Match,
    NewOrder,
    Open,
    Reject,
    Replace,
    Resume,
    Triggered,
    restore,
    snapshot,
)
from exchange.engine.book import _COMPACT_MIN_DEAD, _STALE_SLACK, Book, BookSide, Order
from exchange.engine.limits import MAX_CASH, MAX_DEPOSIT, MAX_LOT, MAX_PRICE, MAX_QTY, MAX_SHARES, MAX_TICK
from exchange.engine.queries import level2, level3, ticker
from exchange.journal.checkpoint import encode_checkpoint, load_engine

USERS = (1, 2, 3, 4)
WHALE = 5
NOBODY = 9
SYMBOLS = {"AAA": (1, 1), "BBB": (1, 2)}  # symbol: (tick, lot)
MAX_OPEN = 4
START_CASH = 1_000
START_SHARES = 12

users = st.sampled_from(USERS)
any_user = st.sampled_from((*USERS, NOBODY))
symbols = st.sampled_from(sorted(SYMBOLS))
any_symbol = st.sampled_from((*sorted(SYMBOLS), *sorted(SYMBOLS), "ZZZ"))
sides = st.sampled_from(("buy", "sell"))
prices = st.integers(97, 103)
units = st.integers(1, 4)
tifs = st.sampled_from(("gtc", "gtc", "ioc", "fok"))
coids = st.sampled_from((None, None, "c0", "c1", "c2"))
picks = st.integers(0, 1_000)


class ModelBook:
    """The book rebuilt from the public L3 events alone."""

    def __init__(self) -> None:
        self.sides: dict[str, dict[int, list[list[int]]]] = {"buy": {}, "sell": {}}
        self.where: dict[int, tuple[str, int]] = {}  # order_id -> (side, price)
        self.seq = 0

    def level_qty(self, side: str, price: int) -> int:
        return sum(q for _, q in self.sides[side].get(price, []))

    def entry(self, order_id: int) -> list[int]:
        side, price = self.where[order_id]
        for row in self.sides[side][price]:
            if row[0] == order_id:
                return row
        raise AssertionError(f"order {order_id} not at its level")

    def remove(self, order_id: int) -> None:
        side, price = self.where.pop(order_id)
        level = self.sides[side][price]
        level.remove(self.entry_in(level, order_id))
        if not level:
            del self.sides[side][price]

    @staticmethod
    def entry_in(level: list[list[int]], order_id: int) -> list[int]:
        return next(row for row in level if row[0] == order_id)

    def view(self) -> dict[str, list[list[int]]]:
        def rows(side: str, reverse: bool) -> list[list[int]]:
            levels = self.sides[side]
            ordered = sorted(levels, reverse=reverse)
            return [[oid, price, qty] for price in ordered for oid, qty in levels[price]]

        return {"bids": rows("buy", True), "asks": rows("sell", False)}


def _other(user: int, pick: int) -> int:
    """A user other than ``user`` (one of ``USERS``)."""
    others = [u for u in USERS if u != user]
    return others[pick % len(others)]


def _live(side: BookSide) -> list[Order]:
    return [o for level in side.levels.values() for o in level.orders if o.remaining]


class EngineMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.engine = Engine(limits=Limits(max_open_orders=MAX_OPEN))
        self.ts = 0
        self.cash_in = 0
        self.shares_in: dict[str, int] = defaultdict(int)
        self.models = {s: ModelBook() for s in SYMBOLS}
        self.volume: dict[str, int] = defaultdict(int)
        self.order_ids: list[int] = []
        self.twin: Engine | None = None
        self.twin_steps = 0
        self.counts: dict[str, int] = defaultdict(int)
        self.taker: tuple[int, int | None] | None = None  # (user, limit) of the order taking now

    # ------------------------------------------------------------ plumbing

    def _stops(self) -> dict[int, tuple[int, int | None]]:
        """Every untriggered stop: (user, limit once triggered; None for a market stop)."""
        return {
            oid: (o.user, None if o.kind == "stop" else o.price)
            for book in self.engine.books.values() for oid, o in book.stops.orders.items()
        }

    def apply(self, command: Command) -> list[Event]:
        """Apply one command and check everything it returned against the model."""
        self.ts += 1
        engine = self.engine
        before = snapshot(engine)
        seq = engine.seq
        limit = self._taker_limit(command)
        stops = self._stops()
        events = engine.apply(command, self.ts)
        assert events, command
        reply = events[0]
        self.counts[type(reply).__name__ if not isinstance(reply, Reject) else reply.code] += 1
        # The same command on a restored copy of the state before gives the same answer.
        copy = restore(before)
        assert copy.apply(command, self.ts) == events
        assert snapshot(copy) == snapshot(engine)
        if self.twin is not None:
            assert self.twin.apply(command, self.ts) == events
            self.twin_steps += 1
            if self.twin_steps % 5 == 0:
                assert snapshot(self.twin) == snapshot(engine)
        if isinstance(reply, Reject) and len(events) == 1:
            assert engine.seq == seq
            assert snapshot(engine) == before
            return events
        assert engine.seq == seq + 1
        self.taker = (getattr(command, "user", -1), limit)
        for event in events[1:]:
            assert not isinstance(event, Ack | Reject | CanceledAll | Canceled | Applied), event
            if isinstance(event, Triggered):
                assert event.order_id in stops, "only an untriggered stop triggers"
                user, stop_limit = stops.pop(event.order_id)
                assert user == event.user
                self.taker = (user, stop_limit)
                continue
            self._follow(event, command, limit)
        if isinstance(reply, Reject):  # refused after the due good-till-date orders expired
            assert all(isinstance(e, Done) and e.reason == "expired" for e in events[1:])
            return events
        if isinstance(reply, Ack):
            if isinstance(command, NewOrder) and command.tif == "fok" and command.stop_price is None:
                assert reply.status == "filled", "fill-or-kill filled partly"
            if isinstance(command, NewOrder | Replace) and self._post_only(command, reply):
                assert not any(isinstance(e, Match) for e in events), "post-only order took liquidity"
            if reply.order_id not in self.order_ids:
                self.order_ids.append(reply.order_id)
            self._check_ack(reply, events)
        if isinstance(reply, CanceledAll):
            assert reply.count == sum(1 for e in events if isinstance(e, Done) and e.reason == "canceled")
        return events

    def _post_only(self, command: NewOrder | Replace, ack: Ack) -> bool:
        if isinstance(command, NewOrder):
            return command.post_only
        order = self.engine.accounts[ack.user].orders.get(ack.order_id)
        return order is not None and order.post_only

    def _taker_limit(self, command: Command) -> int | None:
        """The limit an incoming order may trade at (None: market)."""
        if isinstance(command, NewOrder):
            return command.price if command.type == "limit" else None
        if isinstance(command, Replace):
            acct = self.engine.accounts.get(command.user)
            if acct is None:
                return None
            order = (
                acct.orders.get(command.order_id)
                if command.order_id is not None
                else acct.client_ids.get(command.client_order_id or "")
            )
            if order is None:
                return None
            return command.price if command.price is not None else order.price
        return None

    def _follow(self, event: Event, command: Command, limit: int | None) -> None:
        """Apply one book event to the L3 model, checking it on the way."""
        assert isinstance(event, Match | Open | Change | Done), event
        model = self.models[event.symbol]
        if isinstance(event, Done) and event.seq == 0:
            # An order that never rested (finished as a taker, or an untriggered stop): not on the book.
            assert event.order_id not in model.where
            return
        assert event.seq == model.seq + 1, (event, model.seq)
        model.seq = event.seq
        if isinstance(event, Open):
            assert event.order_id not in model.where
            model.sides[event.side].setdefault(event.price, []).append([event.order_id, event.qty])
            model.where[event.order_id] = (event.side, event.price)
            assert model.level_qty(event.side, event.price) == event.level_qty
        elif isinstance(event, Match):
            side, price = model.where[event.maker_order_id]
            assert side == event.side
            assert event.price == price, "a trade happens at the resting order's price"
            assert event.maker_user != event.taker_user, "self-trade"
            assert self.taker is not None
            assert event.taker_user == self.taker[0]
            limit = self.taker[1]
            if limit is not None:
                if event.side == "sell":  # the taker bought
                    assert event.price <= limit, (event, limit)
                else:
                    assert event.price >= limit, (event, limit)
            row = model.entry(event.maker_order_id)
            assert row[1] - event.qty >= 0 and event.maker_remaining >= row[1] - event.qty  # + an iceberg's reserve
            assert event.qty > 0
            row[1] -= event.qty
            assert model.level_qty(side, price) == event.level_qty
            self.volume[event.symbol] += event.qty
            assert model.entry(event.maker_order_id)[1] >= 0
        elif isinstance(event, Change):
            side, price = model.where[event.order_id]
            assert (side, price) == (event.side, event.price)
            row = model.entry(event.order_id)
            assert 0 < event.qty < row[1]
            row[1] = event.qty
            assert model.level_qty(side, price) == event.level_qty
        else:
            side, price = model.where[event.order_id]
            assert (side, price) == (event.side, event.price)
            row = model.entry(event.order_id)
            if event.reason in ("filled", "refreshed"):
                assert row[1] == 0 and event.remaining == 0
            else:
                assert event.remaining >= row[1] > 0
            model.remove(event.order_id)
            assert model.level_qty(side, price) == event.level_qty

    def _check_ack(self, ack: Ack, events: list[Event]) -> None:
        acct = self.engine.accounts[ack.user]
        order = acct.orders.get(ack.order_id)
        if ack.status == "pending":
            assert order is not None and order.pending and order.remaining == ack.remaining > 0
        elif ack.status in ("open", "partially_filled"):
            assert order is not None and order.remaining + order.hidden == ack.remaining > 0
            assert (order.qty > ack.remaining) == (ack.status == "partially_filled")
        else:
            assert order is None
            assert ack.remaining == 0
            final = [
                e for e in events if isinstance(e, Done) and e.order_id == ack.order_id and e.reason != "replaced"
            ]
            assert final
            if not any(isinstance(e, Triggered) for e in events):  # else it may have rested, then filled
                assert len(final) == 1 and final[0].seq == 0
                assert final[0].reason == ("filled" if ack.status == "filled" else "expired")

    def _pick_order(self, pick: int) -> int:
        return self.order_ids[pick % len(self.order_ids)] if self.order_ids else 1

    def _deposit(self, user: int, cash: int = 0, symbol: str | None = None, qty: int = 0) -> bool:
        """Deposit; True when accepted. Refused exactly when it would pass a maximum."""
        over = (
            cash > MAX_DEPOSIT or qty > MAX_DEPOSIT or self.cash_in + cash > MAX_CASH
            or (symbol in self.engine.books and self.shares_in[symbol] + qty > MAX_SHARES)
        )
        events = self.apply(Deposit(user, cash=cash, symbol=symbol, qty=qty))
        if isinstance(events[0], Reject):
            assert events[0].code != "limit_exceeded" or over, events[0]
            return False
        assert not over, "a deposit over a maximum was accepted"
        self.cash_in += cash
        if symbol is not None:
            self.shares_in[symbol] += qty
        return True

    # --------------------------------------------------------------- rules

    @initialize()
    def setup(self) -> None:
        for symbol, (tick, lot) in SYMBOLS.items():
            self.apply(AddSymbol(symbol, tick, lot))
        for user in USERS:
            self._deposit(user, cash=START_CASH)
            for symbol in SYMBOLS:
                self._deposit(user, symbol=symbol, qty=START_SHARES)

    def _order(
        self,
        user: int,
        symbol: str,
        side: str,
        price: int | None,
        n: int,
        tif: str,
        post_only: bool,
        coid: str | None,
    ) -> list[Event]:
        lot = SYMBOLS[symbol][1]
        kind = "market" if price is None else "limit"
        return self.apply(NewOrder(user, symbol, side, kind, price, n * lot, tif, post_only, coid))  # type: ignore[arg-type]

    @rule(
        user=users, symbol=symbols, side=sides, price=prices, n=units, tif=tifs,
        post_only=st.sampled_from((False, False, True)), coid=coids,
    )
    def limit_order(
        self,
        user: int,
        symbol: str,
        side: str,
        price: int,
        n: int,
        tif: str,
        post_only: bool,
        coid: str | None,
    ) -> None:
        self._order(user, symbol, side, price, n, tif if not post_only else "gtc", post_only, coid)

    @rule(user=users, symbol=symbols, side=sides, offset=st.integers(0, 3), n=units, coid=coids)
    def resting_order(self, user: int, symbol: str, side: str, offset: int, n: int, coid: str | None) -> None:
        """A GTC limit order at or behind the touch: builds up queues to cancel and replace."""
        price = 98 - offset if side == "buy" else 102 + offset
        self._order(user, symbol, side, price, n, "gtc", False, coid)

    @rule(user=users, symbol=symbols, side=sides, n=st.integers(1, 12), tif=tifs, coid=coids)
    def market_order(self, user: int, symbol: str, side: str, n: int, tif: str, coid: str | None) -> None:
        self._order(user, symbol, side, None, n, tif, False, coid)

    @rule(user=users, symbol=symbols, side=sides)
    def sweep(self, user: int, symbol: str, side: str) -> None:
        """Empty the other side of a book with a market order, after a deposit that pays for it."""
        book = self.engine.books[symbol]
        opp = book.opposite(side)
        qty = sum(o.remaining + o.hidden for o in _live(opp))  # icebergs' reserves too
        if not qty or qty > MAX_QTY:
            return
        if side == "buy":
            funded = self._deposit(user, cash=sum(o.price * (o.remaining + o.hidden) for o in _live(opp)))
        else:
            funded = self._deposit(user, symbol=symbol, qty=qty)
        if not funded:
            return  # more than one deposit may give, or than the exchange may hold
        events = self.apply(NewOrder(user, symbol, side, "market", None, qty, "ioc"))  # type: ignore[arg-type]
        if book.status == "trading":
            assert isinstance(events[0], Ack)
            if not any(isinstance(e, Triggered) for e in events):  # (a triggered stop may rest there)
                assert opp.best() is None and opp.total == 0

    def _open_order(self, pick: int) -> Order | None:
        orders = [o for a in self.engine.accounts.values() for o in a.orders.values()]
        return orders[pick % len(orders)] if orders else None

    def _has_open_orders(self) -> bool:
        return any(a.orders for a in self.engine.accounts.values())

    @precondition(_has_open_orders)
    @rule(
        pick=picks,
        how=st.sampled_from(
            (
                "id", "id", "client_id", "other_user", "other_user_client_id",
                "old_id", "nobody", "all", "all_symbol",
            )
        ),
    )
    def cancel(self, pick: int, how: str) -> None:
        order = self._open_order(pick)
        if order is not None and how.startswith("all"):
            self.apply(CancelAll(order.user, order.symbol if how == "all_symbol" else None))
            return
        if order is None or how == "old_id":
            self.apply(Cancel(USERS[pick % len(USERS)], order_id=self._pick_order(pick)))
            return
        user = order.user
        if how in ("other_user", "other_user_client_id"):
            user = _other(user, pick)
        elif how == "nobody":
            user = NOBODY
        if how.endswith("client_id"):
            command = Cancel(user, client_order_id=order.client_order_id or "c0")
        else:
            command = Cancel(user, order_id=order.order_id)
        expected = Canceled(order.user, order.order_id, order.client_order_id, order.remaining + order.hidden)
        due = 0 < order.expire_ts <= self.ts + 1  # expires just before the cancel
        events = self.apply(command)
        if how == "id" and not due:
            assert events[0] == expected
            assert order.remaining == 0

    @precondition(_has_open_orders)
    @rule(
        pick=picks,
        how=st.sampled_from(("reduce", "raise", "reprice", "both", "client_id", "other_user", "old_id")),
        price=prices,
        qty=st.integers(0, 8),
    )
    def replace(self, pick: int, how: str, price: int, qty: int) -> None:
        order = self._open_order(pick)
        if order is None or how == "old_id":
            user = USERS[pick % len(USERS)]
            self.apply(Replace(user, self._pick_order(pick), price=price, qty=qty or None))
            return
        lot = SYMBOLS[order.symbol][1]
        user, oid = order.user, order.order_id
        if how == "reduce":
            command = Replace(user, oid, qty=max(order.remaining - lot * (1 + qty % 2), lot))
        elif how == "raise":
            command = Replace(user, oid, qty=order.remaining + lot * (1 + qty % 3))
        elif how == "reprice":
            command = Replace(user, oid, price=price)
        elif how == "both":
            command = Replace(user, oid, price=price, qty=lot * (1 + qty % 4))
        elif how == "client_id":
            coid = order.client_order_id or "c1"
            command = Replace(user, price=price, qty=qty * lot or None, client_order_id=coid)
        else:
            other = _other(user, 0)
            command = Replace(other, oid, price=price)
        self.apply(command)

    @rule(
        user=any_user,
        cash=st.integers(0, 500),
        symbol=st.one_of(st.none(), any_symbol),
        qty=st.integers(0, 6),
    )
    def deposit(self, user: int, cash: int, symbol: str | None, qty: int) -> None:
        self._deposit(user, cash=cash, symbol=symbol, qty=qty)

    @rule(symbol=any_symbol, halt=st.sampled_from((False, False, False, True)))
    def halt_or_resume(self, symbol: str, halt: bool) -> None:
        self.apply(Halt(symbol) if halt else Resume(symbol))

    @rule(
        user=any_user,
        symbol=any_symbol,
        side=sides,
        kind=st.sampled_from(
            (
                "market_price", "post_ioc", "post_market", "zero_price", "bad_qty", "no_price",
                "no_ref", "no_ref_replace", "cancel_all_unknown",
            )
        ),
    )
    def invalid(self, user: int, symbol: str, side: str, kind: str) -> None:
        command: Command = {
            "market_price": NewOrder(user, symbol, side, "market", 100, 2),  # type: ignore[arg-type]
            "post_ioc": NewOrder(user, symbol, side, "limit", 100, 2, "ioc", True),  # type: ignore[arg-type]
            "post_market": NewOrder(user, symbol, side, "market", None, 2, post_only=True),  # type: ignore[arg-type]
            "zero_price": NewOrder(user, symbol, side, "limit", 0, 2),  # type: ignore[arg-type]
            "bad_qty": NewOrder(user, symbol, side, "limit", 100, 3 if symbol == "BBB" else 0),  # type: ignore[arg-type]
            "no_price": NewOrder(user, symbol, side, "limit", None, 2),  # type: ignore[arg-type]
            "no_ref": Cancel(user),
            "no_ref_replace": Replace(user, price=100),
            "cancel_all_unknown": CancelAll(user, "ZZZ"),
        }[kind]
        events = self.apply(command)
        assert isinstance(events[0], Reject)

    @rule(
        user=users, symbol=symbols, side=sides, offset=st.integers(-1, 3), n=units,
        limit=st.one_of(st.none(), prices), tif=tifs, expires=st.one_of(st.none(), st.integers(1, 30)),
        coid=coids,
    )
    def stop_order(
        self, user: int, symbol: str, side: str, offset: int, n: int, limit: int | None, tif: str,
        expires: int | None, coid: str | None,
    ) -> None:
        """A stop or stop-limit near the last trade (sometimes through it: refused)."""
        book = self.engine.books[symbol]
        last = book.last if book.last is not None else 100
        stop_price = last + 1 + offset if side == "buy" else last - 1 - offset
        kind = "stop" if limit is None else "stop_limit"
        if expires is not None and kind == "stop_limit":
            tif = "gtd"
        events = self.apply(NewOrder(
            user, symbol, side, kind, limit, n * SYMBOLS[symbol][1], tif,  # type: ignore[arg-type]
            client_order_id=coid, stop_price=stop_price,
            expire_ts=self.ts + 1 + expires if tif == "gtd" and expires is not None else None,
        ))
        if offset < 0 and book.last is not None and book.status == "trading":
            assert isinstance(events[0], Reject)

    @rule(
        user=users, symbol=symbols, side=sides, price=prices, n=st.integers(2, 6),
        show=st.integers(1, 3), expires=st.one_of(st.none(), st.integers(1, 30)), coid=coids,
    )
    def iceberg_or_gtd_order(
        self, user: int, symbol: str, side: str, price: int, n: int, show: int, expires: int | None,
        coid: str | None,
    ) -> None:
        """A limit order with a display part, a good-till-date expiry, or both."""
        lot = SYMBOLS[symbol][1]
        display = show * lot if show < n else None
        tif = "gtc" if expires is None else "gtd"
        expire_ts = None if expires is None else self.ts + 1 + expires
        if display is None and expire_ts is None:
            display = lot
        self.apply(NewOrder(
            user, symbol, side, "limit", price, n * lot, tif,  # type: ignore[arg-type]
            client_order_id=coid, expire_ts=expire_ts, display_qty=display,
        ))

    @rule(jump=st.sampled_from((0, 0, 5, 20)))
    def expire_tick(self, jump: int) -> None:
        """The shell's periodic expiry command, maybe after a quiet while."""
        self.ts += jump
        due = self.engine.next_expiry <= self.ts + 1
        events = self.apply(Expire())
        if not due:
            assert isinstance(events[0], Reject)

    @rule(
        user=users, symbol=symbols,
        kind=st.sampled_from(("stop_no_price", "stop_with_price", "gtd_past", "gtd_far", "gtd_market",
                              "display_big", "display_ioc", "expire_gtc", "stop_post")),
    )
    def invalid_new_type(self, user: int, symbol: str, kind: str) -> None:
        lot = SYMBOLS[symbol][1]
        far = self.ts + 1 + 366 * 86_400 * 10**9 + 1
        command = {
            "stop_no_price": NewOrder(user, symbol, "buy", "stop", None, lot),
            "stop_with_price": NewOrder(user, symbol, "buy", "stop", 100, lot, stop_price=200),
            "gtd_past": NewOrder(user, symbol, "buy", "limit", 100, lot, "gtd", expire_ts=self.ts),
            "gtd_far": NewOrder(user, symbol, "buy", "limit", 100, lot, "gtd", expire_ts=far),
            "gtd_market": NewOrder(user, symbol, "buy", "market", None, lot, "gtd", expire_ts=self.ts + 9),
            "display_big": NewOrder(user, symbol, "buy", "limit", 100, lot, display_qty=lot),
            "display_ioc": NewOrder(user, symbol, "buy", "limit", 100, 2 * lot, "ioc", display_qty=lot),
            "expire_gtc": NewOrder(user, symbol, "buy", "limit", 100, lot, expire_ts=self.ts + 9),
            "stop_post": NewOrder(user, symbol, "buy", "stop_limit", 100, lot, post_only=True, stop_price=200),
        }[kind]
        events = self.apply(command)
        assert isinstance(events[0], Reject)

    @rule()
    def fork(self) -> None:
        """From here on, feed a restored copy the same commands and compare."""
        self.twin = restore(snapshot(self.engine))
        self.twin_steps = 0

    # ---------------------------------------------------------- invariants

    @invariant()
    def conserved_and_never_negative(self) -> None:
        accounts = self.engine.accounts.values()
        assert sum(a.cash for a in accounts) == self.cash_in
        for symbol in SYMBOLS:
            assert sum(a.positions.get(symbol, 0) for a in accounts) == self.shares_in[symbol]
        for a in accounts:
            assert 0 <= a.cash_held <= a.cash
            for symbol, qty in a.positions.items():
                assert 0 <= a.held.get(symbol, 0) <= qty
            assert all(h >= 0 for h in a.held.values())

    @invariant()
    def holds_are_exactly_what_open_orders_need(self) -> None:
        for a in self.engine.accounts.values():
            buys = [o for o in a.orders.values() if o.side == "buy"]
            # A stop buy (price 0 until it triggers) holds nothing; an iceberg holds its reserve too.
            assert a.cash_held == sum(o.price * (o.remaining + o.hidden) for o in buys)
            assert all(o.price == 0 for o in buys if o.kind == "stop")
            for symbol in SYMBOLS:
                sells = [o for o in a.orders.values() if o.side == "sell" and o.symbol == symbol]
                assert a.held.get(symbol, 0) == sum(o.remaining + o.hidden for o in sells)

    @invariant()
    def every_open_order_is_in_exactly_one_place(self) -> None:
        engine = self.engine
        owned: dict[int, Order] = {}
        for a in engine.accounts.values():
            assert len(a.orders) <= MAX_OPEN
            for oid, order in a.orders.items():
                assert order.order_id == oid and order.user == a.user
                assert 0 < order.remaining and order.remaining + order.hidden <= order.qty
                assert order.pending or order.tif in ("gtc", "gtd")
                assert order.hidden == 0 or order.remaining <= order.display
                assert oid not in owned
                owned[oid] = order
            assert a.client_ids == {o.client_order_id: o for o in a.orders.values() if o.client_order_id}
        resting: dict[int, Order] = {}
        for symbol, book in engine.books.items():
            for oid, order in book.stops.orders.items():
                assert order.pending and order.symbol == symbol and oid not in resting
                last = book.last
                if last is not None:  # an untriggered stop is never through the last trade
                    assert last < order.stop_price if order.side == "buy" else last > order.stop_price
                resting[oid] = order
            for side in (book.bids, book.asks):
                for level in side.levels.values():
                    for order in level.orders:
                        if not order.remaining:
                            continue
                        assert order.order_id not in resting, "an order rests twice"
                        assert not order.pending
                        assert (order.symbol, order.side, order.price) == (symbol, side.side, level.price)
                        resting[order.order_id] = order
        assert resting.keys() == owned.keys()
        for oid, order in resting.items():
            assert owned[oid] is order
            assert 0 < oid < engine.next_order_id

    @invariant()
    def books_are_consistent(self) -> None:
        for symbol, book in self.engine.books.items():
            self._check_side(book, book.bids)
            self._check_side(book, book.asks)
            bid, ask = book.bids.best(), book.asks.best()
            if bid is not None and ask is not None:
                assert bid.price < ask.price, "crossed book"
            view = ticker(book)
            assert view["bid"] == (max(o.price for o in _live(book.bids)) if _live(book.bids) else None)
            assert view["ask"] == (min(o.price for o in _live(book.asks)) if _live(book.asks) else None)
            assert view["open_interest"] == sum(o.remaining for o in _live(book.bids) + _live(book.asks))
            assert book.volume == self.volume[symbol]
            l2 = level2(book)
            for rows, side in ((l2["bids"], book.bids), (l2["asks"], book.asks)):
                for price, qty in rows:
                    assert qty == sum(o.remaining for o in _live(side) if o.price == price) > 0

    @staticmethod
    def _check_side(book: Book, side: BookSide) -> None:
        assert side.total == sum(o.remaining for o in _live(side))
        assert sorted(side.heap) == sorted(side.levels)
        empty = 0
        for key, level in side.levels.items():
            assert level.key == key == side.sign * level.price
            live = [o for o in level.orders if o.remaining]
            assert level.count == len(live)
            assert level.total == sum(o.remaining for o in live)
            assert len(level.orders) - level.head == level.count + level.dead
            assert not any(o.remaining for o in level.orders[: level.head]), "a live order before the head"
            assert level.dead <= max(_COMPACT_MIN_DEAD, (len(USERS) + 1) * MAX_OPEN)
            empty += level.count == 0
        assert side.stale == empty
        if side.top is not None and side.top.count:
            assert side.top.key == min(k for k, lv in side.levels.items() if lv.count), "stale best level"
        assert side.stale <= max(_STALE_SLACK, len(side.levels) - side.stale)

    @invariant()
    def the_state_always_checkpoints(self) -> None:
        """msgpack of the snapshot (the journal's checkpoint) encodes and loads back the same."""
        engine = self.engine
        state = snapshot(engine)
        data = encode_checkpoint(state)
        assert snapshot(load_engine(data, seq=engine.seq, crc=zlib.crc32(data))) == state
        assert engine.cash == self.cash_in <= MAX_CASH
        for symbol, book in engine.books.items():
            assert book.shares == self.shares_in[symbol] <= MAX_SHARES

    @invariant()
    def l3_stream_rebuilds_the_book(self) -> None:
        for symbol, book in self.engine.books.items():
            model = self.models[symbol]
            view = level3(book)
            assert view["seq"] == model.seq == book.seq
            assert {"bids": view["bids"], "asks": view["asks"]} == model.view()

    def teardown(self) -> None:
        if self.twin is not None:
            assert snapshot(self.twin) == snapshot(self.engine)


EngineMachine.TestCase.settings = settings(
    max_examples=400,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestEngine = EngineMachine.TestCase

CASH_ROOM = MAX_DEPOSIT + MAX_DEPOSIT // 2
"""What the whale leaves of the cash maximum: one largest deposit fits, a second does not."""
SHARES_ROOM = MAX_DEPOSIT + 7
edge_prices = st.sampled_from((MAX_PRICE, MAX_PRICE + 1, MAX_PRICE - 1, 100, 2**64))
edge_qtys = st.sampled_from((MAX_QTY, MAX_QTY + 1, MAX_QTY // 2, MAX_QTY - 2, 2, 2**64))
holders = st.sampled_from((WHALE, WHALE, *USERS))


class BoundsMachine(EngineMachine):
    """The same market next to a whale at the edge of every maximum."""

    @initialize()
    def setup(self) -> None:
        EngineMachine.setup(self)
        state = snapshot(self.engine)
        whale_cash = MAX_CASH - self.cash_in - CASH_ROOM
        whale_shares = {s: MAX_SHARES - self.shares_in[s] - SHARES_ROOM for s in sorted(SYMBOLS)}
        state["accounts"].append(
            {"user": WHALE, "cash": whale_cash, "cash_held": 0, "positions": whale_shares, "held": {}, "orders": []}
        )
        self.engine = restore(state)
        self.cash_in += whale_cash
        for symbol, qty in whale_shares.items():
            self.shares_in[symbol] += qty

    @rule(
        user=holders,
        what=st.sampled_from(("cash", "shares")),
        amount=st.sampled_from(("room", "room+1", "max", "max+1", "one")),
        symbol=symbols,
    )
    def deposit_at_the_edge(self, user: int, what: str, amount: str, symbol: str) -> None:
        room = MAX_CASH - self.cash_in if what == "cash" else MAX_SHARES - self.shares_in[symbol]
        value = {"room": room, "room+1": room + 1, "max": MAX_DEPOSIT, "max+1": MAX_DEPOSIT + 1, "one": 1}[amount]
        if what == "cash":
            self._deposit(user, cash=value)
        else:
            self._deposit(user, symbol=symbol, qty=value)

    @rule(user=holders, symbol=symbols, side=sides, price=edge_prices, qty=edge_qtys, tif=tifs)
    def order_at_the_edge(self, user: int, symbol: str, side: str, price: int, qty: int, tif: str) -> None:
        events = self.apply(NewOrder(user, symbol, side, "limit", price, qty, tif))  # type: ignore[arg-type]
        if price > MAX_PRICE or qty > MAX_QTY:
            assert isinstance(events[0], Reject) and events[0].code in ("invalid_price", "invalid_qty", "halted")

    @rule(user=holders, symbol=symbols, side=sides, qty=edge_qtys)
    def market_order_at_the_edge(self, user: int, symbol: str, side: str, qty: int) -> None:
        self.apply(NewOrder(user, symbol, side, "market", None, qty, "ioc"))  # type: ignore[arg-type]

    @precondition(EngineMachine._has_open_orders)
    @rule(pick=picks, price=st.one_of(st.none(), edge_prices), qty=st.one_of(st.none(), edge_qtys))
    def replace_at_the_edge(self, pick: int, price: int | None, qty: int | None) -> None:
        order = self._open_order(pick)
        assert order is not None
        open_qty = order.remaining + order.hidden
        filled = order.qty - open_qty
        events = self.apply(Replace(order.user, order.order_id, price=price, qty=qty))
        size = filled + (open_qty if qty is None else qty)
        grows = (qty is not None and qty > open_qty) or (price is not None and price != order.price)
        if (price or 0) > MAX_PRICE or (qty or 0) > MAX_QTY or (grows and size > MAX_QTY):
            assert isinstance(events[0], Reject), events[0]

    @rule(
        tick=st.sampled_from((1, MAX_TICK, MAX_TICK + 1, 2**64)),
        lot=st.sampled_from((1, MAX_LOT, MAX_LOT + 1, 2**70)),
        n=st.integers(0, 3),
    )
    def list_at_the_edge(self, tick: int, lot: int, n: int) -> None:
        events = self.apply(AddSymbol(f"EDGE{n}", tick, lot))
        if tick > MAX_TICK or lot > MAX_LOT:
            assert isinstance(events[0], Reject) and events[0].code == "bad_request"
        elif not isinstance(events[0], Reject):
            self.models[f"EDGE{n}"] = ModelBook()


BoundsMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestBounds = BoundsMachine.TestCase
