"""Whether this client's Kubernetes identity may do everything a run does, asked first.

The client Role's grants (`kubeobjects.CLIENT_RULES`) are checked before any object is made:
a SelfSubjectRulesReview, and a SelfSubjectAccessReview for each grant it does not show, so
a missing one ends the run within seconds in one line that names it. Found later it would
not: kr8s meets a refused port-forward (403) by retrying at once without end (kr8s issue
540), which a user sees as a hang, and other refused requests surface as bare connection
errors. An access review asks every authorizer (RBAC, and GKE's IAM), so project owners
without the Role pass as they should.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..errors import ClusterError
from .kubefailure import GUIDE
from .kubeobjects import CLIENT_NAME, CLIENT_RULES

REVIEW_SECONDS = 30.0
SHOWN = 3  # missing grants named in the message; the rest counted


def permissions() -> list[tuple[str, str, str]]:
    """(API group, resource[/subresource], verb) of every grant the client Role holds."""
    return [
        (group, resource, verb)
        for rule in CLIENT_RULES
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    ]


def _kind(name: str) -> Any:
    from kr8s.asyncio.objects import new_class

    return new_class(name, version="authorization.k8s.io/v1", namespaced=False)


async def _review(kind: Any, spec: dict[str, Any]) -> dict[str, Any]:
    review = await kind({"apiVersion": "authorization.k8s.io/v1", "kind": kind.kind, "spec": spec})
    await review.create()
    status: dict[str, Any] = review.raw.get("status") or {}
    return status


def _covers(rules: list[dict[str, Any]], group: str, resource: str, verb: str) -> bool:
    """Whether a rule of a SelfSubjectRulesReview grants `verb` on every `resource`."""
    name = resource.partition("/")[0]
    return any(
        not rule.get("resourceNames")
        and {group, "*"} & set(rule.get("apiGroups", ()))
        and {resource, "*", f"{name}/*"} & set(rule.get("resources", ()))
        and {verb, "*"} & set(rule.get("verbs", ()))
        for rule in rules
    )


async def _allowed(kind: Any, namespace: str, group: str, resource: str, verb: str) -> bool:
    name, _, sub = resource.partition("/")
    attributes = {"namespace": namespace, "group": group, "resource": name, "verb": verb}
    if sub:
        attributes["subresource"] = sub
    return bool((await _review(kind, {"resourceAttributes": attributes})).get("allowed"))


async def missing(namespace: str) -> list[str]:
    """The grants this identity lacks in `namespace`, as `verb resource` (group-qualified).

    One SelfSubjectRulesReview lists what RBAC grants; where it is incomplete (another
    authorizer, such as GKE's IAM, may grant more), each grant it does not show is asked
    for with a SelfSubjectAccessReview. Of those the first goes alone: kr8s meets a 401/403
    by re-reading the credentials, which requests in flight beside it would not survive
    (kubefailure explains such an answer); the others then go at once."""
    rules = await _review(_kind("SelfSubjectRulesReview"), {"namespace": namespace})
    unsure = [p for p in permissions() if not _covers(rules.get("resourceRules") or [], *p)]
    if unsure and rules.get("incomplete", True):
        kind = _kind("SelfSubjectAccessReview")
        answers = [await _allowed(kind, namespace, *unsure[0])]
        answers += await asyncio.gather(*(_allowed(kind, namespace, *p) for p in unsure[1:]))
        unsure = [p for p, allowed in zip(unsure, answers, strict=True) if not allowed]
    return [f"{verb} {resource}{'.' + group if group else ''}" for group, resource, verb in unsure]


def check_access(namespace: str) -> None:
    """Raise one `ClusterError` naming what is missing; API errors propagate as themselves."""
    lacking = asyncio.run(asyncio.wait_for(missing(namespace), REVIEW_SECONDS))
    if lacking:
        named = ", ".join(lacking[:SHOWN])
        if len(lacking) > SHOWN:
            named += f" and {len(lacking) - SHOWN} more"
        raise ClusterError(
            f"missing Kubernetes permission in namespace {namespace}: {named} (the Role "
            f"{CLIENT_NAME} grants it: apply rbac.yaml of `python -m cloudsurge_dask manifests "
            f"--client-user YOU`; {GUIDE}, step 6)"
        )
