"""The web client's pure ES modules (local book with gap recovery, money parsing) under Node's test runner."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.web.conftest import need

HERE = Path(__file__).resolve().parent
WEB = HERE.parents[1] / "exchange" / "web"


def test_book_and_money_modules(tmp_path: Path) -> None:
    need([] if shutil.which("node") else ["node (apt-get install -y nodejs)"])
    for name in ("book", "money"):  # .mjs copies: Node reads plain .js as CommonJS
        shutil.copy(WEB / f"{name}.js", tmp_path / f"{name}.mjs")
    result = subprocess.run(
        ["node", "--test", str(HERE / "modules.test.mjs")], capture_output=True, text=True, timeout=120,
        env={**os.environ, "EXCH_WEB_MODULES": str(tmp_path)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# fail 0" in result.stdout and "# pass 7" in result.stdout
