"""Optional mypyc build of the engine's hot modules.

``EXCH_MYPYC=1 pip install --no-build-isolation .`` (with mypy installed)
compiles ``events``, ``book``, ``accounts`` and ``core`` from the same typed source; any
other install is pure Python. Both paths pass the same tests.
"""

import os

from setuptools import setup

ext_modules = []
if os.environ.get("EXCH_MYPYC") == "1":
    from mypyc.build import mypycify

    ext_modules = mypycify(
        [
            "exchange/engine/events.py",
            "exchange/engine/book.py",
            "exchange/engine/accounts.py",
            "exchange/engine/core.py",
        ],
        opt_level="3",
    )

setup(ext_modules=ext_modules)
