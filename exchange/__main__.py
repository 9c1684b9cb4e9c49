"""``python -m exchange`` is ``exch``."""

from exchange.cli import main

main()
