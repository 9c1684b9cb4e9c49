"""``pip install .`` alone serves the page: every web file ships in the distribution."""

from __future__ import annotations

from exchange.web import FILES
from tests.test_packaging import _installed


def test_every_web_file_and_the_vendored_licence_are_installed() -> None:
    installed = {str(f) for f in _installed().files or ()}
    wanted = {f"exchange/web/{f.resource}" for f in FILES} | {
        f"exchange/web/vendor/LICENSE-{name}" for name in ("lightweight-charts", "fancy-canvas")}
    missing = sorted(wanted - installed)
    assert not missing, f"not shipped by `pip install .`: {missing}"
