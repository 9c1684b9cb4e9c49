"""The connected sessions: who, from where, since when, how busy."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from rich.text import Text

from console.format import clock, rate
from console.widgets.live_table import Cell, Column, LiveTable
from exchange.protocol import SessionInfo

__all__ = ["SessionsTable", "session_cells"]


def session_cells(s: SessionInfo, tz: dt.tzinfo | None = None) -> dict[str, Cell]:
    """The cells of one session's row."""
    user = s.user or "(not logged in)"
    return {
        "user": Text(user, style="bold" if s.role == "admin" else ""),
        "role": s.role or "-",
        "address": s.address,
        "since": clock(s.connected_ts, tz),
        "orders": rate(s.orders_per_s),
        "messages": rate(s.messages_per_s),
    }


class SessionsTable(LiveTable):
    """Every connected session (from the ``sessions`` poll)."""

    COLUMNS = (
        Column("user", "User", 10, grow=True),
        Column("role", "Role", 6, narrow=False),
        Column("address", "Address", 21, narrow=False),
        Column("since", "Since", 8),
        Column("orders", "Ord/s", 5, right=True),
        Column("messages", "Msg/s", 6, right=True, narrow=False),
    )
    WIDE_AT = 76

    def show(self, sessions: Sequence[SessionInfo], tz: dt.tzinfo | None = None) -> None:
        """Show these sessions (keyed by session id)."""
        self.sync({str(s.session_id): session_cells(s, tz) for s in sessions})
