"""Whether this client's Kubernetes identity may do everything a run does, asked first.

One SelfSubjectAccessReview per permission of the client Role (`kubeobjects.CLIENT_RULES`),
all at once, before any object is made: a missing one then ends the run within seconds in
one line that names it. Found later it would not: kr8s meets a refused port-forward (403) by
retrying at once without end (kr8s issue 540), which a user sees as a hang, and other refused
requests surface as bare connection errors. A review asks every authorizer (RBAC, and GKE's
IAM), so project owners without the Role pass as they should.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..errors import ClusterError
from .kubeobjects import CLIENT_NAME, CLIENT_RULES

GUIDE = "docs/gke.md"
REVIEW_SECONDS = 30.0


def permissions() -> list[tuple[str, str, str]]:
    """(API group, resource[/subresource], verb) of every grant the client Role holds."""
    return [
        (group, resource, verb)
        for rule in CLIENT_RULES
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    ]


def _review_kind() -> Any:
    from kr8s.asyncio.objects import new_class

    return new_class(
        "SelfSubjectAccessReview", version="authorization.k8s.io/v1", namespaced=False
    )


async def _allowed(kind: Any, namespace: str, group: str, resource: str, verb: str) -> bool:
    name, _, sub = resource.partition("/")
    attributes = {"namespace": namespace, "group": group, "resource": name, "verb": verb}
    if sub:
        attributes["subresource"] = sub
    review = await kind({
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": attributes},
    })  # fmt: skip
    await review.create()
    return bool(review.raw.get("status", {}).get("allowed"))


async def missing(namespace: str) -> list[str]:
    """The grants this identity lacks in `namespace`, as `verb resource` (group-qualified)."""
    kind = _review_kind()
    wanted = permissions()
    answers = await asyncio.gather(*(_allowed(kind, namespace, *p) for p in wanted))
    return [
        f"{verb} {resource}{'.' + group if group else ''}"
        for (group, resource, verb), allowed in zip(wanted, answers, strict=True)
        if not allowed
    ]


def check_access(namespace: str) -> None:
    """Raise one `ClusterError` naming what is missing; API errors propagate as themselves."""
    lacking = asyncio.run(asyncio.wait_for(missing(namespace), REVIEW_SECONDS))
    if lacking:
        raise ClusterError(
            f"missing Kubernetes permission in namespace {namespace}: {', '.join(lacking)} "
            f"(the Role {CLIENT_NAME} of `python -m cloudsurge_dask manifests` grants it; "
            f"{GUIDE}, step 6)"
        )
