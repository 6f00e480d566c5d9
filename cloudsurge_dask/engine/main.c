/* main.c - cloudsurge-surge's command line, as Surge 2.0's manual gives it.
 *
 * Options may be concatenated (-ut0 is -u -t0) and values are written
 * against the letter; -oFILE and -E take the rest of their argument.  Every
 * malformed option ends the program with one ">E" line and status 1 before
 * anything is generated.  Several formulae may be given (batch mode): all are
 * checked first, then generated one after the other into the one output,
 * each with its own ">Z" line.  Like Surge, a single formula is first
 * described on stderr (counts, edge range, DBE); in batch mode only with -v,
 * so a batch's stderr stays one line per formula.
 *
 * Licence: Apache-2.0.
 */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "surge.h"

#define VERSION "cloudsurge-surge 2.0.0"

static void usage(void)
{
    printf(
        "Usage: cloudsurge-surge [options] FORMULA...\n"
        "\n"
        "Generate every connected molecular graph (constitutional isomer) of FORMULA,\n"
        "e.g. C8H11NO, as Surge 2.0 does.  Elements: C N O P S F Cl Br I B Si, Nx (N, 5),\n"
        "Px (P, 5), Sx (S, 4), Sy (S, 6), and any added with -E; H implicit; at most 32\n"
        "heavy atoms.  Options may be concatenated (-ut0); values go against the letter.\n"
        "\n"
        "Output:\n"
        "  -u        count only, write nothing (the default)\n"
        "  -S        SMILES, one per line       -F   SDfile\n"
        "  -A        alphabetic format          -O#  1 graph6, 2 coloured graphs, 3 numeric\n"
        "  -z        gzip the output            -oFILE  write to FILE instead of stdout\n"
        "  -v        more statistics on stderr  -m#/#  part res of mod disjoint parts\n"
        "  -ZL:N     (for the pipeline) zstd level L, a part every N structures of -S\n"
        "            or -F, in the framed stream of parts.h instead of plain text\n"
        "Restrictions (each # may be a range #:#, #: or :#):\n"
        "  -t# -f# -p# -h#   number of cycles of length 3, 4, 5, 6\n"
        "  -C#       number of chord-free 6-cycles of carbon atoms\n"
        "  -e#       number of bonds between heavy atoms\n"
        "  -d#       most non-hydrogen neighbours of an atom (default 4)\n"
        "  -c#       most neighbours of an atom, hydrogen included (default 4)\n"
        "  -b        no cycles of odd length     -T   no triple bonds\n"
        "  -P        planar molecules only       -R   one molecule per aromatic class\n"
        "  -B#,#...  forbidden substructure sets 1-9 (see the Surge manual)\n"
        "  -EXv -EXYv -EXvc -EXYvc   add element X (symbol Y, valence v, coordination c)\n"
        "  -help, --help   this text; --version\n"
        "\n"
        "stderr: a line describing each formula, then '>Z wrote A -> B -> C in T sec'\n"
        "(\"generated\" with -u; '-> D' after C with -R): A simple graphs, B element\n"
        "assignments, C molecules, D molecules after the aromaticity filter.  Errors are\n"
        "one line starting '>E ' and exit status 1.  With several formulae all are\n"
        "checked first; a bad one gives '>E formula K of N ('F'): reason'.\n");
}

static int parse_num(const char **sp, long *val) { return cs_digits(sp, 9, val) > 0; }

/* #, #:#, #: or :# (also with '-' as the separator) */
static void parse_range(const char **sp, cs_range *r, char letter, const char *arg)
{
    const char *s = *sp;
    long lo = 0, hi = CS_UNBOUNDED;
    int have_lo = parse_num(&s, &lo);
    if (*s == ':' || *s == '-') {
        ++s;
        if (!parse_num(&s, &hi)) hi = CS_UNBOUNDED;
        if (!have_lo && hi == CS_UNBOUNDED)
            cs_die("option -%c needs a number or a range (e.g. -%c1:3) in '%s'", letter, letter, arg);
    } else if (have_lo) {
        hi = lo;
    } else {
        cs_die("option -%c needs a number or a range (e.g. -%c1:3) in '%s'", letter, letter, arg);
    }
    if (lo > hi) cs_die("option -%c: empty range %ld:%ld in '%s'", letter, lo, hi, arg);
    r->on = 1;
    r->lo = lo;
    r->hi = hi;
    *sp = s;
}

static long parse_int(const char **sp, char letter, const char *arg)
{
    long v;
    if (!parse_num(sp, &v)) cs_die("option -%c needs a number (e.g. -%c3) in '%s'", letter, letter, arg);
    return v;
}

static void parse_bsets(const char **sp, unsigned *bsets, const char *arg)
{
    const char *s = *sp;
    for (;;) {
        long k;
        if (!parse_num(&s, &k) || k < 1 || k > 9)
            cs_die("option -B takes a list of numbers 1 to 9 (e.g. -B1,2,5) in '%s'", arg);
        *bsets |= 1u << k;
        if (*s != ',') break;
        ++s;
    }
    *sp = s;
}

