"""Authorization, disabled users, reconnect tokens and login throttling over the wire."""

from __future__ import annotations

import asyncio

import pytest

from client import ExchError, Session
from exchange.protocol import DoneMessage, ErrorMessage, FillMessage

from .conftest import Exchange, Pushes, run_exch, unique

CASH = 1_000_000


async def test_users_see_and_touch_only_their_own_orders_and_fills(exchange: Exchange) -> None:
    a = await exchange.trader(shares={"ACME": 50})
    b = await exchange.trader(cash=CASH)
    c = await exchange.trader(cash=CASH, shares={"ACME": 50})
    pa, pb, pc = Pushes(a), Pushes(b), Pushes(c)
    a_sell = await a.order("ACME", "sell", 10, price=100)
    c_buy = await c.order("ACME", "buy", 5, price=90)
    c_sell = await c.order("ACME", "sell", 5, price=120)
    b_buy = await b.order("ACME", "buy", 4, price=100)
    assert [o.order_id for o in (await a.orders()).orders] == [a_sell.order_id]
    assert [o.order_id for o in (await c.orders()).orders] == [c_buy.order_id, c_sell.order_id]
    assert (await b.orders()).orders == []
    (fa,) = await pa.wait(FillMessage)
    (fb,) = await pb.wait(FillMessage)
    assert fa.order_id == a_sell.order_id and fb.order_id == b_buy.order_id and fa.trade_id == fb.trade_id
    await pb.wait(DoneMessage, order_id=b_buy.order_id)
    await c.ping()  # anything for c would have come before the pong
    assert pc.of(FillMessage) == [] and pc.of(DoneMessage) == []
    assert all(m.order_id == a_sell.order_id for m in pa.items if isinstance(m, FillMessage | DoneMessage))
    # nobody else's order can be canceled, replaced or cancel_all'ed
    assert (await b.cancel_all()).count == 0
    with pytest.raises(ExchError) as info:
        await b.cancel(a_sell.order_id)
    assert info.value.code == "unknown_order"
    assert [(o.order_id, o.remaining) for o in (await a.orders()).orders] == [(a_sell.order_id, 6)]


async def test_fills_and_done_go_to_every_session_of_the_owner(exchange: Exchange) -> None:
    name, password = await exchange.add_user(cash=CASH)
    first = await exchange.connect()
    await first.login(name, password)
    second = await exchange.connect()
    await second.login(name, password)
    p1, p2 = Pushes(first), Pushes(second)
    seller = await exchange.trader(shares={"BOLT": 5})
    bid = await first.order("BOLT", "buy", 5, price=70)
    await seller.order("BOLT", "sell", 5, price=70)
    for pushes in (p1, p2):
        (fill,) = await pushes.wait(FillMessage)
        assert (fill.order_id, fill.qty, fill.liquidity) == (bid.order_id, 5, "maker")
        await pushes.wait(DoneMessage, order_id=bid.order_id, reason="filled")


async def _two_sessions(exchange: Exchange, name: str, password: str) -> tuple[Session, Session, str]:
    """Two logged-in sessions of ``name`` and the first one's reconnect token."""
    s1 = await exchange.connect()
    token = (await s1.login(name, password)).token
    s2 = await exchange.connect()
    await s2.login(name, password)
    return s1, s2, token


async def _refused(exchange: Exchange, name: str, password: str, token: str) -> None:
    """Neither ``password`` nor ``token`` logs ``name`` in any more."""
    with pytest.raises(ExchError) as info:
        await (await exchange.connect()).login(name, password)
    assert info.value.code == "auth_failed"
    with pytest.raises(ExchError) as info:
        await (await exchange.connect()).login_token(token)
    assert info.value.code == "auth_failed"


async def test_a_disabled_users_sessions_are_closed_and_logins_refused(exchange: Exchange) -> None:
    admin = await exchange.admin()
    name, password = await exchange.add_user(cash=CASH)
    s1, s2, token = await _two_sessions(exchange, name, password)
    p1 = Pushes(s1)
    await s1.order("ACME", "buy", 1, price=100)
    bystander = await exchange.trader(cash=CASH)
    reply = await admin.user_disable(name)
    assert reply.sessions_closed == 2
    for s in (s1, s2):
        closed = await s.wait_closed()
        assert closed.code == 1008
    assert any(m.code == "forbidden" for m in p1.of(ErrorMessage))
    await _refused(exchange, name, password, token)
    assert not bystander.closed and (await bystander.balance()).cash == CASH
    assert name not in {x.user for x in (await admin.sessions()).sessions}
    await admin.user_enable(name)
    again = await exchange.connect()
    await again.login(name, password)
    assert (await again.balance()).cash == CASH


