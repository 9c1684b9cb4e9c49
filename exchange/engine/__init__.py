"""The pure matching engine: commands in, events out (see ``core``)."""

from exchange.engine.commands import (
    AddSymbol,
    Cancel,
    CancelAll,
    Command,
    Deposit,
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
)
from exchange.engine.limits import Limits
from exchange.engine.snapshot import SnapshotError, restore, snapshot

__all__ = [
    "Ack",
    "AddSymbol",
    "Applied",
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
    "Halt",
    "Limits",
    "Match",
    "NewOrder",
    "Open",
    "Reject",
    "Replace",
    "Resume",
    "SnapshotError",
    "decode_command",
    "encode_command",
    "restore",
    "snapshot",
]
