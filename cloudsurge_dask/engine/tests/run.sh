#!/bin/sh
# Build and run the engine's C unit tests (output.c only; no nauty needed).
# Usage: tests/run.sh [reference-folder]   (default: shared/reference/surge2
# beside the repository, when present).  Also runs an ASan/UBSan build when
# the compiler supports it.  CC and CFLAGS are honoured.
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

$cc -O3 -std=gnu11 $warn ${CFLAGS:-} -I"$engine" -o "$out/test_output" \
    "$here/test_output.c" "$engine/output.c" -lz
"$out/test_output" ${ref:+"$ref"}

if $cc -fsanitize=address,undefined -x c -o "$out/probe" - -lz >/dev/null 2>&1 <<'C'
int main(void) { return 0; }
C
then
    $cc -O1 -g -std=gnu11 $warn -fsanitize=address,undefined -fno-sanitize-recover=all \
        -I"$engine" -o "$out/test_output_san" "$here/test_output.c" "$engine/output.c" -lz
    echo "sanitizer build:"
    "$out/test_output_san" ${ref:+"$ref"}
fi
