"""deploy/kubernetes: the compose topology for a cluster, checked against Kubernetes' schemas.

The manifests are validated offline with kubernetes-validate, which ships the JSON schemas of
every Kubernetes release it knows (strict: unknown fields are errors), and are compared with
what deploy/kubernetes/generate.py writes from docker-compose.yml, so they never drift from it.
"""

from __future__ import annotations

import importlib.util
import socket
from pathlib import Path
from types import ModuleType
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from agencies.catalogue import default_agencies

REPO = Path(__file__).resolve().parents[2]
KUBE_DIR = REPO / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.30.0"
"""The oldest release the manifests must suit (every API they use is stable there)."""


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kubernetes_generate", KUBE_DIR / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def manifest_files() -> list[Path]:
    return sorted(path for path in KUBE_DIR.glob("*.yaml") if path.name != "kustomization.yaml")


def documents() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in manifest_files():
        found.extend(doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc)
    return found


def by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in documents() if doc["kind"] == kind}


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to reach the network fails the test: the schemas must come with the package."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("schema validation tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_committed_manifests_are_what_the_generator_writes() -> None:
    expected: dict[str, str] = load_generator().expected_files()
    committed = {path.name: path.read_text(encoding="utf-8") for path in KUBE_DIR.glob("*.yaml")}
    assert set(committed) == set(expected)
    for name, text in expected.items():
        assert committed[name] == text, (
            f"deploy/kubernetes/{name} is stale: run python deploy/kubernetes/generate.py"
        )
    kustomization = yaml.safe_load((KUBE_DIR / "kustomization.yaml").read_text(encoding="utf-8"))
    assert kustomization["resources"] == [path.name for path in manifest_files()]


@pytest.mark.usefixtures("offline")
@pytest.mark.parametrize("version", [KUBERNETES_VERSION, kubernetes_validate.latest_version()])
def test_every_manifest_is_valid_against_the_kubernetes_schemas(version: str) -> None:
    validated = 0
    for document in documents():
        kubernetes_validate.validate(document, version, strict=True)
        validated += 1
    assert validated >= 3 * len(default_agencies())


@pytest.mark.usefixtures("offline")
def test_the_validator_rejects_a_broken_manifest() -> None:
    deployment = by_kind("Deployment")["hub"]
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["paht"] = "/"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)
    del broken["spec"]["selector"]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=False)


def test_the_topology_is_that_of_the_compose_file() -> None:
    deployments = by_kind("Deployment")
    services = by_kind("Service")
    agencies = [agency.slug for agency in default_agencies()]
    assert set(deployments) == {"hub", "hub-2", "load-balancer", "resident-registry", *agencies}
    assert set(services) == {"postgres", *deployments}
    assert set(by_kind("StatefulSet")) == {"postgres"}
    assert set(by_kind("Job")) == {"seed"}
    for name, deployment in deployments.items():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert container[probe]["httpGet"]["path"] == "/health", f"{name}: {probe}"
        if name == "load-balancer":
            assert container["command"][0] == "nginx"
            continue
        hub = name in {"hub", "hub-2"}
        assert container["args"][:2] == ["serve", "hub" if hub else container["args"][1]]
        env = {entry["name"]: entry for entry in container["env"]}
        for key, entry in env.items():
            if key.endswith(("_SECRET", "_TOKEN", "_CREDENTIAL", "_PASSWORD")):
                assert "value" not in entry, f"{name}: {key} must come from the Secret"
        if name in agencies:
            code = next(a.code for a in default_agencies() if a.slug == name)
            assert env["IPNSIM_AGENCY_CODE"]["value"] == code
            assert env["IPNSIM_AGENCY_HUB_URL"]["value"] == "http://load-balancer:8000"
            assert env["IPNSIM_AGENCY_DATABASE_URL"]["value"].startswith(
                "postgresql+asyncpg://ipnsim:$(POSTGRES_PASSWORD)@postgres:5432/"
            )
        service = services[name]
        assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
        assert service["spec"]["ports"][0]["port"] == 8000
    # The two hubs share one claim (their signing key), and nginx reads the compose file's config.
    claims = [
        volume["persistentVolumeClaim"]["claimName"]
        for name in ("hub", "hub-2")
        for volume in deployments[name]["spec"]["template"]["spec"]["volumes"]
        if "persistentVolumeClaim" in volume
    ]
    assert claims == ["hub-data", "hub-data"]
    assert "hub-data" in by_kind("PersistentVolumeClaim")
    config = by_kind("ConfigMap")["ipnsim-nginx"]["data"]["nginx.conf"]
    assert config == (REPO / "deploy" / "compose" / "nginx.conf").read_text(encoding="utf-8")
    secret = by_kind("Secret")["ipnsim-secrets"]
    assert all(value.endswith("-change-me") for value in secret["stringData"].values())


def test_guide_explains_the_manifests() -> None:
    guide = (REPO / "docs" / "kubernetes.md").read_text(encoding="utf-8")
    for needed in ("kubectl apply -k deploy/kubernetes", "generate.py", "ipnsim-secrets"):
        assert needed in guide
