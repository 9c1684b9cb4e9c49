"""``exch marketdata``: serve the public channels from the market-data bus."""

from __future__ import annotations

from pathlib import Path

import typer

from exchange.cli.common import (
    CertfileOption,
    HomeOption,
    HostOption,
    InsecureOption,
    KeyfileOption,
    MaxConnectionsOption,
    MaxOutputOption,
    MaxPerAddressOption,
    MessagesPerSOption,
    ProxyHeaderOption,
    TlsNameOption,
    TrustedProxyOption,
    check_listener,
    cli_errors,
    listener_limits,
    resolve_home,
    run,
)

__all__ = ["marketdata"]


def marketdata(
    bus: str = typer.Option("redis://127.0.0.1:6379",
                            help="The bus to follow, as exch serve --bus: redis://HOST:PORT/DB?prefix=NAME "
                                 "(DB and prefix optional)."),
    home: Path | None = HomeOption,
    host: str = HostOption,
    port: int = typer.Option(8444, min=0, max=65535, help="TCP port (0: any free port, see HOME/marketdata-PID.json)."),
    certfile: Path | None = CertfileOption,
    keyfile: Path | None = KeyfileOption,
    insecure: bool = InsecureOption,
    tls_name: list[str] = TlsNameOption,
    trusted_proxy: list[str] = TrustedProxyOption,
    proxy_header: str | None = ProxyHeaderOption,
    messages_per_s: float = MessagesPerSOption,
    max_connections: int = MaxConnectionsOption,
    max_per_address: int = MaxPerAddressOption,
    max_output_mib: int = MaxOutputOption,
) -> None:
    """Serve ticker/level2/level3/trades from the bus (any number of these, on any hosts)."""
    with cli_errors():
        header = check_listener(certfile, keyfile, trusted_proxy, proxy_header)
        from exchange.marketdata.bus import open_follower
        from exchange.marketdata.server import MarketDataConfig, run_marketdata

        follower = open_follower(bus)  # checks the URL before anything starts
        config = MarketDataConfig(
            bus=bus, home=resolve_home(home), host=host, port=port, certfile=certfile,
            keyfile=keyfile, insecure=insecure, tls_names=tls_name, trusted_proxies=trusted_proxy, proxy_header=header,
            limits=listener_limits(messages_per_s=messages_per_s, orders_per_s=0, max_connections=max_connections,
                                   max_per_address=max_per_address, max_output_mib=max_output_mib),
        )
        raise typer.Exit(run(run_marketdata(config, follower=follower)))
