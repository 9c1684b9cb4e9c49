"""The pure matching engine: commands in, events out (see ``core``).

Where mypyc compiled the hot modules, those are imported; ``EXCH_PURE=1`` makes
them load from their ``.py`` source instead (``buildinfo``, imported first).
"""

from exchange.engine.buildinfo import Build, engine_build
from exchange.engine.commands import (
    AddSymbol,
    Cancel,
    CancelAll,
    Command,
    Deposit,
    Expire,
    Halt,
    NewOrder,
    Replace,
    Resume,
    decode_command,
    encode_command,
)
from exchange.engine.core import Engine
from exchange.engine.events import (
    Ack,
    Applied,
    Canceled,
    CanceledAll,
    Change,
    Done,
    Event,
    Match,
    Open,
    Reject,
    Triggered,
)
from exchange.engine.limits import Limits
from exchange.engine.snapshot import SnapshotError, restore, snapshot

__all__ = [
    "Ack",
    "AddSymbol",
    "Applied",
    "Build",
    "Cancel",
    "CancelAll",
    "Canceled",
    "CanceledAll",
    "Change",
    "Command",
    "Deposit",
    "Done",
    "Engine",
    "Event",
    "Expire",
    "Halt",
    "Limits",
    "Match",
    "NewOrder",
    "Open",
    "Reject",
    "Replace",
    "Resume",
    "SnapshotError",
    "Triggered",
    "decode_command",
    "encode_command",
    "engine_build",
    "restore",
    "snapshot",
]
