"""The exchange's hard maxima: plain constants shared by the engine and the protocol.

Every integer the engine keeps is serialised: the checkpoint is msgpack (ints
in ``[-2**63, 2**64 - 1]``), the journal's commands are msgpack, trades go to
SQLite/PostgreSQL ``INTEGER``/``BIGINT`` columns (int64, at most
``2**63 - 1`` = 9,223,372,036,854,775,807, about 9.22e18). The maxima below
keep every stored and derived number under ``2**63 - 1``, so a checkpoint can
never fail on a state the engine accepted::

    price            <= MAX_PRICE  = 10**9  ticks (cents: $10,000,000.00 a share)
    order size       <= MAX_QTY    = 10**9  shares (filled + open, also after a replace)
    notional         <= MAX_PRICE * MAX_QTY = 10**18                     < 2**63
    one deposit      <= MAX_DEPOSIT = 10**15 (cents or shares)
    all cash         <= MAX_CASH   = 10**18 cents ($10,000,000,000,000,000.00)
    one symbol       <= MAX_SHARES = 10**18 shares, all accounts together
    tick, lot        <= MAX_PRICE, MAX_QTY (a larger tick leaves no valid price)

Cash and shares only enter through deposits; a trade moves them between two
accounts and never creates any. So the engine caps the *totals*: a deposit that
would take the exchange's cash over ``MAX_CASH`` or a symbol's shares over
``MAX_SHARES`` is refused (``limit_exceeded``), and then, for every state:

- an account's ``cash`` and ``cash_held`` (``<= cash``) are ``<= MAX_CASH``; a
  seller's cash after a fill (cash + proceeds) is still part of the total, so
  no fill ever has to be refused;
- a position and its held part are ``<= MAX_SHARES``; so are a book's asks;
- a fill's value ``price * qty`` is paid from the buyer's cash: ``<= MAX_CASH``;
- a resting buy holds ``price * remaining <= cash`` with ``price >= 1``, so the
  bids of a book, and each level, total ``<= MAX_CASH`` shares;
- open interest (bids + asks) ``<= MAX_CASH + MAX_SHARES = 2 * 10**18 < 2**63``.

Counters that only grow: ``seq``, order ids, trade ids and a book's ``seq``
advance by one per command, order, fill or book change: at 1,000,000 a second
they reach ``2**63`` after 9.22e12 s, 292,000 years. A book's ``volume`` grows
by each fill's quantity: at 1,000,000 shares a second that is also 292,000
years, but a flood of maximum-size fills (10**9 shares each) at 1,000,000 a
second would get there in 2.6 hours, so ``volume`` stops at ``MAX_VOLUME``
(``2**63 - 1``) instead of overflowing.

The protocol (``exchange.protocol.requests``) refuses integers over these
maxima before they reach the engine; the engine's ``Limits``
(``exchange.engine.limits``) may only tighten them. This module imports
nothing, so the protocol and the clients use it without loading the engine.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "MAX_CASH",
    "MAX_DEPOSIT",
    "MAX_EXPIRE_NS",
    "MAX_LOT",
    "MAX_PASSWORD_BYTES",
    "MAX_PRICE",
    "MAX_QTY",
    "MAX_SHARES",
    "MAX_TICK",
    "MAX_VOLUME",
]

MAX_PRICE: Final = 10**9
"""Highest price of an order, in ticks of the currency's smallest unit (cents)."""
MAX_QTY: Final = 10**9
"""Largest order: shares, filled and open together."""
MAX_DEPOSIT: Final = 10**15
"""Largest single deposit: cents of cash or shares of one symbol."""
MAX_CASH: Final = 10**18
"""All the cash on the exchange, every account together, in cents."""
MAX_SHARES: Final = 10**18
"""All the shares of one symbol, every account together."""
MAX_TICK: Final = MAX_PRICE
"""Largest tick (price step) of a symbol."""
MAX_LOT: Final = MAX_QTY
"""Largest lot (quantity step) of a symbol."""
MAX_VOLUME: Final = 2**63 - 1
"""A book's traded volume stops counting here (see the module doc)."""
MAX_EXPIRE_NS: Final = 366 * 86_400 * 10**9
"""A good-till-date order expires at most this long (366 days, in ns) after it is placed."""
MAX_PASSWORD_BYTES: Final = 72
"""Longest password, in bytes of UTF-8: bcrypt reads at most 72; longer ones are refused, never truncated.
Here (not in :mod:`exchange.auth`) so the apps check it without importing bcrypt."""
