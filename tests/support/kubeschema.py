"""The schemas Kubernetes objects are checked against offline: the operator's CRDs as
dask-kubernetes ships them, and the Kubernetes OpenAPI schema of pods."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dask_kubernetes
import jsonschema
import yaml

CHART = Path(dask_kubernetes.__file__).parent / "operator/deployment/helm/dask-kubernetes-operator"
K8S = "1.30.0"


def crd_schema(kind: str) -> dict[str, Any]:
    crd = yaml.safe_load((CHART / "crds" / f"{kind}.yaml").read_text())
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def crd_validator(kind: str) -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(crd_schema(kind))


def as_pod(spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}
