"""open_cluster for real: a local cluster, an existing scheduler, and Kubernetes failures.

No Kubernetes cluster exists here, so the Kubernetes failures users meet most are produced
for real against what kr8s actually talks to: a missing or empty kubeconfig, a closed port,
and a small fake API server on loopback that answers 403, 404, never actions the
DaskCluster (no operator) or never answers at all. Each must end quickly in a ClusterError
that says what to do.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from distributed import Client, LocalCluster

from cloudsurge_dask.clusters import daskcluster as cluster_module
from cloudsurge_dask.clusters.cluster import ClusterHandle, open_cluster
from cloudsurge_dask.clusters.daskcluster import kube_cluster_spec
from cloudsurge_dask.clusters.kubeaccess import SHOWN, permissions
from cloudsurge_dask.errors import ClusterError
from cloudsurge_dask.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_local_cluster_has_one_drain_per_worker_process() -> None:
    with open_cluster(Settings(workers=2, cluster_timeout=60)) as handle:
        assert isinstance(handle, ClusterHandle)
        assert handle.kind == "local"
        assert handle.drains == 2
        assert handle.dashboard is not None and handle.dashboard.startswith("http")
        info = handle.client.nthreads()
        assert len(info) == 2 and set(info.values()) == {1}
        assert handle.client.submit(pow, 7, 2).result() == 49


def test_existing_scheduler_counts_its_connected_workers() -> None:
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as lc,
        open_cluster(Settings(scheduler=lc.scheduler_address, cluster_timeout=30)) as handle,
    ):
        assert handle.kind == "scheduler"
        assert handle.drains == 2
        assert handle.client.submit(pow, 3, 2).result() == 9


def test_a_detached_clients_scheduler_counts_the_pods_still_coming() -> None:
    """A DaskJob's client pod starts with its workers: it submits a drain for every process
    of every pod, and its workers take Redis from their own Secret (kind kubernetes)."""
    settings = Settings(cluster="kubernetes", pods=3, processes_per_pod=2, cluster_timeout=30)
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as lc,
        open_cluster(settings.replace(scheduler=lc.scheduler_address)) as handle,
    ):
        assert (handle.kind, handle.drains) == ("kubernetes", 6)


def test_unreachable_scheduler_is_a_cluster_error() -> None:
    settings = Settings(scheduler=f"tcp://127.0.0.1:{free_port()}", cluster_timeout=2)
    started = time.monotonic()
    with (
        pytest.raises(ClusterError, match="cannot reach the Dask scheduler"),
        open_cluster(settings),
    ):
        pass
    assert time.monotonic() - started < 20


def test_scheduler_without_workers_is_a_cluster_error() -> None:
    with LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as lc:
        settings = Settings(scheduler=lc.scheduler_address, cluster_timeout=1)
        with pytest.raises(ClusterError, match="dask worker"), open_cluster(settings):
            pass


# --- Kubernetes failures -------------------------------------------------------------------


def kubeconfig(path: Path, server: str) -> Path:
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: test\n"
        f"clusters: [{{name: c, cluster: {{server: '{server}'}}}}]\n"
        "contexts: [{name: test, context: {cluster: c, user: u, namespace: default}}]\n"
        "users: [{name: u, user: {token: not-a-real-token}}]\n"
    )
    return path


class FakeApi(BaseHTTPRequestHandler):
    """Just enough of the Kubernetes API for kr8s and dask-kubernetes to fail as in real life."""

    mode = "forbidden"
    store: dict[str, Any] = {}  # noqa: RUF012 - replaced per server
    created: list[str] = []  # noqa: RUF012 - replaced per server
    release = threading.Event()

    def _send(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        # an HTTP/1.0 handler closes every connection after one answer, so say so
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _status(self, code: int, reason: str, message: str) -> None:
        body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code}
        self._send(code, {**body, "reason": reason, "message": message})

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        if self.path.startswith("/version"):
            return self._send(200, {"major": "1", "minor": "30", "gitVersion": "v1.30.0"})
        if "/selfsubject" in self.path and body is not None and self.mode != "hang":
            # any authenticated user may ask; a user without the Role is granted nothing
            allowed = self.mode != "forbidden"
            everything = [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]
            status = {"allowed": allowed, "incomplete": False,
                      "resourceRules": everything if allowed else []}  # fmt: skip
            return self._send(201, {**body, "status": status})
        if self.mode == "forbidden":
            return self._status(403, "Forbidden", "daskclusters is forbidden: User cannot create")
        if self.mode == "no-crd":
            return self._status(404, "NotFound", "the server could not find the requested resource")
        if self.mode == "hang":
            self.release.wait(30)
            return self._status(503, "ServiceUnavailable", "released")
        return self._no_operator(body)

    def _no_operator(self, body: dict[str, Any] | None) -> None:
        """DaskClusters are stored but nothing ever actions them, as without the operator."""
        path = self.path.split("?")[0]
        if "/daskclusters" not in path:
            return self._send(200, {"kind": "List", "apiVersion": "v1", "items": []})
        name = path.rsplit("/daskclusters", 1)[1].strip("/")
        if self.command == "POST" and body is not None:
            self.store[body["metadata"]["name"]] = body
            self.created.append(body["metadata"]["name"])
            return self._send(201, body)
        if self.command == "DELETE":
            self.store.pop(name, None)
            return self._send(200, {"kind": "Status", "status": "Success"})
        if name:
            if name in self.store:
                return self._send(200, self.store[name])
            return self._status(404, "NotFound", f"daskclusters {name} not found")
        items = list(self.store.values())
        return self._send(200, {"kind": "DaskClusterList", "apiVersion": "v1", "items": items})

    do_GET = do_POST = do_DELETE = do_PATCH = do_PUT = _handle

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


class _Server(ThreadingHTTPServer):
    # KubeCluster opens several connections at once; keep the listen backlog roomy
    request_queue_size = 128


@pytest.fixture
def fake_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[type[FakeApi]]:
    handler: type[FakeApi] = type(
        "Api", (FakeApi,), {"store": {}, "created": [], "release": threading.Event()}
    )
    server = _Server(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig(tmp_path / "config", url)))
    yield handler
    handler.release.set()
    server.shutdown()
    server.server_close()


def fails_with(settings: Settings, pattern: str, within: float = 20) -> str:
    started = time.monotonic()
    with pytest.raises(ClusterError, match=pattern) as caught, open_cluster(settings):
        pass
    assert time.monotonic() - started < within
    return str(caught.value)


KUBE = Settings(cluster="kubernetes", cluster_timeout=3)


def test_no_kubeconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    assert "get-credentials" in fails_with(KUBE, "no Kubernetes credentials")


def test_empty_kubeconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "empty").write_text("")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "empty"))
    fails_with(KUBE, "kubeconfig .* empty or malformed")


def test_unreachable_api_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = kubeconfig(tmp_path / "config", f"https://127.0.0.1:{free_port()}")
    monkeypatch.setenv("KUBECONFIG", str(config))
    assert "kubectl cluster-info" in fails_with(KUBE, "cannot reach the Kubernetes API server")


def test_rbac_forbidden(fake_api: type[FakeApi]) -> None:
    fake_api.mode = "forbidden"
    message = fails_with(KUBE, "missing Kubernetes permission in namespace default: get daskc")
    beyond = len(permissions()) - SHOWN  # every grant of the Role is missing: SHOWN named
    assert "--client-user" in message and f"and {beyond} more" in message
    assert fake_api.created == []  # nothing was made


def test_missing_operator_crds(fake_api: type[FakeApi]) -> None:
    fake_api.mode = "no-crd"
    assert "helm" in fails_with(KUBE, "operator's custom resources .* not installed")


def test_operator_not_running_times_out_and_cleans_up(fake_api: type[FakeApi]) -> None:
    fake_api.mode = "no-operator"
    message = fails_with(KUBE, "did not start within 3 s")
    assert len(fake_api.created) == 1
    assert "kubectl get pods -n dask-operator" in message
    deadline = time.monotonic() + 10
    while fake_api.store and time.monotonic() < deadline:
        time.sleep(0.1)
    assert fake_api.store == {}


def test_a_start_given_up_ends_at_once_and_removes_its_cluster(fake_api: type[FakeApi]) -> None:
    """A run stopped (Ctrl-C, `stop`) while its DaskCluster starts: the start is given up
    within a second, not after --cluster-timeout, and the DaskCluster made so far is deleted."""
    fake_api.mode = "no-operator"
    abort = threading.Event()
    set_at: list[float] = []

    def give_up_once_made() -> None:
        deadline = time.monotonic() + 30
        while not fake_api.created and time.monotonic() < deadline:
            time.sleep(0.05)
        set_at.append(time.monotonic())
        abort.set()

    threading.Thread(target=give_up_once_made, daemon=True).start()
    with pytest.raises(ClusterError, match="was given up") as caught, open_cluster(
        KUBE.replace(cluster_timeout=300), abort
    ):
        pass
    seconds = time.monotonic() - set_at[0]
    assert len(fake_api.created) == 1
    assert fake_api.created[0] in str(caught.value)
    assert fake_api.store == {}  # deleted before the error
    assert seconds < 10, seconds  # the deletion's round trips, not --cluster-timeout (300 s)


def test_api_server_that_never_answers_is_bounded(fake_api: type[FakeApi]) -> None:
    fake_api.mode = "hang"
    fails_with(KUBE.replace(cluster_timeout=1.5), "did not start within 1.5 s", within=10)


# --- the Kubernetes path after a successful start, with a stand-in KubeCluster --------------


class StandInKubeCluster(LocalCluster):
    """Takes KubeCluster's arguments and runs the workers locally instead."""

    made: list[StandInKubeCluster] = []  # noqa: RUF012

    def __init__(self, *, custom_cluster_spec: dict[str, Any], namespace: str, **kwargs: Any):
        worker = custom_cluster_spec["spec"]["worker"]
        super().__init__(
            n_workers=worker["replicas"], threads_per_worker=1, processes=False,
            dashboard_address=":0",
        )  # fmt: skip
        self.spec_given = custom_cluster_spec
        self.namespace = namespace
        self.options = kwargs
        self.adapted: tuple[int, int] | None = None
        self.made.append(self)

    def adapt(self, minimum: int = 0, maximum: int = 0, **kwargs: Any) -> Any:  # type: ignore[override]
        self.adapted = (minimum, maximum)


