#!/usr/bin/env bash
# Builds the worker image (images/worker.Dockerfile) with podman or docker, whichever works
# here, and prints its size and build time.
#
#   bash scripts/build-image.sh [--tag IMAGE] [--base auto|python|debian]
#                               [--surge-version V --surge-sha256 SHA] [--save FILE.tar]
#   bash scripts/build-image.sh --redis [--tag IMAGE] [--base ...] [--save FILE.tar]
#
# --redis        the Redis image instead: the official redis:7.2.5-bookworm where a registry
#                answers, else images/redis.Dockerfile (Debian's redis-server) on the local base
#
# --base python  the pinned Python image of the Dockerfile (a registry must be reachable);
# --base debian  a Debian bookworm base made here with mmdebstrap from Debian's package
#                mirror, imported as localhost/cloudsurge-base:bookworm (made once, reused);
# --base auto    (default) python if the engine has it or can pull it, else debian.
# Without a working engine, podman (with runc) is installed from Debian; mmdebstrap too when
# the Debian base is needed. pip inside the build gets this machine's pip configuration and
# CA bundle through read-only bind mounts (podman), so it works behind a private mirror; the
# mounts are not part of the image (a file:// index is mounted with its files/ beside simple/).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

tag=""
what=worker
base=${CLOUDSURGE_IMAGE_BASE:-auto}
surge_version=""
surge_sha256=""
save=""
while [ $# -gt 0 ]; do
    case "$1" in
        --tag) tag=$2; shift 2 ;;
        --base) base=$2; shift 2 ;;
        --surge-version) surge_version=$2; shift 2 ;;
        --surge-sha256) surge_sha256=$2; shift 2 ;;
        --save) save=$2; shift 2 ;;
        --redis) what=redis; shift ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "build-image: unknown argument $1" >&2; exit 2 ;;
    esac
done
case "$base" in auto|python|debian) ;; *) echo "build-image: --base auto|python|debian" >&2; exit 2 ;; esac

python_image=$(sed -n 's/^ARG PYTHON_IMAGE=//p' images/worker.Dockerfile)
redis_image=redis:7.2.5-bookworm
debian_base=localhost/cloudsurge-base:bookworm
log() { echo "build-image: $*" >&2; }

# shellcheck source=scripts/apt.sh
. "$root/scripts/apt.sh"

# --- the engine: podman if present, else a docker that answers, else install podman -------
engine=""
if command -v podman >/dev/null; then
    engine=podman
elif command -v docker >/dev/null && docker info >/dev/null 2>&1; then
    engine=docker
else
    apt_install podman runc
    engine=podman
fi
engine_cmd=("$engine")
build_flags=()
mounts=()
mount_flags=()
if [ "$engine" = podman ]; then
    # crun refuses hybrid cgroups on some hosts; runc works wherever podman does.
    command -v runc >/dev/null || apt_install runc
    engine_cmd+=(--runtime "$(command -v runc)")
    # the container default RLIMIT_NOFILE may exceed this host's hard limit
    nproc=$(ulimit -Hu); [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ] && nproc=32768
    build_flags+=(--ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit "nproc=$nproc:$nproc" --format oci
                  --ignorefile images/worker.Dockerfile.dockerignore)
    # pip's configuration and CA bundle, read-only, for the build stage's RUN steps only
    if command -v pip3 >/dev/null || command -v pip >/dev/null; then
        pipcmd=$(command -v pip3 || command -v pip)
        while read -r file; do mounts+=("$file"); done < <(
            "$pipcmd" config debug 2>/dev/null | sed -n 's/^ *\(\/[^,]*\), exists: True$/\1/p')
        while read -r value; do mounts+=("$value"); done < <(
            "$pipcmd" config list 2>/dev/null | grep -o "file://[^' ]*\|'/[^' ]*\| /[^' ]*" \
                | sed "s|^file://||; s|^'||; s|^ ||; s|/simple/*$||")
    fi
    for variable in PIP_CERT REQUESTS_CA_BUNDLE SSL_CERT_FILE; do
        [ -n "${!variable:-}" ] && mounts+=("${!variable}")
    done
    mounts+=(/etc/ssl/certs/ca-certificates.crt)
    declare -A seen=()
    for path in "${mounts[@]}"; do
        if [ -e "$path" ] && [ -z "${seen[$path]:-}" ]; then
            seen[$path]=1
            mount_flags+=(-v "$path:$path:ro")
        fi
    done
