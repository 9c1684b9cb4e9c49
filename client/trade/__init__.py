"""``exch trade``: the trading client (Textual) built on the :mod:`client` library.

- :mod:`client.trade.model` — the state shown, as plain Python (no Textual, no I/O);
- :mod:`client.trade.link` — login, the local book, orders, reconnects (via ``client``);
- :mod:`client.trade.app` — the app; ``screens/`` and ``widgets/`` one per module;
- ``trade.tcss`` — the one stylesheet.
"""

from client.trade.app import TradeApp
from client.trade.model import TradeModel
from client.trade.settings import TradeSettings

__all__ = ["TradeApp", "TradeModel", "TradeSettings"]
