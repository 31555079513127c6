"""The container files, read as text: the compose project wires prod, seed, staging and clone
together, and the image runs hsa-db as a non-root user. No Docker engine is needed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
DOCKER = ROOT / "docker"


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text(encoding="utf-8"))
    return compose["services"]


@pytest.fixture(scope="module")
def dockerfile() -> list[str]:
    lines = (DOCKER / "Dockerfile").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def _database(services: dict[str, Any], url: str) -> str:
    """The service a URL points at, after checking that its credentials are that service's."""
    parsed = make_url(url)
    environment = services[parsed.host]["environment"]
    assert parsed.username == environment["POSTGRES_USER"]
    assert parsed.password == environment["POSTGRES_PASSWORD"]
    assert parsed.database == environment["POSTGRES_DB"]
    return str(parsed.host)


def test_services_and_images(services: dict[str, Any]) -> None:
    assert {"prod", "staging", "seed", "clone"} <= set(services)
    assert services["prod"]["image"] == services["staging"]["image"] == "postgres:16"
    for name in ("prod", "staging"):
        assert "pg_isready" in " ".join(services[name]["healthcheck"]["test"])
    for name in ("seed", "clone"):
        assert services[name]["build"]["dockerfile"] == "docker/Dockerfile"
        assert (DOCKER / services[name]["build"]["context"] / "pyproject.toml").exists()


def test_clone_reads_prod_and_writes_staging(services: dict[str, Any]) -> None:
    command = services["clone"]["command"]

    assert command[0] == "clone"
    assert _database(services, _option(command, "--src")) == "prod"
    assert _database(services, _option(command, "--dst")) == "staging"
    assert services["clone"]["depends_on"] == {
        "prod": {"condition": "service_healthy"},
        "seed": {"condition": "service_completed_successfully"},
        "staging": {"condition": "service_healthy"},
    }


def test_seed_runs_the_seeding_script_against_prod(
    services: dict[str, Any], dockerfile: list[str]
) -> None:
    seed = services["seed"]
    script = Path(seed["entrypoint"][-1])

    assert seed["entrypoint"][0] == "python"
    assert (ROOT / "examples" / script.name).exists()
    assert "COPY examples ./examples" in dockerfile
    assert "WORKDIR /opt/hsa-db" in dockerfile
    assert script.parent.parent == Path("/opt/hsa-db")
    assert _database(services, seed["command"][0]) == "prod"
    assert seed["depends_on"] == {"prod": {"condition": "service_healthy"}}


def test_image_installs_hsa_db_and_runs_it_as_a_user(dockerfile: list[str]) -> None:
    users = [line.split()[1] for line in dockerfile if line.startswith("USER ")]

    assert dockerfile[0] == "FROM python:3.12-slim"
    assert any(re.match(r'RUN pip install "\.(\[[\w,]+\])?"', line) for line in dockerfile)
    assert users and users[-1] not in ("root", "0")
    assert dockerfile[-2:] == ['ENTRYPOINT ["hsa-db"]', 'CMD ["--help"]']
