/* test_parts.c - unit tests of parts.c (-Z): the framed stream, where parts
 * are cut, their counts, and that each part decompresses to exactly its
 * records and depends only on them.
 *
 * Build and run: tests/run.sh (needs a C compiler, zlib and libzstd).
 *
 * Licence: Apache-2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "../output.h"
#include "harness.h"
#include "../parts.h"


/* record i: its length varies (some cross a 1 MiB step), its bytes are
 * printable and it ends with '\n', like a SMILES line */
static size_t record(unsigned i, size_t base, unsigned char *out)
{
    size_t len = base + (i * 7919u) % (base + 1);
    for (size_t k = 0; k + 1 < len; ++k) out[k] = (unsigned char)('A' + (i + k * 31) % 26);
    out[len - 1] = '\n';
    return len;
}

typedef struct stream {
    int nparts;
    unsigned char *part[64];     /* decompressed */
    size_t raw[64], zlen[64];
    unsigned char *zpart[64];    /* compressed, as stored */
    unsigned long long structures[64], claimed_raw[64];
    unsigned long long end_parts, end_structures;
    int ended, malformed;
} stream;

static unsigned long long get_u64(const unsigned char *p)
{
    unsigned long long v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

/* write records first..first+n-1 with -Z level 1 and the part size into a
 * file, then parse and decompress what came out */
static void run(tctx *t, unsigned first, unsigned n, size_t base, uint64_t part_size, stream *s)
{
    memset(s, 0, sizeof(*s));
    char path[512];
    snprintf(path, sizeof(path), "%s/parts.%d", t->dir, t->seq++);
    cs_out o;
    if (cs_out_open_parts(&o, path, 1, part_size) != 0) {
        s->malformed = 1;
        return;
    }
    for (unsigned i = first; i < first + n; ++i) {
        unsigned char *p = cs_out_reserve(&o, 8192);
        cs_out_commit(&o, record(i, base, p));
    }
    if (cs_out_close(&o) != 0) s->malformed = 1;
    FILE *f = fopen(path, "rb");
    unsigned char head[CS_PART_HEADER];
    unsigned char *pending = NULL;
    size_t plen = 0;
    while (f && fread(head, 1, sizeof(head), f) == sizeof(head)) {
        uint32_t len = (uint32_t)head[4] | (uint32_t)head[5] << 8 | (uint32_t)head[6] << 16 |
                       (uint32_t)head[7] << 24;
        unsigned long long a = get_u64(head + 8), b = get_u64(head + 16);
        if (memcmp(head, "CSZD", 4) == 0 && len > 0) {
            pending = realloc(pending, plen + len);
            if (fread(pending + plen, 1, len, f) != len) s->malformed = 1;
            plen += len;
        } else if (memcmp(head, "CSZP", 4) == 0 && len == 0 && plen && s->nparts < 64) {
            int k = s->nparts++;
            s->structures[k] = a;
            s->claimed_raw[k] = b;
            s->zpart[k] = pending;
            s->zlen[k] = plen;
            s->part[k] = malloc(b + 1);
            size_t got = ZSTD_decompress(s->part[k], b + 1, pending, plen);
            s->raw[k] = ZSTD_isError(got) ? (size_t)-1 : got;
            pending = NULL;
            plen = 0;
        } else if (memcmp(head, "CSZE", 4) == 0 && len == 0 && !plen) {
            s->ended = 1;
            s->end_parts = a;
            s->end_structures = b;
            if (fgetc(f) != EOF) s->malformed = 1;
            break;
        } else {
            s->malformed = 1;
            break;
        }
    }
    if (f) fclose(f);
    free(pending);
    unlink(path);
}

static void drop(stream *s)
{
    for (int k = 0; k < s->nparts; ++k) {
        free(s->part[k]);
        free(s->zpart[k]);
    }
}

/* every part holds exactly its records, cut every part_size of them */
static void check(tctx *t, unsigned first, unsigned n, size_t base, uint64_t part_size,
                  const char *name)
{
    stream s;
    run(t, first, n, base, part_size, &s);
    char label[200];
    int want_parts = (int)((n + part_size - 1) / part_size);
    snprintf(label, sizeof(label), "%s: well formed, ended, %d parts", name, want_parts);
    ok(t, !s.malformed && s.ended && s.nparts == want_parts, label);
    snprintf(label, sizeof(label), "%s: end frame counts", name);
    ok(t, s.end_parts == (unsigned long long)want_parts && s.end_structures == n, label);
    unsigned char *buf = malloc(16384);
    int content = 1;
    unsigned i = first;
    for (int k = 0; k < s.nparts; ++k) {
        unsigned in_part = 0;
        size_t at = 0;
        while (in_part < part_size && i < first + n) {
            size_t len = record(i, base, buf);
            content &= at + len <= s.raw[k] && memcmp(s.part[k] + at, buf, len) == 0;
            at += len;
            ++in_part;
            ++i;
        }
        content &= at == s.raw[k] && at == s.claimed_raw[k] && s.structures[k] == in_part;
    }
    snprintf(label, sizeof(label), "%s: parts hold exactly their records", name);
    ok(t, content && i == first + n, label);
    free(buf);
    drop(&s);
}

static void test_cutting(tctx *t)
{
    check(t, 0, 3000, 700, 1000, "3 parts of ~1 MiB, records across steps");
    check(t, 0, 3001, 700, 1000, "a short last part");
    check(t, 0, 5, 20, 1, "a part per structure");
    check(t, 0, 7000, 300, 100000, "one part over several steps");
    check(t, 0, 0, 20, 10, "no structures: the end frame alone");
}

/* a part of exactly one step: the step goes out, then the part ends empty */
static void test_exact_step(tctx *t)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/step", t->dir);
    cs_out o;
    ok(t, cs_out_open_parts(&o, path, 1, 1024) == 0, "exact step: open");
    unsigned char line[1024];
    memset(line, 'C', sizeof(line) - 1);
    line[sizeof(line) - 1] = '\n';
    for (int i = 0; i < 2048; ++i) cs_out_put(&o, line, sizeof(line));
    ok(t, cs_out_close(&o) == 0, "exact step: close");
    FILE *f = fopen(path, "rb");
    unsigned char head[CS_PART_HEADER];
    int parts = 0, bad = 0;
    while (f && fread(head, 1, sizeof(head), f) == sizeof(head)) {
        uint32_t len = (uint32_t)head[4] | (uint32_t)head[5] << 8 | (uint32_t)head[6] << 16;
        if (memcmp(head, "CSZD", 4) == 0) {
            fseek(f, len, SEEK_CUR);
        } else if (memcmp(head, "CSZP", 4) == 0) {
            ++parts;
            bad |= get_u64(head + 8) != 1024 || get_u64(head + 16) != CS_PART_STEP;
        }
    }
    if (f) fclose(f);
    unlink(path);
    ok(t, parts == 2 && !bad, "exact step: two parts of 1024 lines, 1 MiB each");
}