static void parse_mod(const char *s, cs_opts *o)
{
    const char *e = s;
    if (!parse_num(&e, &o->res) || *e != '/' || (++e, !parse_num(&e, &o->mod)) || *e != '\0')
        cs_die("bad -m value '%s' (expected res/mod, e.g. -m0/4)", s);
    if (o->mod < 1 || o->mod > 1000000) cs_die("bad -m value '%s': mod must be in 1..1000000", s);
    if (o->res >= o->mod) cs_die("bad -m value '%s': need 0 <= res < mod", s);
}

/* -ZLEVEL:PARTSIZE (the pipeline's own option, see parts.h) */
static void parse_parts(const char **sp, cs_opts *o, const char *arg)
{
    const char *s = *sp;
    long level, size;
    if (cs_digits(&s, 2, &level) <= 0 || *s != ':' || (++s, cs_digits(&s, 18, &size) <= 0))
        cs_die("option -Z needs LEVEL:PARTSIZE (e.g. -Z1:10000000) in '%s'", arg);
    if (level < 1 || level > 22) cs_die("option -Z: level must be 1 to 22 in '%s'", arg);
    if (size < 1) cs_die("option -Z: part size must be at least 1 in '%s'", arg);
    o->zlevel = (int)level;
    o->zpart = size;
    *sp = s;
}

static void parse_args(int argc, char **argv, cs_opts *o, cs_elements *el, const char **formulas,
                       int *nf)
{
    char err[256];
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i];
        if (a[0] != '-') {
            formulas[(*nf)++] = a;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-help") == 0) {
            usage();
            exit(0);
        }
        if (strcmp(a, "--version") == 0) {
            printf("%s\n", VERSION);
            exit(0);
        }
        if (a[1] == '\0' || a[1] == '-') cs_die("unknown option '%s'", a);
        const char *s = a + 1;
        while (*s) {
            char c = *s++;
            switch (c) {
            case 'u': o->count_only = 1; break;
            case 'S': o->format = CS_FMT_SMILES; break;
            case 'F': o->format = CS_FMT_SDF; break;
            case 'A': o->format = CS_FMT_ALPHA; break;
            case 'O': {
                long k = parse_int(&s, 'O', a);
                if (k < 1 || k > 3) cs_die("option -O takes 1, 2 or 3 in '%s'", a);
                o->format = (enum cs_format)(CS_FMT_O1 + (k - 1));
                break;
            }
            case 'z': o->gzip = 1; break;
            case 'v': o->verbose = 1; break;
            case 'T': o->no_triple = 1; break;
            case 'P': o->planar = 1; break;
            case 'b': o->bipartite = 1; break;
            case 'R': o->arom = 1; break;
            case 't': parse_range(&s, &o->cyc[3], c, a); break;
            case 'f': parse_range(&s, &o->cyc[4], c, a); break;
            case 'p': parse_range(&s, &o->cyc[5], c, a); break;
            case 'h': parse_range(&s, &o->cyc[6], c, a); break;
            case 'C': parse_range(&s, &o->c6ring, c, a); break;
            case 'e': parse_range(&s, &o->edges, c, a); break;
            case 'd':
                o->maxd = (int)parse_int(&s, c, a);
                if (o->maxd < 1 || o->maxd > 8) cs_die("option -d takes 1 to 8 in '%s'", a);
                break;
            case 'c':
                o->maxc = (int)parse_int(&s, c, a);
                if (o->maxc < 1 || o->maxc > 8) cs_die("option -c takes 1 to 8 in '%s'", a);
                break;
            case 'B': parse_bsets(&s, &o->bsets, a); break;
            case 'Z': parse_parts(&s, o, a); break;
            case 'E':
                if (cs_elements_add(el, s, err, sizeof(err)) != 0) cs_die("%s", err);
                s = "";
                break;
            case 'm':
                if (*s == '\0') {
                    if (i + 1 >= argc) cs_die("option -m needs res/mod");
                    s = argv[++i];
                }
                parse_mod(s, o);
                s = "";
                break;
            case 'o':
                if (*s == '\0') cs_die("option -o needs a file name attached (-oFILE)");
                o->outname = s;
                s = "";
                break;
            default:
                cs_die("unknown option '-%c' in '%s'", c, a);
            }
        }
    }
}

static double cpu_seconds(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) == 0)
        return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
    return (double)clock() / CLOCKS_PER_SEC;
}

