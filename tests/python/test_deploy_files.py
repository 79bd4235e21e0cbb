"""Deploy files against the one source of truth: the variables the gateway binary really reads.

`gateway variables --json` prints Gateway.configurationVariables (name, requirement, default,
description, secret). Every deploy file (Dockerfile, railway.toml, .railway/railway.ts,
.railway/template.json, render.yaml, fly.toml, docker-compose.yml, .env.example) is checked
against it and against each other: variable names, health path, port, start command.

These tests need only GATEWAY_BINARY (scripts/python-tests.sh has it), never the live gateway.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
HEALTH_PATH = "/readyz"
START_COMMAND = "gateway serve"
DEFAULT_PORT = "8080"


# MARK: the source of truth


def gateway_binary() -> str:
    binary = os.environ.get("GATEWAY_BINARY", "").strip()
    if not binary or not os.access(binary, os.X_OK):
        pytest.fail("GATEWAY_BINARY must point at the built gateway executable", pytrace=False)
    return binary


@pytest.fixture(scope="module")
def variables() -> dict[str, dict]:
    output = subprocess.run(
        [gateway_binary(), "variables", "--json"], check=True, capture_output=True, text=True, timeout=30
    ).stdout
    entries = json.loads(output)
    names = [entry["name"] for entry in entries]
    assert len(names) == len(set(names)), "gateway variables lists a name twice"
    return {entry["name"]: entry for entry in entries}


@pytest.fixture(scope="module")
def required_for_serve(variables: dict[str, dict]) -> set[str]:
    return {name for name, entry in variables.items() if entry["required"] == "serve"}


def read(relative: str) -> str:
    return (REPO / relative).read_text(encoding="utf-8")


def test_variables_json_is_complete(variables: dict[str, dict]) -> None:
    for name, entry in variables.items():
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*", name), name
        assert entry["description"].strip(), f"{name} has no description"
        assert entry["required"] in {"serve", "auth_mode", "optional"}, name
        assert (entry["auth_mode"] is not None) == (entry["required"] == "auth_mode"), name
        assert isinstance(entry["secret"], bool), name
    assert variables["PORT"]["default"] == DEFAULT_PORT
    assert variables["BIND_ADDRESS"]["default"] == "::"
    assert {"PUBLIC_BASE_URL", "JWT_SIGNING_KEY", "REDIS_URL", "DATABASE_URL", "AUTH_MODE"} <= {
        name for name, entry in variables.items() if entry["required"] == "serve"
    }
    assert variables["JWT_SIGNING_KEY"]["secret"] and variables["DATABASE_URL"]["secret"]


def test_variables_table_output_names_every_variable(variables: dict[str, dict]) -> None:
    table = subprocess.run([gateway_binary(), "variables"], check=True, capture_output=True, text=True, timeout=30).stdout
    for name in variables:
        assert re.search(rf"^{name}\s", table, re.M), f"`gateway variables` does not list {name}"


# MARK: .env.example

ENV_LINE = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")


def env_example_entries() -> list[tuple[str, str, bool, str]]:
    """(section, name, active, value) for every `NAME=value` or `# NAME=value` line."""
    entries, section = [], ""
    for line in read(".env.example").splitlines():
        if line.startswith("### "):
            section = line[4:].strip("# ").strip()
            continue
        match = ENV_LINE.match(line)
        if match:
            entries.append((section, match.group(2), match.group(1) is None, match.group(3)))
    return entries


def test_env_example_lists_every_variable_once_and_nothing_unknown(variables: dict[str, dict]) -> None:
    names = [name for _, name, _, _ in env_example_entries()]
    unknown = sorted(set(names) - set(variables))
    missing = sorted(set(variables) - set(names))
    repeated = sorted({name for name in names if names.count(name) > 1})
    assert not unknown, f".env.example names variables the gateway does not read: {unknown}"
    assert not missing, f".env.example does not list: {missing}"
    assert not repeated, f".env.example lists these more than once: {repeated}"


def test_env_example_commented_defaults_match_the_binary(variables: dict[str, dict]) -> None:
    for _, name, active, value in env_example_entries():
        default = variables[name]["default"]
        if not active and default is not None:
            assert value == default, f".env.example shows {name}={value!r}; the gateway's default is {default!r}"


def quick_start() -> dict[str, str]:
    return {name: value for section, name, active, value in env_example_entries() if active and section.startswith("quick start")}


def test_env_example_quick_start_block_is_the_serve_contract(required_for_serve: set[str]) -> None:
    block = quick_start()
    assert set(block) == required_for_serve, f"quick-start block {sorted(block)} != required {sorted(required_for_serve)}"
    assert block["AUTH_MODE"] == "demo"
    active_elsewhere = [name for section, name, active, _ in env_example_entries() if active and not section.startswith("quick start")]
    assert not active_elsewhere, f"only the quick-start block may set variables: {active_elsewhere}"


def check_config(environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [gateway_binary(), "serve", "--check-config", "--env-file", "/nonexistent/.env"],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **environment},
        capture_output=True, text=True, timeout=30,
    )


def test_gateway_refuses_the_example_signing_key_and_accepts_the_rest() -> None:
    block = quick_start()
    refused = check_config(block)
    assert refused.returncode == 78, refused.stderr
    assert "JWT_SIGNING_KEY" in refused.stderr
    assert block["JWT_SIGNING_KEY"] not in refused.stderr + refused.stdout, "the refusal printed the secret"
    accepted = check_config({**block, "JWT_SIGNING_KEY": secrets.token_urlsafe(48)})
    assert accepted.returncode == 0, accepted.stderr
    assert "auth mode: demo" in accepted.stdout


# MARK: Dockerfile and the scripts it runs


def test_dockerfile_builds_with_the_shared_script_and_runs_gateway_serve() -> None:
    dockerfile = read("Dockerfile")
    assert re.search(r"^ARG SWIFT_IMAGE=swift:6\.3-bookworm$", dockerfile, re.M)
    assert re.search(r"^ARG RUNTIME_IMAGE=debian:bookworm-slim$", dockerfile, re.M)
    assert "RUN bash scripts/build-release.sh --install /staging" in dockerfile
    assert "--mount=type=cache" not in dockerfile, "Railway rejects cache mounts without its own id format"
    assert re.search(rf"^EXPOSE {DEFAULT_PORT}$", dockerfile, re.M)
    assert re.search(r'^CMD \["gateway", "serve"\]$', dockerfile, re.M)
    assert re.search(r'^HEALTHCHECK .*CMD \["/usr/local/bin/gateway-healthcheck"\]$', dockerfile, re.M)
    assert re.search(r"^USER 10001:10001$", dockerfile, re.M)
    build = read("scripts/build-release.sh")
    assert "--static-swift-stdlib" in build and "-c release" in build
    assert "usr/share/gateway/openapi.yaml" in build, "the server looks for /usr/share/gateway/openapi.yaml in images"
    assert f"GET {HEALTH_PATH} " in read("scripts/healthcheck.sh")
    assert re.search(r"docker-compose|\.github|\.build", read(".dockerignore"))


# MARK: Railway


def railway_toml() -> dict:
    return tomllib.loads(read("railway.toml"))


def test_railway_toml() -> None:
    config = railway_toml()
    assert config["build"]["builder"] == "DOCKERFILE"
    assert (REPO / config["build"]["dockerfilePath"]).is_file()
    deploy = config["deploy"]
    assert deploy["startCommand"] == START_COMMAND
    assert deploy["healthcheckPath"] == HEALTH_PATH
    assert 0 < deploy["healthcheckTimeout"] <= 300
    assert deploy["restartPolicyType"] == "ON_FAILURE"
    assert deploy["restartPolicyMaxRetries"] > 0
    assert deploy["overlapSeconds"] > 0
    # The gateway drains within 8 s of SIGTERM (GatewayApplication's maximumGracefulShutdownDuration).
    assert deploy["drainingSeconds"] > 8


def railway_ts_env() -> dict[str, str]:
    text = read(".railway/railway.ts")
    block = text[text.index("env: {") : text.index("\n    },\n  });")]
    entries: dict[str, str] = {}
    for match in re.finditer(r"^      ([A-Z][A-Z0-9_]*): (.+?)(?=^      [A-Z]|\Z)", block, re.M | re.S):
        entries[match.group(1)] = match.group(2)
    return entries


def test_railway_ts_describes_the_project(variables: dict[str, dict], required_for_serve: set[str]) -> None:
    text = read(".railway/railway.ts")
    assert 'from "railway/iac"' in text and "export default defineRailway(" in text
    assert 'redis("Redis")' in text and 'postgres("Postgres")' in text
    assert f'start: "{START_COMMAND}"' in text
    assert f'healthcheck: "{HEALTH_PATH}"' in text
    assert 'builder: "DOCKERFILE"' in text
    deploy = railway_toml()["deploy"]
    for key in ("healthcheckTimeout", "restartPolicyMaxRetries", "overlapSeconds", "drainingSeconds"):
        assert re.search(rf"\b{key}: {deploy[key]},", text), f"railway.ts {key} differs from railway.toml"
    assert f'restartPolicyType: "{deploy["restartPolicyType"]}"' in text
    env = railway_ts_env()
    assert set(env) <= set(variables), f"railway.ts sets unknown variables: {sorted(set(env) - set(variables))}"
    assert required_for_serve <= set(env), f"railway.ts misses {sorted(required_for_serve - set(env))}"
    assert env["REDIS_URL"].startswith("cache.env.REDIS_URL") and "const cache = redis(" in text
    assert env["DATABASE_URL"].startswith("db.env.DATABASE_URL") and "const db = postgres(" in text
    assert "generator: 'secret(" in env["JWT_SIGNING_KEY"]
    assert '"https://${{RAILWAY_PUBLIC_DOMAIN}}"' in env["PUBLIC_BASE_URL"]
    assert '"demo"' in env["AUTH_MODE"]


def template() -> dict:
    return json.loads(read(".railway/template.json"))


def test_railway_template_metadata(variables: dict[str, dict]) -> None:
    doc = template()
    services = {service["name"]: service for service in doc["services"]}
    assert {"gateway", "Redis", "Postgres"} == set(services)
    assert services["Redis"]["exposes"] == ["REDIS_URL"] and services["Postgres"]["exposes"] == ["DATABASE_URL"]
    gateway = services["gateway"]
    deploy = railway_toml()["deploy"]
    assert gateway["start_command"] == deploy["startCommand"]
    assert gateway["healthcheck_path"] == deploy["healthcheckPath"]
    assert gateway["healthcheck_timeout"] == deploy["healthcheckTimeout"]
    assert gateway["overlap_seconds"] == deploy["overlapSeconds"]
    assert gateway["draining_seconds"] == deploy["drainingSeconds"]
    assert gateway["restart_policy"] == {"type": deploy["restartPolicyType"], "max_retries": deploy["restartPolicyMaxRetries"]}
    declared = gateway["variables"]
    assert set(declared) == set(variables), (
        f"template.json variables differ from the gateway's: missing {sorted(set(variables) - set(declared))}, "
        f"unknown {sorted(set(declared) - set(variables))}"
    )
    for name, entry in declared.items():
        truth = variables[name]
        assert entry["description"].strip(), name
        assert entry["default"] == truth["default"], f"{name}: default {entry['default']!r} != {truth['default']!r}"
        assert entry["required"] == (truth["required"] == "serve"), f"{name}: required flag differs from the gateway"
        assert entry.get("required_with_auth_mode") == truth["auth_mode"], name
        assert entry["generated"] == (entry["value"] is not None and "${{secret(" in entry["value"]), name
        if entry["required"]:
            assert entry["value"], f"{name} is required but the template leaves it unset"
    assert declared["REDIS_URL"]["value"] == "${{Redis.REDIS_URL}}"
    assert declared["DATABASE_URL"]["value"] == "${{Postgres.DATABASE_URL}}"
    assert declared["PUBLIC_BASE_URL"]["value"] == "https://${{RAILWAY_PUBLIC_DOMAIN}}"
    assert declared["AUTH_MODE"]["value"] == "demo"
    assert declared["JWT_SIGNING_KEY"]["generated"]
    # The same values railway.ts sets (its references compile to these).
    env = railway_ts_env()
    for name, entry in declared.items():
        assert (entry["value"] is not None) == (name in env), f"{name}: set in template.json xor railway.ts"
    assert doc["template_url"] in read("README.md"), "the README's Deploy on Railway button must use template_url"


# MARK: other hosts


def test_render_blueprint(variables: dict[str, dict], required_for_serve: set[str]) -> None:
    blueprint = yaml.safe_load(read("render.yaml"))
    services = {service["name"]: service for service in blueprint["services"]}
    databases = {database["name"] for database in blueprint.get("databases", [])}
    web = services["gateway"]
    assert web["type"] == "web" and web["runtime"] == "docker"
    assert (REPO / web["dockerfilePath"]).is_file()
    assert web["dockerCommand"] == START_COMMAND
    assert web["healthCheckPath"] == HEALTH_PATH
    keys = [entry["key"] for entry in web["envVars"]]
    assert set(keys) <= set(variables), f"render.yaml sets unknown variables: {sorted(set(keys) - set(variables))}"
    assert required_for_serve <= set(keys), f"render.yaml misses {sorted(required_for_serve - set(keys))}"
    for entry in web["envVars"]:
        if "fromService" in entry:
            assert entry["fromService"]["name"] in services, entry
        if "fromDatabase" in entry:
            assert entry["fromDatabase"]["name"] in databases, entry
    by_key = {entry["key"]: entry for entry in web["envVars"]}
    assert services[by_key["REDIS_URL"]["fromService"]["name"]]["type"] == "keyvalue"
    assert by_key["JWT_SIGNING_KEY"].get("generateValue") is True
    assert by_key["AUTH_MODE"]["value"] == "demo"


def test_fly_toml(variables: dict[str, dict], required_for_serve: set[str]) -> None:
    text = read("fly.toml")
    config = tomllib.loads(text)
    assert config["processes"]["app"] == START_COMMAND
    assert (REPO / config["build"]["dockerfile"]).is_file()
    assert str(config["http_service"]["internal_port"]) == config["env"]["PORT"] == DEFAULT_PORT
    assert [check["path"] for check in config["http_service"]["checks"]] == [HEALTH_PATH]
    env = set(config["env"])
    assert env <= set(variables), f"fly.toml sets unknown variables: {sorted(env - set(variables))}"
    secret_line = next(line for line in text.splitlines() if "Secrets (fly secrets set)" in line)
    secret_names = set(re.findall(r"[A-Z][A-Z0-9_]+", secret_line.split(":", 1)[1]))
    assert secret_names <= set(variables)
    assert required_for_serve <= env | secret_names, f"fly.toml misses {sorted(required_for_serve - env - secret_names)}"
    assert config["kill_signal"] == "SIGTERM" and config["kill_timeout"] > 8


def test_docker_compose(variables: dict[str, dict], required_for_serve: set[str]) -> None:
    compose = yaml.safe_load(read("docker-compose.yml"))
    services = compose["services"]
    gateway = services["gateway"]
    assert " ".join(gateway["command"]) == START_COMMAND
    environment = set(gateway["environment"])
    assert environment <= set(variables), f"docker-compose.yml sets unknown variables: {sorted(environment - set(variables))}"
    assert required_for_serve <= environment
    assert gateway["environment"]["PORT"] == DEFAULT_PORT
    assert f"{DEFAULT_PORT}:{DEFAULT_PORT}" in gateway["ports"]
    assert gateway["healthcheck"]["test"] == ["CMD", "/usr/local/bin/gateway-healthcheck"]
    assert gateway["environment"]["REDIS_URL"].startswith("redis://redis:")
    assert gateway["environment"]["DATABASE_URL"].startswith("postgres://") and "@postgres:" in gateway["environment"]["DATABASE_URL"]
    for dependency in ("redis", "postgres"):
        assert gateway["depends_on"][dependency]["condition"] == "service_healthy"
        assert services[dependency]["healthcheck"]["test"]