/* a part's bytes depend only on its records: part 2 of one stream equals
 * part 1 of a stream that starts with its records */
static void test_deterministic(tctx *t)
{
    stream a, b, c;
    run(t, 0, 4000, 500, 2000, &a);
    run(t, 2000, 2000, 500, 2000, &b);
    run(t, 0, 4000, 500, 2000, &c);
    ok(t, a.nparts == 2 && b.nparts == 1 && c.nparts == 2, "deterministic: parts");
    ok(t, a.nparts == 2 && b.nparts == 1 && a.zlen[1] == b.zlen[0] &&
              memcmp(a.zpart[1], b.zpart[0], a.zlen[1]) == 0,
       "deterministic: a part's bytes depend only on its content");
    ok(t, a.nparts == 2 && c.nparts == 2 && a.zlen[0] == c.zlen[0] &&
              memcmp(a.zpart[0], c.zpart[0], a.zlen[0]) == 0,
       "deterministic: a redo writes the same bytes");
    unsigned long long fhs = a.nparts ? ZSTD_getFrameContentSize(a.zpart[1], a.zlen[1]) : 0;
    ok(t, fhs == ZSTD_CONTENTSIZE_UNKNOWN, "no content size in the frame (as python-zstandard)");
    drop(&a);
    drop(&b);
    drop(&c);
}

/* a record larger than the slack is refused, not written in pieces */
static void test_oversized(tctx *t)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/big", t->dir);
    cs_out o;
    ok(t, cs_out_open_parts(&o, path, 1, 10) == 0, "oversized: open");
    ok(t, cs_out_reserve(&o, CS_PART_STEP + CS_PART_SLACK + 1) == NULL && o.err == EINVAL,
       "oversized: reserve refused with EINVAL");
    ok(t, cs_out_close(&o) != 0, "oversized: close reports it");
    unlink(path);
}

int main(void)
{
    tctx t;
    memset(&t, 0, sizeof(t));
    const char *tmp = getenv("TMPDIR");
    snprintf(t.dir, sizeof(t.dir), "%s/cs_test_parts.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(t.dir)) {
        perror("mkdtemp");
        return 2;
    }
    test_cutting(&t);
    test_exact_step(&t);
    test_deterministic(&t);
    test_oversized(&t);
    rmdir(t.dir);
    if (getenv("CS_TEST_FORCE_FAIL")) ok(&t, 0, "forced failure (CS_TEST_FORCE_FAIL)");
    printf("%d passed, %d failed\n", t.passed, t.failed);
    return t.failed ? 1 : 0;
}
