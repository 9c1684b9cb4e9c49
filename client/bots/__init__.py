"""Trading robots on the client library: a market that moves by itself.

- :class:`MarketMaker` — a bid and an ask per symbol around a drifting fair
  value (:class:`FairValues`), skewed by and bounded by its inventory limit;
- :class:`NoiseTrader` — random limit (passive and crossing) and market orders;
- :class:`MomentumTrader` — immediate-or-cancel orders in the direction of the
  recent trades.

Each bot is its own exchange user on its own
:class:`~client.live.LiveConnection`; a :class:`BotFarm` runs them together at
one aggregate rate (:class:`Pacer`), seeded, and stops them cleanly, cancelling
their orders. ``exch bots`` (``exchange/cli/bots.py``) is the command line::

    farm = BotFarm(FarmConfig(url, ["ACME"], count=5, seed=1, rate=50), passwords)
    await farm.start()
    await farm.run(stop_event)      # until stop_event is set
    await farm.stop()               # cancel_all + close, every bot
"""

from client.bots.base import Bot, BotStats, LiveOrder
from client.bots.fair import FairValues, anchor_price
from client.bots.farm import FUNDING, BotFarm, FarmConfig, Funding, PasswordBook, provision, roster, top_up
from client.bots.maker import MarketMaker
from client.bots.momentum import MomentumTrader
from client.bots.noise import NoiseTrader
from client.bots.pacer import Pacer

__all__ = [
    "FUNDING",
    "Bot",
    "BotFarm",
    "BotStats",
    "FairValues",
    "FarmConfig",
    "Funding",
    "LiveOrder",
    "MarketMaker",
    "MomentumTrader",
    "NoiseTrader",
    "Pacer",
    "PasswordBook",
    "anchor_price",
    "provision",
    "roster",
    "top_up",
]
