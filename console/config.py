"""Where the console connects and as whom: flags, environment, then ``$EXCH_HOME``.

On the machine running the server everything is in its home: the URL in
``server.json``, the CA in ``tls/ca.pem``, the admin password in
``admin-password``. Elsewhere the operator passes ``--url`` (and ``--cafile``
for the server's own CA) and the password comes from ``EXCH_ADMIN_PASSWORD``
or the login screen.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from exchange.info import ADMIN_PASSWORD_FILE, read_admin_password, read_server_info

__all__ = ["ConsoleConfig", "resolve"]

PASSWORD_ENV = "EXCH_ADMIN_PASSWORD"


@dataclass(frozen=True)
class ConsoleConfig:
    """Connection settings of the console.

    Attributes:
        url: ``wss://HOST:PORT/ws`` (None: ask).
        user: the admin user name.
        password: its password (None: ask).
        cafile: a CA certificate to trust (None: the home's ``tls/ca.pem`` and the system roots).
        home: the exch home looked in.
        source: where the URL and password came from, for the login screen's hint.
        url_from_home: the URL was read from the home's ``server.json`` (it is read
            again before reconnecting: a restarted server may have a new port).
        password_from_home: the password was read from the home's ``admin-password``
            (read again before reconnecting: ``exch user passwd admin`` rewrites it).
    """

    url: str | None
    user: str = "admin"
    password: str | None = None
    cafile: Path | None = None
    home: Path | None = None
    source: str = ""
    url_from_home: bool = False
    password_from_home: bool = False

    @property
    def complete(self) -> bool:
        """Whether the console can connect without asking."""
        return bool(self.url) and self.password is not None

    def with_login(self, url: str, user: str, password: str, cafile: Path | None) -> ConsoleConfig:
        """The same settings with what the login screen asked for."""
        return replace(self, url=url, user=user, password=password, cafile=cafile, source="login screen",
                       url_from_home=False, password_from_home=False)


def resolve(
    home: Path,
    *,
    url: str | None = None,
    user: str = "admin",
    cafile: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> ConsoleConfig:
    """Fill in what the flags left out from the environment and the home.

    The home's admin password is used only for the home's own server (no
    ``--url``, or the same URL), never sent to another one.

    Raises:
        ValueError: ``cafile`` does not exist.
    """
    env = os.environ if env is None else env
    if cafile is not None and not cafile.is_file():
        raise ValueError(f"no CA file at {cafile}")
    info = read_server_info(home)
    local = info is not None and (url is None or url == info.url)
    sources = []
    from_home = url is None and info is not None
    if url is None and info is not None:
        url = info.url
        sources.append(f"URL from {home / 'server.json'}")
    password = env.get(PASSWORD_ENV) or None
    password_from_home = False
    if password is not None:
        sources.append(f"password from ${PASSWORD_ENV}")
    elif local and user == "admin":
        password = read_admin_password(home)
        password_from_home = password is not None
        if password_from_home:
            sources.append(f"password from {home / ADMIN_PASSWORD_FILE}")
    return ConsoleConfig(url=url, user=user, password=password, cafile=cafile, home=home, source="; ".join(sources),
                         url_from_home=from_home, password_from_home=password_from_home)