def test_kubernetes_handle_uses_the_spec_and_closes_the_cluster(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = cluster_module._operator()
    members = {"KubeCluster": StandInKubeCluster, "make_cluster_spec": real.make_cluster_spec}
    stand_in = type("Operator", (), {k: staticmethod(v) for k, v in members.items()})
    monkeypatch.setattr(cluster_module, "_operator", lambda: stand_in)
    checked: list[str] = []  # the pre-start access check needs an API server; record it instead
    monkeypatch.setattr(cluster_module, "_check_access", checked.append)
    settings = KUBE.replace(pods=2, processes_per_pod=3, adaptive_max=5, namespace="chem")
    with open_cluster(settings) as handle:
        (made,) = StandInKubeCluster.made
        assert handle.kind == "kubernetes"
        assert handle.drains == 5 * 3
        assert isinstance(handle.client, Client)
        assert made.namespace == "chem"
        assert checked == ["chem"]
        assert made.options["shutdown_on_close"] is True
        assert made.adapted == (2, 5)
        expected = kube_cluster_spec(settings, name=made.spec_given["metadata"]["name"])
        assert made.spec_given == expected
    assert made.status.name == "closed"


def test_forget_still_unregisters_a_failed_kube_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`_forget` is the one place that uses a private name of dask-kubernetes
    (`KubeCluster._instances`): a failed constructor must leave nothing for its exit-time
    reaper. If an upgrade renames or reshapes that registry, this fails loudly."""
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    operator = cluster_module._operator()
    name = cluster_module.cluster_name()
    with pytest.raises(ValueError, match="valid credentials"):
        operator.KubeCluster(name=name, shutdown_on_close=True, quiet=True)
    assert name in {instance.name for instance in operator.KubeCluster._instances}
    cluster_module._forget(operator, name)
    assert name not in {instance.name for instance in operator.KubeCluster._instances}