fi
log "engine: ${engine_cmd[*]}"

have_image() { "${engine_cmd[@]}" image inspect "$1" >/dev/null 2>&1; }

# --- the base -------------------------------------------------------------------------------
pullable() { have_image "$1" || timeout 120 "${engine_cmd[@]}" pull -q "$1" >/dev/null 2>&1; }
wanted=$python_image
[ "$what" = redis ] && wanted=$redis_image
if [ "$base" = auto ]; then
    if pullable "$wanted"; then
        base=python
    else
        log "cannot pull $wanted: using a Debian base made here"
        base=debian
    fi
fi
if [ "$base" = python ]; then
    base_image=$python_image
else
    base_image=$debian_base
    if ! have_image "$debian_base"; then
        apt_install mmdebstrap
        work=$(mktemp -d)
        trap 'rm -rf "$work"' EXIT
        start=$(date +%s)
        # minbase + Python 3.11 (bookworm's) with venv; no docs, man pages or locales
        mmdebstrap --quiet --variant=minbase --include=python3,python3-venv,ca-certificates \
            --dpkgopt='path-exclude=/usr/share/doc/*' \
            --dpkgopt='path-include=/usr/share/doc/*/copyright' \
            --dpkgopt='path-exclude=/usr/share/man/*' \
            --dpkgopt='path-exclude=/usr/share/locale/*' \
            --dpkgopt='path-exclude=/usr/share/info/*' \
            --aptopt='APT::Install-Recommends "false"' \
            --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/log/*.log' \
            bookworm "$work/base.tar" \
            "deb http://deb.debian.org/debian bookworm main" \
            "deb http://deb.debian.org/debian bookworm-updates main" \
            "deb http://deb.debian.org/debian-security bookworm-security main"
        "${engine_cmd[@]}" import --change 'CMD ["python3"]' "$work/base.tar" "$debian_base" >/dev/null
        rm -rf "$work"
        trap - EXIT
        log "made $debian_base in $(( $(date +%s) - start )) s"
    fi
fi

# --- the build ------------------------------------------------------------------------------
start=$(date +%s)
if [ "$what" = redis ]; then
    if [ "$base" = python ]; then
        pullable "$redis_image"
        tag=${tag:-$redis_image}
        [ "$tag" = "$redis_image" ] || "${engine_cmd[@]}" tag "$redis_image" "$tag"
    else
        tag=${tag:-localhost/cloudsurge-redis:7}
        "${engine_cmd[@]}" build "${build_flags[@]/images\/worker.Dockerfile.dockerignore/images\/redis.Dockerfile.dockerignore}" \
            --build-arg "BASE_IMAGE=$base_image" -f images/redis.Dockerfile -t "$tag" images
    fi
else
    tag=${tag:-localhost/cloudsurge-worker:dev}
    args=(--build-arg "PYTHON_IMAGE=$base_image")
    if [ -n "$surge_version" ]; then
        args+=(--build-arg "SURGE_VERSION=$surge_version" --build-arg "SURGE_SHA256=$surge_sha256")
    fi
    if [ "${#mounts[@]}" -gt 0 ]; then
        # buildah leaves an empty placeholder for every bind-mount target in each layer a RUN
        # makes: so only the build stage runs with the mounts, and the runtime stage is built
        # in a second pass that finds the build stage in the layer cache and mounts nothing.
        "${engine_cmd[@]}" build "${build_flags[@]}" "${mount_flags[@]}" "${args[@]}" \
            --target build -f images/worker.Dockerfile .
    fi
    "${engine_cmd[@]}" build "${build_flags[@]}" "${args[@]}" -f images/worker.Dockerfile -t "$tag" .
fi
seconds=$(( $(date +%s) - start ))
size=$("${engine_cmd[@]}" image inspect --format '{{.Size}}' "$tag")
log "built $tag from $base_image in $seconds s: $(( size / 1000000 )) MB"
if [ -n "$save" ]; then
    rm -f "$save"
    "${engine_cmd[@]}" save --format oci-archive -o "$save" "$tag" 2>/dev/null \
        || "${engine_cmd[@]}" save -o "$save" "$tag"
    log "saved $tag to $save"
fi
echo "image=$tag engine=$engine base=$base_image seconds=$seconds bytes=$size"