async def test_a_password_change_closes_every_session_of_the_user(exchange: Exchange) -> None:
    admin = await exchange.admin()
    name, password = await exchange.add_user(cash=CASH)
    s1, s2, token = await _two_sessions(exchange, name, password)
    p1, p2 = Pushes(s1), Pushes(s2)
    await s1.order("ACME", "buy", 1, price=100)
    bystander = await exchange.trader(cash=CASH)
    reply = await admin.user_passwd(name, "brand-new-pw")
    assert (reply.username, reply.sessions_closed) == (name, 2)
    for s, pushes in ((s1, p1), (s2, p2)):
        closed = await s.wait_closed()
        assert (closed.code, closed.reason) == (1008, "password changed")
        (notice,) = pushes.of(ErrorMessage)
        assert (notice.id, notice.code) == (None, "forbidden") and "password" in notice.message
    await _refused(exchange, name, password, token)
    assert not bystander.closed and (await bystander.balance()).cash == CASH
    assert name not in {x.user for x in (await admin.sessions()).sessions}
    fresh = await exchange.connect()
    await fresh.login(name, "brand-new-pw")
    assert [o.price for o in (await fresh.orders()).orders] == [100]  # the orders stay: only sessions end


async def test_an_admin_changing_their_own_password_keeps_only_the_asking_session(exchange: Exchange) -> None:
    name, password = await exchange.add_user(role="admin")
    asking = await exchange.connect()
    token = (await asking.login(name, password)).token
    other = await exchange.connect()
    await other.login(name, password)
    reply = await asking.user_passwd(name, "new-admin-pw")
    assert reply.sessions_closed == 1
    assert (await other.wait_closed()).code == 1008
    assert not asking.closed and name in {u.username for u in (await asking.user_list()).users}
    with pytest.raises(ExchError) as info:  # its token was issued before the change
        await (await exchange.connect()).login_token(token)
    assert info.value.code == "auth_failed"
    assert (await (await exchange.connect()).login(name, "new-admin-pw")).role == "admin"


async def test_token_login_works_and_is_revoked_by_exch_user_passwd(exchange: Exchange) -> None:
    name, password = await exchange.add_user(cash=CASH)
    s = await exchange.connect()
    first = await s.login(name, password)
    reconnect = await exchange.connect()
    again = await reconnect.login_token(first.token)
    assert (again.user, again.role) == (name, "trader") and again.token
    assert (await reconnect.balance()).cash == CASH
    result = await asyncio.to_thread(
        run_exch, "user", "passwd", name, "--password-stdin", home=exchange.home, input="brand-new\n"
    )
    assert result.returncode == 0, result.stderr
    for token in (first.token, again.token):
        with pytest.raises(ExchError) as info:
            await (await exchange.connect()).login_token(token)
        assert info.value.code == "auth_failed"
    with pytest.raises(ExchError) as info:
        await (await exchange.connect()).login(name, password)
    assert info.value.code == "auth_failed"
    fresh = await exchange.connect()
    await fresh.login(name, "brand-new")
    assert (await fresh.balance()).cash == CASH


async def test_login_throttling_per_user_refuses_even_the_right_password(exchange: Exchange) -> None:
    name, password = await exchange.add_user()
    s = await exchange.connect()
    token = (await (await exchange.connect()).login(name, password)).token
    messages = set()
    for _ in range(5):
        with pytest.raises(ExchError) as info:
            await s.login(name, "wrong")
        assert info.value.code == "auth_failed"
        messages.add(info.value.message)
    with pytest.raises(ExchError) as info:
        await s.login(name, password)  # locked: the right password is refused as well
    assert info.value.code == "auth_failed"
    messages.add(info.value.message)
    assert len(messages) == 1  # a throttled login looks like a wrong password
    # a name that does not exist is throttled the same way (nothing tells them apart)
    ghost = unique("ghost")
    for _ in range(6):
        with pytest.raises(ExchError) as info:
            await s.login(ghost, "whatever")
        assert (info.value.code, info.value.message) == ("auth_failed", next(iter(messages)))
    # other users (same address) are not locked out, and the owner can still use a token
    other, other_pw = await exchange.add_user()
    assert (await s.login(other, other_pw)).user == other
    assert (await (await exchange.connect()).login_token(token)).user == name


async def test_login_throttling_per_address(exchange: Exchange) -> None:
    name, password = await exchange.add_user()
    s = await exchange.connect()
    for i in range(20):  # many names, each below the per-user limit: the address gets locked
        with pytest.raises(ExchError) as info:
            await s.login(f"nobody{i % 10}", "wrong")
        assert info.value.code == "auth_failed"
    with pytest.raises(ExchError) as info:
        await s.login(name, password)
    assert info.value.code == "auth_failed"
