#!/usr/bin/env bash
# A real single-node Slurm on this machine, for `pytest -m slurm` (docs/hpc.md).
#
#   bash scripts/test-slurm.sh up       # install the packages if missing, start everything
#   bash scripts/test-slurm.sh down     # cancel every job, stop each daemon by PID, remove state
#   bash scripts/test-slurm.sh status   # the daemons' PIDs and `sinfo`
#   bash scripts/test-slurm.sh env      # `export SLURM_CONF=...` for this shell (eval it)
#
# Debian 12's slurmctld, slurmd and munge (22.05, 0.5.15; --no-install-recommends), started
# without systemd: munged as the munge user, `slurmctld -D` and `slurmd -D` as root, each by
# PID, with a private slurm.conf (SLURM_CONF) whose node line comes from `slurmd -C`:
# proctrack/linuxproc and task/none (no cgroups), no accounting, ports of its own, only
# loopback addresses. Every file (config, key, sockets, spool, state, logs) lives in
# $CLOUDSURGE_SLURM_DIR (default /var/tmp/cloudsurge-slurm; not under a 0700 folder, since
# munged, running as munge, checks every folder above its key). Nothing is ever stopped by
# name: each daemon's PID is in $S/run/NAME.pid; jobs are cancelled by their ids first, so no
# job step outlives its slurmd.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
S=${CLOUDSURGE_SLURM_DIR:-/var/tmp/cloudsurge-slurm}
CONF=$S/etc/slurm.conf
log() { echo "test-slurm: $*" >&2; }

# shellcheck source=scripts/apt.sh
. "$root/scripts/apt.sh"

alive() { [ -s "$S/run/$1.pid" ] && kill -0 "$(cat "$S/run/$1.pid")" 2>/dev/null; }

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

write_config() {
    local node ctld_port slurmd_port
    node=$(slurmd -C | head -1)
    ctld_port=$(free_port)
    slurmd_port=$(free_port)
    while [ "$slurmd_port" = "$ctld_port" ]; do slurmd_port=$(free_port); done
    cat > "$CONF" <<EOF
# written by scripts/test-slurm.sh: a private single-node Slurm on loopback
ClusterName=cloudsurge-test
SlurmctldHost=$(hostname)(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$S/munge-socket/munge.socket.2
CredType=cred/munge
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/run/slurmctld.daemon.pid
SlurmdPidFile=$S/run/slurmd.daemon.pid
SlurmctldLogFile=$S/logs/slurmctld.log
SlurmdLogFile=$S/logs/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
KillWait=5
MinJobAge=30
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=60
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=$(hostname) Default=YES MaxTime=INFINITE State=UP
EOF
}

start() {
    local name=$1
    shift
    "$@" >> "$S/logs/$name.out" 2>&1 < /dev/null &
    echo $! > "$S/run/$name.pid"
}

stop() {
    local name=$1 pid
    [ -s "$S/run/$name.pid" ] || return 0
    pid=$(cat "$S/run/$name.pid")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
    fi
    rm -f "$S/run/$name.pid"
}

up() {
    local begin
    begin=$(date +%s.%N)
    apt_install slurmctld slurmd slurm-client munge
    if alive slurmctld; then log "already up ($S)"; return 0; fi
    mkdir -p "$S"/{etc,run,logs,state,spool,munge,munge-socket}
    chmod 0755 "$S" "$S/etc"
    chmod 0700 "$S"/{run,state,spool}
    chown munge:munge "$S/munge" "$S/munge-socket"
    chmod 0700 "$S/munge"
    chmod 0755 "$S/munge-socket"  # munged wants its socket's folder open to everyone
    if [ ! -s "$S/munge/munge.key" ]; then
        head -c 1024 /dev/urandom > "$S/munge/munge.key"
        chown munge:munge "$S/munge/munge.key"
        chmod 0400 "$S/munge/munge.key"
    fi
    write_config
    # setpriv execs munged itself, so $! is munged's PID (runuser would stay its parent)
    start munged setpriv --reuid munge --regid munge --clear-groups \
        munged --foreground --key-file "$S/munge/munge.key" --socket "$S/munge-socket/munge.socket.2" \
        --pid-file "$S/munge/munged.pid" --log-file "$S/munge/munged.log" \
        --seed-file "$S/munge/munged.seed"
    for _ in $(seq 50); do [ -S "$S/munge-socket/munge.socket.2" ] && break; sleep 0.1; done
    [ -S "$S/munge-socket/munge.socket.2" ] || { log "munged did not start:"; cat "$S/logs/munged.out" >&2; exit 1; }
    export SLURM_CONF=$CONF
    start slurmctld slurmctld -D -i
    start slurmd slurmd -D
    for _ in $(seq 100); do
        if sinfo -h -o '%T' 2>/dev/null | grep -qx idle; then
            log "up in $(python3 -c "print(f'{$(date +%s.%N) - $begin:.1f}')") s: SLURM_CONF=$CONF"
            return 0
        fi
        sleep 0.2
    done
    log "the node did not become idle:"
    sinfo >&2 || true
    tail -20 "$S/logs/slurmctld.log" "$S/logs/slurmd.log" >&2 || true
    exit 1
}

down() {
    local jobs
    if [ -f "$CONF" ] && alive slurmctld; then
        export SLURM_CONF=$CONF
        jobs=$(squeue -h -o '%i' 2>/dev/null || true)
        if [ -n "$jobs" ]; then
            # shellcheck disable=SC2086 (job ids, one word each)
            scancel $jobs || true
            # every job step ends (its processes signalled by their slurmstepd) before slurmd goes
            for _ in $(seq 100); do
                [ -z "$(squeue -h -o '%i' 2>/dev/null)" ] && break
                sleep 0.2
            done
        fi
    fi
    stop slurmd
    stop slurmctld
    stop munged
    rm -rf "$S"
    log "down: every daemon stopped by PID, $S removed"
}

status() {
    local name
    for name in munged slurmctld slurmd; do
        if alive "$name"; then echo "$name: PID $(cat "$S/run/$name.pid")"; else echo "$name: not running"; fi
    done
    if [ -f "$CONF" ]; then SLURM_CONF=$CONF sinfo || true; fi
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    status) status ;;
    env) echo "export SLURM_CONF=$CONF" ;;
    *) echo "usage: $0 up|down|status|env" >&2; exit 2 ;;
esac
