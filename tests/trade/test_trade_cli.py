"""``exch trade`` refuses bad flags in one line with a non-zero exit (before any terminal UI)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from exchange.cli import app


def test_bad_flags_are_one_line_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["trade", "--home", str(tmp_path), "--cafile", str(tmp_path / "missing.pem")])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [f"exch: error: --cafile {tmp_path / 'missing.pem'}: no such file"]
    result = runner.invoke(app, ["trade", "--home", str(tmp_path), "--url", "https://example.com"])
    assert result.exit_code == 1
    assert "not a wss:// URL" in result.output
