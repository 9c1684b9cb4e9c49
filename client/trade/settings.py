"""How ``exch trade`` was started: where the server is, who trades, what to show first."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from exchange.info import read_server_info
from exchange.paths import home_dir

__all__ = ["DEFAULT_COLLAR", "FALLBACK_URL", "TradeSettings"]

FALLBACK_URL: Final = "wss://127.0.0.1:8443/ws"
"""The URL offered when no local server wrote its info file."""
DEFAULT_COLLAR: Final = 0.10
"""Orders priced more than this fraction from the last trade (or mid) ask for confirmation."""


@dataclass
class TradeSettings:
    """The command line's choices.

    Attributes:
        home: the exch data directory (its ``tls/ca.pem`` is trusted; its ``server.json``
            gives the default URL when the server runs on this machine).
        url: ``--url``; None picks the local server's URL.
        user: ``--user``, the username to offer.
        password: a password to log in with at once (``$EXCH_PASSWORD``), else typed.
        cafile: ``--cafile``, the server's CA certificate when it is not local.
        symbol: ``--symbol``, the symbol shown first (None: the first listed).
        collar: ``--collar`` as a fraction: a limit order priced further than this from the last
            trade (or mid) is sent only after a confirmation (0: never ask).
        notice: what the command line found out before starting (e.g. no server runs on ``home``,
            and where the demo's runs): shown on the login screen.
    """

    home: Path
    url: str | None = None
    user: str | None = None
    password: str | None = None
    cafile: Path | None = None
    symbol: str | None = None
    collar: float = DEFAULT_COLLAR
    notice: str | None = None

    @classmethod
    def make(cls, home: Path | None = None, **fields: object) -> TradeSettings:
        """Settings with ``home`` resolved like every exch command (``--home``, ``$EXCH_HOME``, default)."""
        return cls(home=home_dir(home), **fields)  # type: ignore[arg-type]

    def default_url(self) -> str:
        """``--url``, else the URL of the server running on ``home``, else ``wss://127.0.0.1:8443/ws``."""
        if self.url:
            return self.url
        info = read_server_info(self.home)
        return info.url if info is not None else FALLBACK_URL
