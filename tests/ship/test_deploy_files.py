"""docker-compose.yml and fly.toml, checked without a Docker engine or a fly.io account."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from typing import Any

import pytest

from tests.ship import miniyaml
from tests.ship.conftest import ROOT
from tests.ship.dockerfile import exec_form, read_dockerfile

COMPOSE = ROOT / "docker-compose.yml"
SCALE = {"postgres", "redis", "marketdata-1", "marketdata-2"}


def _compose() -> dict[str, Any]:
    source = COMPOSE.read_text()
    data = miniyaml.loads(source)
    try:
        import yaml  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        return dict(data)
    assert yaml.safe_load(source) == data, "the small reader and PyYAML disagree"
    return dict(data)


def _words(command: Any) -> str:
    return " ".join(command) if isinstance(command, list) else str(command)


def test_docker_compose_config_validates() -> None:
    """``docker compose config`` (both profiles), when the compose plugin is installed here."""
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no docker client here: docker compose config was not run")
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        pytest.skip("the docker client has no compose plugin here: docker compose config was not run "
                    f"({(probe.stderr or probe.stdout).strip().splitlines()[0]})")
    for profile in ([], ["--profile", "scale"]):
        result = subprocess.run([docker, "compose", "-f", str(COMPOSE), *profile, "config", "--quiet"],
                                capture_output=True, text=True, timeout=60, cwd=ROOT)
        assert result.returncode == 0, result.stderr


def test_compose_alone_by_default_and_a_scale_profile() -> None:
    data = _compose()
    services: dict[str, Any] = data["services"]
    assert set(services) == {"exchange"} | SCALE
    default = {name for name, s in services.items() if not s.get("profiles")}
    assert default == {"exchange"}, "docker compose up starts the exchange alone"
    assert all(services[name]["profiles"] == ["scale"] for name in SCALE)

    exchange = services["exchange"]
    home = exchange["environment"]["EXCH_HOME"]
    assert home == read_dockerfile(ROOT / "Dockerfile")[-1].env()["EXCH_HOME"]
    assert exchange["build"] == "."
    assert "8443:8443" in exchange["ports"]
    assert any(v.endswith(":" + home) for v in exchange["volumes"]), "EXCH_HOME on a named volume"
    command = _words(exchange["command"])
    assert "exec exch serve --host 0.0.0.0" in command
    # under the profile the exchange waits for its services and uses them; alone it needs neither
    assert '--db "$$EXCH_SCALE_DB" --bus "$$EXCH_SCALE_BUS"' in command
    assert exchange["environment"]["EXCH_SCALE_DB"].startswith("postgresql://")
    assert exchange["environment"]["EXCH_SCALE_BUS"] == "redis://redis:6379"
    for dependency in ("postgres", "redis"):
        assert exchange["depends_on"][dependency] == {"condition": "service_healthy", "required": False}
        assert services[dependency]["healthcheck"]["test"][0] == "CMD"
    db = exchange["environment"]["EXCH_SCALE_DB"]
    pg = services["postgres"]["environment"]
    assert db == f"postgresql://{pg['POSTGRES_USER']}:{pg['POSTGRES_PASSWORD']}@postgres:5432/{pg['POSTGRES_DB']}"

    ports = set()
    for name in ("marketdata-1", "marketdata-2"):
        md = services[name]
        argv = md["command"]
        assert argv[:2] == ["exch", "marketdata"] and "--bus=redis://redis:6379" in argv
        assert "--host=0.0.0.0" in argv
        port = next(a.split("=", 1)[1] for a in argv if a.startswith("--port="))
        ports.add(port)
        assert f"{port}:{port}" in md["ports"]
        assert md["image"] == exchange["image"]
        assert md["depends_on"]["exchange"] == {"condition": "service_healthy"}
        assert md["healthcheck"]["test"][1:3] == ["exch", "health"]
        assert f"https://127.0.0.1:{port}" in md["healthcheck"]["test"]
        # one CA for every client: the exchange's certificate, read-only from its volume
        mount = next(v for v in md["volumes"] if v.startswith(exchange["volumes"][0].split(":")[0] + ":"))
        assert mount.endswith(":ro")
    assert len(ports) == 2
    assert set(data["volumes"]) >= {"exch-data", "pg-data"}


def test_fly_toml_volume_port_and_health() -> None:
    fly = tomllib.loads((ROOT / "fly.toml").read_text())
    image = read_dockerfile(ROOT / "Dockerfile")[-1]
    home = image.env()["EXCH_HOME"]
    assert fly["env"]["EXCH_HOME"] == home
    assert fly["mounts"]["destination"] == home, "EXCH_HOME on the fly volume"
    assert fly["build"]["dockerfile"] == "Dockerfile"
    assert exec_form(image.last("CMD") or "")[:2] == ["exch", "serve"]
    (service,) = fly["services"]
    assert service["internal_port"] == 8443 and service["protocol"] == "tcp"
    # TLS terminated by exch: Fly passes the TCP stream through untouched
    assert all(not port.get("handlers") for port in service["ports"])
    assert {p["port"] for p in service["ports"]} == {443}
    (check,) = service["http_checks"]
    assert check["path"] == "/healthz" and check["protocol"] == "https"
    assert service["min_machines_running"] == 1 and service["auto_stop_machines"] == "off"
    assert fly["kill_signal"] == "SIGTERM" and fly["kill_timeout"] >= 30


def test_miniyaml_refuses_what_it_cannot_read() -> None:
    with pytest.raises(ValueError):
        miniyaml.loads("a: {b: 1}\n")
    with pytest.raises(ValueError):
        miniyaml.loads("a: 1\na: 2\n")
    assert miniyaml.loads("a:\n  - x\n  - 'y # z'  # c\n  - [1, \"2\"]\nb: >-\n  one\n  two\n") == {
        "a": ["x", "y # z", [1, "2"]], "b": "one two"}


def test_operations_doc_lists_every_command_and_flag() -> None:
    """docs/operations.md names every command and flag (regenerate: python -m tests.ship.cli_reference --write)."""
    from tests.ship.cli_reference import DOC, commands, options

    text = DOC.read_text()
    missing = []
    for name, command in commands():
        if f"#### `{name}`" not in text:
            missing.append(name)
            continue
        section = text.split(f"#### `{name}`", 1)[1].split("#### ", 1)[0]
        for param in options(command):
            for flag in getattr(param, "opts", []):
                if param.param_type_name == "option" and f"`{flag}" not in section:
                    missing.append(f"{name} {flag}")
    assert not missing, f"not in {DOC.name}: {missing}; run python -m tests.ship.cli_reference --write"
    for section in ("Where data lives", "Backups and restore", "Replay and verification", "Upgrading",
                    "PostgreSQL and Redis", "Scaling market data", "Security model", "Deploying to fly.io",
                    "Measured limits of one process"):
        assert f"## {section}" in text, section