/* Surge's description of a formula: counts, its edge range, DBE */
static void describe(const cs_plan *p, const cs_elements *el, const cs_opts *o)
{
    fprintf(stderr, "%s  H=%d", p->text, p->nH);
    for (int i = 0; i < el->n; ++i) {
        int cnt = 0;
        for (int t = 0; t < p->nt; ++t)
            if (p->t[t].elem == i) cnt = p->t[t].cnt;
        for (int t = 0; t < p->nhal; ++t)
            if (p->hal[t].elem == i) cnt = p->hal[t].cnt;
        if (cnt) fprintf(stderr, " %s=%d", el->e[i].insym, cnt);
    }
    fprintf(stderr, "  nv=%d edges=%d-%d DBE=%d maxd=%d maxc=%d\n", p->natoms, p->emin, p->emax,
            p->dbe, o->maxd, o->maxc);
}

int main(int argc, char **argv)
{
    /* started through Python's os.execv SIGPIPE may be ignored: restore the
     * default so that `cloudsurge-surge -S X | head` ends quietly */
    signal(SIGPIPE, SIG_DFL);
    static cs_opts opt;
    static cs_elements el;
    static cs_run run;
    opt.maxd = 4;
    opt.maxc = 4;
    opt.mod = 1;
    cs_elements_init(&el);
    const char **formulas = malloc((size_t)(argc > 0 ? argc : 1) * sizeof(*formulas));
    if (!formulas) cs_die("out of memory");
    int nf = 0;
    parse_args(argc, argv, &opt, &el, formulas, &nf);
    if (nf == 0) cs_die("missing formula (try --help)");
    if (opt.count_only) opt.format = CS_FMT_NONE; /* -u wins over any format */

    /* every formula is checked before anything is generated or written */
    static cs_plan plan;
    char err[512];
    for (int i = 0; i < nf; ++i) {
        if (cs_plan_formula(&plan, formulas[i], &el, &opt, err, sizeof(err)) != 0) {
            if (nf == 1) cs_die("%s", err);
            cs_die("formula %d of %d ('%s'): %s", i + 1, nf, formulas[i], err);
        }
    }
    run.opt = &opt;
    run.el = &el;
    run.plan = &plan;
    /* -z gzips every output but -O1's graph6 (Surge manual, section 4) */
    int gzip = opt.gzip && opt.format != CS_FMT_O1;
    if (opt.zpart) {
        if (opt.format != CS_FMT_SMILES && opt.format != CS_FMT_SDF)
            cs_die("option -Z needs -S or -F output");
        if (opt.gzip) cs_die("options -Z and -z exclude each other");
        if (cs_out_open_parts(&run.out, opt.outname, opt.zlevel, (uint64_t)opt.zpart) != 0)
            cs_die("can't open %s for writing: %s", opt.outname ? opt.outname : "stdout",
                   strerror(errno));
    } else if (opt.format != CS_FMT_NONE && cs_out_open(&run.out, opt.outname, gzip) != 0)
        cs_die("can't open %s for writing: %s", opt.outname ? opt.outname : "stdout",
               strerror(errno));

    const char *verb = opt.format != CS_FMT_NONE ? "wrote" : "generated";
    const char *tfmt = nf == 1 ? " in %.2f sec\n" : " in %.6f sec\n";
    /* the stderr lines are collected in a stdio buffer (one write per 64 KiB,
     * not one per formula); exit() and cs_die() flush it */
    static char errsbuf[1 << 16];
    setvbuf(stderr, errsbuf, _IOFBF, sizeof(errsbuf));
    double t0 = cpu_seconds();
    for (int i = 0; i < nf; ++i) {
        if (cs_plan_formula(&plan, formulas[i], &el, &opt, err, sizeof(err)) != 0) cs_die("%s", err);
        if (nf == 1 || opt.verbose) describe(&plan, &el, &opt);
        memset(run.count, 0, sizeof(run.count));
        if (plan.possible) cs_run_formula(&run);
        if (run.out.err) cs_die("write error: %s", strerror(run.out.err));
        double t1 = cpu_seconds(), secs = t1 - t0;
        t0 = t1; /* one clock read per formula: its end is the next one's start */
        fprintf(stderr, ">Z %s %llu", verb, run.count[0]);
        if (opt.format != CS_FMT_O1) fprintf(stderr, " -> %llu", run.count[1]);
        if (opt.format != CS_FMT_O1 && opt.format != CS_FMT_O2) fprintf(stderr, " -> %llu", run.count[2]);
        if (opt.arom) fprintf(stderr, " -> %llu", run.count[3]);
        fprintf(stderr, tfmt, secs < 0 ? 0.0 : secs);
        if (opt.verbose)
            fprintf(stderr, "   %s: %llu graphs, %llu colourings, %llu molecules\n", plan.text,
                    run.count[0], run.count[1], run.count[opt.arom ? 3 : 2]);
    }
    if (opt.format != CS_FMT_NONE && cs_out_close(&run.out) != 0)
        cs_die("error writing %s: %s", opt.outname ? opt.outname : "stdout", strerror(errno));
    return 0;
}
