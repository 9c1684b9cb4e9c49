"""The durable journal: group-commit writer, checkpoints and recovery."""

from exchange.journal.config import JournalConfig
from exchange.journal.durable import DurableGate
from exchange.journal.recovery import (
    JournalArchived,
    JournalCorrupt,
    Recovery,
    RecoveryError,
    ReplayMismatch,
    recover,
    replay,
)
from exchange.journal.writer import JournalError, JournalWriter

__all__ = [
    "DurableGate",
    "JournalArchived",
    "JournalConfig",
    "JournalCorrupt",
    "JournalError",
    "JournalWriter",
    "Recovery",
    "RecoveryError",
    "ReplayMismatch",
    "recover",
    "replay",
]
