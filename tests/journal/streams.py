"""Command streams for journal tests: a funded setup and hypothesis strategies."""

from __future__ import annotations

from hypothesis import strategies as st

from exchange.engine import AddSymbol, Cancel, CancelAll, Command, Deposit, Halt, NewOrder, Replace, Resume

SYMBOLS = ("AAA", "BBB")
USERS = (1, 2, 3, 4)

SETUP: list[Command] = [AddSymbol(s, 1, 1) for s in SYMBOLS] + [
    Deposit(u, cash=1_000_000, symbol=s, qty=1_000) for u in USERS for s in SYMBOLS
]

users = st.sampled_from(USERS)
symbols = st.sampled_from(SYMBOLS)
order_ids = st.integers(1, 60)
prices = st.integers(95, 105)

new_orders = st.builds(
    NewOrder,
    user=users,
    symbol=symbols,
    side=st.sampled_from(["buy", "sell"]),
    type=st.just("limit"),
    price=prices,
    qty=st.integers(1, 8),
    tif=st.sampled_from(["gtc", "gtc", "ioc", "fok"]),
    post_only=st.booleans(),
    client_order_id=st.none() | st.sampled_from(["a", "b", "c"]),
)
market_orders = st.builds(
    NewOrder,
    user=users,
    symbol=symbols,
    side=st.sampled_from(["buy", "sell"]),
    type=st.just("market"),
    price=st.none(),
    qty=st.integers(1, 8),
    tif=st.just("ioc"),
)
commands: st.SearchStrategy[Command] = st.one_of(
    new_orders,
    new_orders,
    new_orders,
    market_orders,
    st.builds(Cancel, user=users, order_id=order_ids),
    st.builds(CancelAll, user=users, symbol=st.none() | symbols),
    st.builds(
        Replace, user=users, order_id=order_ids, price=st.none() | prices, qty=st.none() | st.integers(1, 8)
    ),
    st.builds(
        Deposit, user=users, cash=st.integers(0, 10_000), symbol=st.none() | symbols, qty=st.integers(0, 50)
    ),
    st.builds(Halt, symbol=symbols),
    st.builds(Resume, symbol=symbols),
)
streams = st.lists(commands, min_size=0, max_size=80)
