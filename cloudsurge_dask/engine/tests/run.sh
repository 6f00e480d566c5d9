#!/bin/sh
# Build and run the engine's C unit tests: test_output.c (output.c),
# test_parts.c (parts.c: -Z's framed stream) and test_graphs.c (cycles.c,
# substruct.c, planar.c, aromatic.c); no nauty needed (zlib and libzstd are).
# Usage: tests/run.sh [reference-folder]   (default: shared/reference/surge2
# beside the repository, when present).  Also runs ASan/UBSan builds when
# the compiler supports them.  CC and CFLAGS are honoured.
# Prints a final "N passed, M failed" line summed over every test binary and
# exits non-zero when any check fails or any binary crashes.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
engine=$(dirname "$here")
repo=$(cd "$engine/../.." && pwd)
ref=${1:-${CS_SURGE_REF:-$repo/../shared/reference/surge2}}
[ -d "$ref" ] || ref=
cc=${CC:-cc}
out=$(mktemp -d "${TMPDIR:-/tmp}/cs_engine_tests.XXXXXX")
trap 'rm -rf "$out"' EXIT INT TERM
warn="-Wall -Wextra -Werror"
out_src="$engine/output.c $engine/parts.c"
out_libs="-lz -lzstd -lpthread"
graph_src="$here/test_graphs.c $engine/cycles.c $engine/substruct.c $engine/planar.c $engine/aromatic.c $engine/util.c"

total_pass=0
total_fail=0
crashed=0

# run one test binary; add its "N passed, M failed" line to the totals
run_test() {
    name=$1
    shift
    status=0
    "$@" >"$out/log" 2>&1 || status=$?
    cat "$out/log"
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out/log" | tail -n 1 || true)
    if [ -z "$line" ]; then
        echo "$name: no summary line (exit status $status)"
        crashed=$((crashed + 1))
        return 0
    fi
    p=${line%% passed*}
    f=${line#*passed, }
    f=${f%% failed}
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
    if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "$name: exit status $status with no failed check"
        crashed=$((crashed + 1))
    fi
}

# shellcheck disable=SC2086
$cc -O3 -std=gnu11 $warn ${CFLAGS:-} -I"$engine" -o "$out/test_output" \
    "$here/test_output.c" $out_src $out_libs
echo "test_output:"
run_test test_output "$out/test_output" ${ref:+"$ref"}

# shellcheck disable=SC2086
$cc -O2 -g -std=gnu11 $warn ${CFLAGS:-} -I"$engine" -o "$out/test_parts" \
    "$here/test_parts.c" $out_src $out_libs
echo "test_parts:"
run_test test_parts "$out/test_parts"

# shellcheck disable=SC2086
$cc -O1 -g -std=gnu11 $warn ${CFLAGS:-} -I"$engine" -o "$out/test_graphs" $graph_src
echo "test_graphs:"
run_test test_graphs "$out/test_graphs"

# shellcheck disable=SC2086
if $cc -fsanitize=address,undefined -x c -o "$out/probe" - $out_libs >/dev/null 2>&1 <<'C'
int main(void) { return 0; }
C
then
    san="-O1 -g -std=gnu11 $warn -fsanitize=address,undefined -fno-sanitize-recover=all"
    # shellcheck disable=SC2086
    $cc $san -I"$engine" -o "$out/test_output_san" "$here/test_output.c" $out_src $out_libs
    echo "test_output (sanitizer build):"
    run_test test_output_san "$out/test_output_san" ${ref:+"$ref"}
    # shellcheck disable=SC2086
    $cc $san -I"$engine" -o "$out/test_parts_san" "$here/test_parts.c" $out_src $out_libs
    echo "test_parts (sanitizer build):"
    run_test test_parts_san "$out/test_parts_san"
    # shellcheck disable=SC2086
    $cc $san -I"$engine" -o "$out/test_graphs_san" $graph_src
    echo "test_graphs (sanitizer build):"
    run_test test_graphs_san "$out/test_graphs_san"
fi

[ "$crashed" -eq 0 ] || total_fail=$((total_fail + crashed))
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
