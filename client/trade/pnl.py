"""Position, average price and profit and loss of a trader's fills, per symbol: plain Python, exact.

Average-cost accounting over the fills alone (shares given by the operator
cost nothing and are not counted): a buy adds to a long position at its price,
or covers a short one and realises ``(average - price) x qty``; a sell the other
way round. Unrealised P&L marks what is still open at a price (the last trade).
Amounts are cents; averages are exact fractions until they are shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol

__all__ = ["Fill", "Position", "positions"]


class Fill(Protocol):
    """What P&L needs of a fill (a pushed ``fill`` or a ``history`` row)."""

    @property
    def symbol(self) -> str: ...
    @property
    def side(self) -> str: ...
    @property
    def price(self) -> int: ...
    @property
    def qty(self) -> int: ...


@dataclass
class Position:
    """One symbol's traded position.

    Attributes:
        symbol: the symbol.
        qty: shares bought minus shares sold (negative: sold more than bought).
        cost: what the open ``qty`` cost (cents, same sign as ``qty``).
        realised: profit (cents, negative: loss) of the shares bought and sold back.
        fills: how many fills made it.
    """

    symbol: str
    qty: int = 0
    cost: Fraction = Fraction(0)
    realised: Fraction = Fraction(0)
    fills: int = 0

    def add(self, side: str, price: int, qty: int) -> None:
        """Take one fill: ``side`` ``buy`` or ``sell`` of ``qty`` at ``price`` (cents)."""
        signed = qty if side == "buy" else -qty
        self.fills += 1
        if self.qty == 0 or (self.qty > 0) == (signed > 0):  # opening or adding
            self.qty += signed
            self.cost += price * signed
            return
        closing = min(abs(signed), abs(self.qty))
        average = self.cost / self.qty
        direction = 1 if self.qty > 0 else -1
        self.realised += (price - average) * closing * direction
        self.cost -= average * closing * direction
        self.qty -= closing * direction
        left = abs(signed) - closing  # reversed through zero: the rest opens the other way
        if left:
            self.qty = left * (1 if signed > 0 else -1)
            self.cost = Fraction(price * self.qty)

    @property
    def average(self) -> Fraction | None:
        """The average price of the open position (None when flat)."""
        return self.cost / self.qty if self.qty else None

    def unrealised(self, mark: int | None) -> Fraction:
        """Profit of the open position if it were closed at ``mark`` (0 when flat or unmarked)."""
        if not self.qty or mark is None:
            return Fraction(0)
        return mark * self.qty - self.cost


def positions(fills: Iterable[Fill]) -> dict[str, Position]:
    """Every symbol's :class:`Position` from ``fills``, oldest first."""
    out: dict[str, Position] = {}
    for fill in fills:
        position = out.get(fill.symbol)
        if position is None:
            position = out[fill.symbol] = Position(fill.symbol)
        position.add(fill.side, fill.price, fill.qty)
    return out
