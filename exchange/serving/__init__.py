"""Serving WebSocket clients, shared by the gateway and the market-data server.

``endpoint`` (connections, public requests from a market-data hub), ``session``
(one client connection: its state, send queue, rate limits), ``limits``,
``forwarded`` (client addresses behind trusted proxies), ``http`` (``/health``,
the web client), ``counters`` and ``frames`` (the ``error`` frame). Nothing here
knows the engine, the journal or the store.
"""
