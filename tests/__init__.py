"""The test suite: importing it first decides which exch it tests (see ``tests/installed.py``)."""

from tests.installed import prefer_installed

prefer_installed()
