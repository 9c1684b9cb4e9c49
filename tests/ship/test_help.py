"""Every command's ``--help`` renders (as a user's terminal shows it) and exits 0."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from exchange.cli import app
from tests.ship.cli_reference import commands

NAMES = [name for name, _ in commands()]


@pytest.mark.parametrize("name", NAMES)
def test_help_renders(name: str) -> None:
    args = [*name.split()[1:], "--help"]
    result = CliRunner().invoke(app, args, terminal_width=100)
    assert result.exit_code == 0, f"exch {' '.join(args)} failed:\n{result.output}\n{result.exception!r}"
    assert "Usage:" in result.output
    for param in dict(commands())[name].params:
        if param.param_type_name == "option" and not param.hidden:
            assert param.opts[0] in result.output, f"{param.opts[0]} missing from the help of {name}"


def test_root_help_lists_every_command() -> None:
    result = CliRunner().invoke(app, ["--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    for name in {n.split()[1] for n in NAMES}:
        assert name in result.output
