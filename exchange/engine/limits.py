"""The engine's (tighter, configurable) ``Limits`` under the exchange's hard maxima.

The maxima themselves, and why they keep every number under ``2**63 - 1``, are
in :mod:`exchange.bounds` (re-exported here).
"""

from __future__ import annotations

from exchange.bounds import (
    MAX_CASH,
    MAX_DEPOSIT,
    MAX_EXPIRE_NS,
    MAX_LOT,
    MAX_PRICE,
    MAX_QTY,
    MAX_SHARES,
    MAX_TICK,
    MAX_VOLUME,
)

__all__ = [
    "MAX_CASH",
    "MAX_DEPOSIT",
    "MAX_EXPIRE_NS",
    "MAX_LOT",
    "MAX_PRICE",
    "MAX_QTY",
    "MAX_SHARES",
    "MAX_TICK",
    "MAX_VOLUME",
    "Limits",
]


class Limits:
    """Engine-wide bounds. Keyword-only, with the defaults a small exchange wants.

    Each bound may be set below its hard maximum, never above it.

    Raises:
        ValueError: a bound is not positive or over its maximum.
    """

    __slots__ = ("max_deposit", "max_open_orders", "max_price", "max_qty")

    def __init__(
        self,
        *,
        max_open_orders: int = 1_000,
        max_price: int = MAX_PRICE,
        max_qty: int = MAX_QTY,
        max_deposit: int = MAX_DEPOSIT,
    ) -> None:
        for name, value, top in (
            ("max_price", max_price, MAX_PRICE),
            ("max_qty", max_qty, MAX_QTY),
            ("max_deposit", max_deposit, MAX_DEPOSIT),
        ):
            if not 1 <= value <= top:
                raise ValueError(f"{name} must be 1 to {top:,}, got {value:,}")
        if max_open_orders < 1:
            raise ValueError(f"max_open_orders must be at least 1, got {max_open_orders:,}")
        self.max_open_orders = max_open_orders
        self.max_price = max_price
        self.max_qty = max_qty
        self.max_deposit = max_deposit

    def as_dict(self) -> dict[str, int]:
        """Plain data, for snapshots."""
        return {
            "max_open_orders": self.max_open_orders,
            "max_price": self.max_price,
            "max_qty": self.max_qty,
            "max_deposit": self.max_deposit,
        }
