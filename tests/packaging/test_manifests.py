"""The deployment kit: Kubernetes manifests validate (offline, against the schemas
kubernetes-validate ships), compose and the Dockerfile run what the packaging test runs."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.packaging.support import ROOT

DEPLOY = ROOT / "deploy"
MANIFESTS = sorted((DEPLOY / "kubernetes").glob("*.yaml"))
SUBCOMMANDS = {"web", "worker", "beat", "migrate"}


def _documents() -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = []
    for path in MANIFESTS:
        documents.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return documents


def _by_kind(kind: str) -> list[dict[str, Any]]:
    return [d for d in _documents() if d["kind"] == kind]


def _deployment(component: str) -> dict[str, Any]:
    (found,) = [
        d
        for d in _by_kind("Deployment")
        if d["metadata"]["labels"]["app.kubernetes.io/component"] == component
    ]
    return found


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_every_manifest_validates_strictly(path: Path) -> None:
    for document in yaml.safe_load_all(path.read_text()):
        kubernetes_validate.validate(document, kubernetes_validate.latest_version(), strict=True)


def test_the_kit_has_every_piece() -> None:
    kinds = sorted(d["kind"] for d in _documents())
    assert kinds == sorted(
        [
            "ConfigMap",
            "Deployment",
            "Deployment",
            "Deployment",
            "Job",
            "PodDisruptionBudget",
            "Service",
        ]
    )


def test_an_invalid_manifest_is_caught() -> None:
    broken = yaml.safe_load((DEPLOY / "kubernetes" / "web.yaml").read_text())
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, kubernetes_validate.latest_version(), strict=True)


def test_web_probes_and_pod_security() -> None:
    web = _deployment("web")
    pod = web["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["args"][0] == "web"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    secret_volumes = [v for v in pod["volumes"] if "secret" in v]
    assert secret_volumes[0]["secret"]["secretName"] == "rolegate"


def test_every_pod_runs_a_rolegate_server_subcommand_with_the_configmap() -> None:
    pods = [d["spec"]["template"]["spec"] for d in _by_kind("Deployment") + _by_kind("Job")]
    (configmap,) = _by_kind("ConfigMap")
    for pod in pods:
        for container in pod["containers"]:
            assert container["args"][0] in SUBCOMMANDS
            assert container["envFrom"] == [
                {"configMapRef": {"name": configmap["metadata"]["name"]}}
            ]
    data = configmap["data"]
    assert data["ROLEGATE_ENV"] == "production"
    # Secrets are files from the Secret, never values in the ConfigMap.
    for name in (
        "SECRET_KEY",
        "DATABASE_URL",
        "ROLEGATE_CA_ENCRYPTION_KEY",
        "ROLEGATE_AUDIT_KEY",
        "ROLEGATE_METRICS_TOKEN",
    ):
        assert name not in data and data[f"{name}_FILE"].startswith("/var/run/secrets/rolegate/")


def test_beat_runs_twice_and_the_budget_and_service_select_the_web_pods() -> None:
    assert _deployment("beat")["spec"]["replicas"] >= 2
    labels = _deployment("web")["spec"]["template"]["metadata"]["labels"]
    (budget,) = _by_kind("PodDisruptionBudget")
    (service,) = _by_kind("Service")
    assert budget["spec"]["selector"]["matchLabels"] == labels
    assert service["spec"]["selector"] == labels
    (job,) = _by_kind("Job")
    assert job["spec"]["template"]["spec"]["containers"][0]["args"][:1] == ["migrate"]


def test_compose_is_production_shaped() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "migrate", "web", "worker", "beat"}
    for name in ("web", "worker", "beat"):
        service = services[name]
        assert service["command"][0] == name
        assert service["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        environment = service["environment"]
        assert "SECRET_KEY" not in environment and "DATABASE_URL" not in environment
        assert environment["SECRET_KEY_FILE"].startswith("/run/secrets/")
    assert services["migrate"]["command"][0] == "migrate"
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["beat"]["deploy"]["replicas"] == 2


def _instructions(dockerfile: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", dockerfile)
    rows = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            rows.append((keyword.upper(), rest.strip()))
    return rows


def test_the_dockerfile_runs_the_scripts_the_packaging_test_runs() -> None:
    rows = _instructions((DEPLOY / "Dockerfile").read_text())
    runs = [rest for keyword, rest in rows if keyword == "RUN"]
    assert runs[0].startswith("sh deploy/build-wheel.sh ")
    assert runs[1].startswith("sh /usr/local/lib/rolegate-install.sh /dist /opt/rolegate")
    copies = [shlex.split(rest) for keyword, rest in rows if keyword == "COPY"]
    for words in copies:
        sources = [w for w in words[:-1] if not w.startswith("--")]
        if not any(w.startswith("--from") for w in words):
            for source in sources:
                assert (ROOT / source).exists(), source
    assert ("COPY", "deploy/install.sh /usr/local/lib/rolegate-install.sh") in rows
    assert ("USER", "10001:10001") in rows
    assert ("ENTRYPOINT", '["rolegate-server"]') in rows
    assert ("CMD", '["web"]') in rows
    assert len([keyword for keyword, _ in rows if keyword == "FROM"]) == 2
