"""A detached run's DaskJob, validated offline: against the operator's own DaskJob CRD (no
field it would prune), its pods against the Kubernetes OpenAPI schema, and the settings
handed to the client pod read back through their declarations as the pod's `run` reads them.
The detached run itself runs on a real cluster in test_kubernetes_detach.py."""

from __future__ import annotations

import re
from typing import Any

import kubernetes_validate
import pytest
from support.kubeschema import K8S, as_pod, crd_schema, crd_validator, env_of

from cloudsurge_dask.clusters.daskjob import (
    CLIENT_RESOURCES,
    JOB_LABEL,
    daskjob_name,
    passed_settings,
    render_daskjob,
    scheduler_address,
)
from cloudsurge_dask.clusters.kubeobjects import KubeValues, render_files
from cloudsurge_dask.errors import ConfigError
from cloudsurge_dask.run.detached import detach
from cloudsurge_dask.run.resumption import resume_command
from cloudsurge_dask.settings import Settings

JOB = "20261207T081500-3fa9c2"
SETTINGS = Settings(
    cluster="kubernetes", image="europe-docker.pkg.dev/p/r/worker:1.2", namespace="chem", pods=3,
    processes_per_pod=4, pod_cpu="4", pod_memory="8Gi", pod_ephemeral_storage="3Gi",
    redis_secret="queue-secret", service_account="cloudsurge-worker",
)  # fmt: skip
DETACHED = SETTINGS.replace(detach=True, output="gs://bucket/runs", cluster_timeout=900.0)


def pruned(value: Any, schema: dict[str, Any], path: str = "") -> list[str]:
    """Paths of `value` the API server would drop: fields its structural schema lacks."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    found: list[str] = []
    if isinstance(value, dict) and "properties" in schema:
        for key, item in value.items():
            if key not in schema["properties"]:
                found.append(f"{path}.{key}")
            else:
                found += pruned(item, schema["properties"][key], f"{path}.{key}")
    elif isinstance(value, dict) and isinstance(schema.get("additionalProperties"), dict):
        for key, item in value.items():
            found += pruned(item, schema["additionalProperties"], f"{path}.{key}")
    elif isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            found += pruned(item, schema["items"], f"{path}[{index}]")
    return found


@pytest.mark.parametrize(
    "settings",
    [DETACHED, DETACHED.replace(service_account=None, storage_secret="gcs-key")],
    ids=["workload-identity", "key-secret"],
)
def test_daskjob_validates_against_its_crd_and_the_pod_schema(settings: Settings) -> None:
    name = daskjob_name(JOB)
    manifest = render_daskjob(settings, JOB, name)
    assert [e.message for e in crd_validator("daskjob").iter_errors(manifest)] == []
    spec = crd_schema("daskjob")["properties"]["spec"]  # apiVersion, kind, metadata: built in
    assert pruned(manifest["spec"], spec, ".spec") == []
    assert pruned({"job": {"spec": {}, "bogus": 1}}, spec, ".spec") == [".spec.job.bogus"]
    kubernetes_validate_pods(manifest)


def kubernetes_validate_pods(manifest: dict[str, Any]) -> None:
    spec = manifest["spec"]
    for pod in (spec["job"]["spec"], *(spec["cluster"]["spec"][p]["spec"] for p in
                                       ("worker", "scheduler"))):  # fmt: skip
        kubernetes_validate.validate(as_pod(pod), K8S, strict=True)


def test_names_are_fresh_and_valid_service_names() -> None:
    names = {daskjob_name(JOB) for _ in range(20)}
    assert len(names) > 1  # a resume gets a DaskJob of its own
    for name in names:
        for service in (name, f"{name}-scheduler", f"{name}-runner"):
            assert re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", service), service


def test_client_pod_runs_the_resume_with_settings_as_declared_variables() -> None:
    name = "cloudsurge-x"
    manifest = render_daskjob(DETACHED, JOB, name)
    assert manifest["metadata"]["labels"][JOB_LABEL] == JOB
    pod = manifest["spec"]["job"]["spec"]
    (container,) = pod["containers"]
    assert container["args"] == ["python", "-m", "cloudsurge_dask", "run", "--resume", JOB]
    assert pod["restartPolicy"] == "Never"
    assert pod["serviceAccountName"] == "cloudsurge-client"
    assert pod["automountServiceAccountToken"] is False  # it needs nothing of the API
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["resources"] == CLIENT_RESOURCES
    env = env_of(container)
    assert env["CLOUDSURGE_REDIS_URL"] == {"secretKeyRef": {"name": "queue-secret", "key": "url"}}
    assert env["CLOUDSURGE_SCHEDULER"] == scheduler_address(name, "chem")
    assert env["CLOUDSURGE_SCHEDULER"] == "tcp://cloudsurge-x-scheduler.chem.svc.cluster.local:8786"
    assert "CLOUDSURGE_DETACH" not in env  # the pod's run is the client, it does not detach
    # the pod's `run` reads its settings back from these variables: the same placement
    plain = {k: v for k, v in env.items() if k.startswith("CLOUDSURGE_") and isinstance(v, str)}
    assert plain == passed_settings(DETACHED, name)
    inside = Settings.build(env=plain)
    for field in ("namespace", "image", "pods", "processes_per_pod", "pod_cpu", "pod_memory",
                  "pod_ephemeral_storage", "redis_secret", "service_account", "output",
                  "cluster_timeout"):  # fmt: skip
        assert getattr(inside, field) == getattr(DETACHED, field), field
    assert (inside.cluster, inside.detach) == ("kubernetes", False)
    # what the pod says to go on with names the detached way again
    assert resume_command(JOB, inside) == (
        f"python -m cloudsurge_dask run --resume {JOB} --output gs://bucket/runs "
        "--cluster kubernetes --detach --namespace chem"
    )
    assert manifest["spec"]["cluster"]["spec"]["worker"]["replicas"] == 3


def test_client_role_may_create_and_follow_daskjobs() -> None:
    (role,) = [d for d in render_files(KubeValues())["rbac.yaml"] if d["kind"] == "Role"]
    rule = next(r for r in role["rules"] if "daskclusters" in r["resources"])
    assert "daskjobs" in rule["resources"]
    assert {"create", "get", "list", "delete"} <= set(rule["verbs"])


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"cluster": "local"}, "--detach runs the client in Kubernetes"),
        ({"scheduler": "tcp://x:8786"}, "--detach runs the client in Kubernetes"),
    ],
)
def test_detach_needs_kubernetes(changes: dict[str, Any], says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        DETACHED.replace(**changes)


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"redis_url": None}, "run --detach needs"),
        ({"output": "./results"}, "not one the cluster's pods reach"),
        ({"output": "memory://x"}, "not one the cluster's pods reach"),
        ({"adaptive_max": 5}, "leave --adaptive-max at 0"),
    ],
)
def test_detach_refuses_what_a_pod_could_not_use(changes: dict[str, Any], says: str) -> None:
    settings = DETACHED.replace(redis_url="redis://:p@127.0.0.1:1/0").replace(**changes)

    def never() -> list[Any]:
        raise AssertionError("formulae made before the flags were checked")

    with pytest.raises(ConfigError, match=says):
        detach(settings, never, None, frozenset())
