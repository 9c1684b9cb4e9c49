"""The server's answers to admin requests, in plain words."""

from __future__ import annotations

from typing import Any

from client.errors import ClientError, ExchError, RequestTimeout, SessionClosed
from console.format import dollars
from exchange.protocol import (
    DepositReply,
    HaltReply,
    ResumeReply,
    UserAddReply,
    UserDisableReply,
    UserEnableReply,
    UserPasswdReply,
)

__all__ = ["describe_error", "describe_reply"]

_CODES = {
    "bad_request": "the server refused the request",
    "forbidden": "this login is not allowed to do that",
    "not_authenticated": "the console is not logged in",
    "unknown_symbol": "no such symbol",
    "rate_limited": "too many requests, try again in a moment",
}


def describe_reply(reply: Any) -> str:
    """What a successful admin reply means."""
    if isinstance(reply, UserAddReply):
        return f"User {reply.username} added ({reply.role}); they can log in now."
    if isinstance(reply, DepositReply):
        parts = []
        if reply.cash:
            parts.append(dollars(reply.cash))
        if reply.qty and reply.symbol:
            parts.append(f"{reply.qty:,} {reply.symbol}")
        return f"Gave {' and '.join(parts) or 'nothing'} to {reply.username}."
    if isinstance(reply, UserDisableReply):
        return f"User {reply.username} disabled; {_closed(reply.sessions_closed)}."
    if isinstance(reply, UserPasswdReply):
        return f"Password of {reply.username} changed; {_closed(reply.sessions_closed)}."
    if isinstance(reply, UserEnableReply):
        return f"User {reply.username} enabled; they can log in again."
    if isinstance(reply, HaltReply):
        return f"{reply.symbol} is halted: new orders and replaces are refused, cancels work."
    if isinstance(reply, ResumeReply):
        return f"{reply.symbol} is trading again."
    return f"Done ({type(reply).__name__})."


def _closed(n: int) -> str:
    """``1 session closed``, ``2 sessions closed``."""
    return f"{n} session{'' if n == 1 else 's'} closed"


def describe_error(exc: BaseException) -> str:
    """Why an admin request failed."""
    if isinstance(exc, ExchError):
        why = exc.message or _CODES.get(exc.code, exc.code)
        hint = f" (field {exc.field})" if exc.field else ""
        return f"Refused: {why}{hint} [{exc.code}]"
    if isinstance(exc, RequestTimeout):
        return "No answer from the server in time; it may still have been done (check the tape)."
    if isinstance(exc, SessionClosed):
        return f"The connection closed before the answer: {exc}"
    if isinstance(exc, ClientError):
        return f"Not connected: {exc}"
    return f"Failed: {exc}"
