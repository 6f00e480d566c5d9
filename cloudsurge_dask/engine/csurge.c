/* csurge.c - cloudsurge-surge: chemical structure generator.
 *
 * A drop-in for the subset of the Surge command line that cloudsurge uses.
 * Clean-room implementation of the published Surge scheme (McKay, Yirik,
 * Steinbeck, J Cheminform 2022):
 *   level 1  connected simple graphs from geng, run in this process
 *            (geng.c is compiled with OUTPROC/PRUNE hooks defined here);
 *   level 2  element assignments (vertex colourings), one per orbit of
 *            Aut(G) (the lexicographically smallest one);
 *   level 3  bond multiplicities 1..3, one per orbit of the stabiliser of
 *            the colouring acting on the edges; each kept one is a structure.
 *            Monovalent atoms (F, Cl, Br, I) are not given to geng when
 *            another heavy atom exists: they are placed here, as leaves, in
 *            the same orbit computation (see hal_rec).
 * SMILES are produced from a per-coloured-graph template whose bond symbols
 * are slots, filled in while the multiplicities are enumerated.
 *
 * Licence: Apache-2.0.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nauty/nauty.h>

#include "csurge.h"

#if WORDSIZE != 32
#error "cloudsurge-surge must be built with -DWORDSIZE=32 -DMAXN=WORDSIZE"
#endif

typedef uint32_t u32;

int geng_main(int argc, char *argv[]);
void cs_outproc(FILE *f, graph *g, int n);
int cs_prune(graph *g, int n, int maxn);

#define VERSION "cloudsurge-surge 0.1.0"
#define OUTCAP (1 << 20)
#define MAXGROUP 50000000.0
#define MAXSLOTS (CS_MAXE + CS_MAXN) /* bond slots + halogen slots */

/* ------------------------------------------------------------------ */
/* elements                                                            */

#define NELEM 10
static const char *const ESYM[NELEM] = {"C", "N", "P", "B", "O", "S", "F", "Cl", "Br", "I"};
static const int EVAL[NELEM] = {4, 3, 3, 3, 2, 2, 1, 1, 1, 1};

static int nt;                 /* element types present (colours) */
static const char *tsym[NELEM];
static int tslen[NELEM], tval[NELEM], tcnt[NELEM];
static int natoms, nH, nB;     /* heavy atoms, hydrogens, total bond order */
static int maxx;               /* max extra order per edge: 2, or 1 with -T */
static int atoms_ge[6];        /* atoms with valence >= k */
static int lim_t = -1, lim_f = -1, want_planar = 0;

/* Monovalent atoms (F, Cl, Br, I) are always single-bonded leaves when the
 * formula has any other heavy atom.  They are then left out of the geng
 * graphs (the "skeleton") and placed at level 3 like coloured hydrogens,
 * which keeps geng from enumerating the leaves. */
static int nhal;
static const char *hsym[NELEM];
static int hslen[NELEM], hcnt[NELEM], htot;
static int hcode[NELEM];
static int smiles_out = 0;

static unsigned long long cntA, cntB, cntC;

/* ------------------------------------------------------------------ */
/* errors and output                                                   */

static void die(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fputs(">E ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static int outfd = 1;
static char *outbuf;
static size_t opos;

static void flush_out(void)
{
    size_t done = 0;
    while (done < opos) {
        ssize_t w = write(outfd, outbuf + done, opos - done);
        if (w < 0) {
            if (errno == EINTR) continue;
            die("write error: %s", strerror(errno));
        }
        done += (size_t)w;
    }
    opos = 0;
}

/* ------------------------------------------------------------------ */
/* per-graph state (level 1)                                           */

static int gn, gne;                       /* vertices, edges */
static u32 adjm[CS_MAXN];                 /* bit j set when i~j */
static int deg[CS_MAXN];
static int eidx[CS_MAXN][CS_MAXN];
static int eu[CS_MAXE], ev[CS_MAXE];
static int vge_suf[CS_MAXN + 1][6];       /* vertices >= v with degree >= k */
static int gextra;                        /* nB - edges */

/* automorphism group as explicit list of permutations (n bytes each) */
static unsigned char *grp;
static size_t grpn, grpcap;
static int ngens;
static int gens[CS_MAXN + 1][CS_MAXN];
static size_t *htab;
static size_t hcap;

static void autom_proc(int count, int *p, int *orbits, int numorbits, int stabvertex, int n)
{
    (void)count; (void)orbits; (void)numorbits; (void)stabvertex;
    if (ngens <= CS_MAXN) memcpy(gens[ngens++], p, (size_t)n * sizeof(int));
}

static size_t perm_hash(const unsigned char *p, int n)
{
    size_t h = 1469598103934665603ULL;
    for (int i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

static void grp_reserve(size_t want, int n)
{
    if (want > grpcap) {
        size_t nc = grpcap ? grpcap : 64;
        while (nc < want) nc *= 2;
        (void)n;
        grp = realloc(grp, nc * CS_MAXN);
        if (!grp) die("out of memory (automorphism group)");
        grpcap = nc;
    }
}

/* insert element idx into hash; return 1 if new, 0 if present */
static int hash_insert(size_t idx, int n)
{
    const unsigned char *p = grp + idx * (size_t)n;
    size_t h = perm_hash(p, n) & (hcap - 1);
    while (htab[h] != (size_t)-1) {
        if (memcmp(grp + htab[h] * (size_t)n, p, (size_t)n) == 0) return 0;
        h = (h + 1) & (hcap - 1);
    }
    htab[h] = idx;
    return 1;
}

static void compute_group(graph *g, int n)
{
    int lab[MAXN], ptn[MAXN], orbits[MAXN];
    static DEFAULTOPTIONS_GRAPH(options);
    statsblk stats;

    options.userautomproc = autom_proc;
    ngens = 0;
    densenauty(g, lab, ptn, orbits, &options, &stats, 1, n, NULL);

    grp_reserve(1, n);
    for (int i = 0; i < n; ++i) grp[i] = (unsigned char)i;
    grpn = 1;
    if (ngens == 0) return;

    double gsize = stats.grpsize1;
    for (int i = 0; i < stats.grpsize2; ++i) gsize *= 10.0;
    if (gsize > MAXGROUP) die("automorphism group too large (%.0f)", gsize);
    size_t want = (size_t)(gsize + 0.5);
    grp_reserve(want + 1, n);
    size_t hc = 16;
    while (hc < 2 * want) hc *= 2;
    if (hc > hcap) {
        free(htab);
        htab = malloc(hc * sizeof(size_t));
        if (!htab) die("out of memory (automorphism group)");
        hcap = hc;
    }
    memset(htab, 0xff, hcap * sizeof(size_t));
    hash_insert(0, n);
    for (size_t i = 0; i < grpn; ++i) {
        for (int s = 0; s < ngens; ++s) {
            if (grpn >= grpcap) grp_reserve(grpn + 1, n);
            unsigned char *dst = grp + grpn * (size_t)n;
            const unsigned char *src = grp + i * (size_t)n;
            for (int x = 0; x < n; ++x) dst[x] = (unsigned char)gens[s][src[x]];
            if (hash_insert(grpn, n)) {
                ++grpn;
                if (grpn * 2 > hcap) die("automorphism group larger than reported");
            }
        }
    }
}

/* ------------------------------------------------------------------ */
/* level 3: bond multiplicities and SMILES                             */

static int col[CS_MAXN];
static int capc[CS_MAXN];
static int esmax[CS_MAXE];

static int ns;                                  /* number of slots */
/* slot k: s_type 0 = bond order of edge s_u-s_v (extra 0..s_max),
 *         s_type 1 = halogens on vertex s_u (at most s_max of them) */
static int s_type[MAXSLOTS], s_u[MAXSLOTS], s_v[MAXSLOTS], s_max[MAXSLOTS];
static int s_bsuf[MAXSLOTS + 1], s_hsuf[MAXSLOTS + 1];
static int slotof[CS_MAXE], halslot[CS_MAXN];
static int slot_pos[MAXSLOTS];
static const char *seg_p[MAXSLOTS + 1];
static int seg_l[MAXSLOTS + 1];
static char tpl[4096];
static int tpl_len;
static int xs[MAXSLOTS];
static char sbuf[4096];
static int remh[NELEM], remh_tot;

static unsigned char *stab;     /* distinct non-identity slot permutations */
static size_t nstab, stabcap;

/* template construction (DFS) */
static int t_ord[CS_MAXN], t_par[CS_MAXN], t_nch[CS_MAXN], t_ch[CS_MAXN][4];
static int t_nop[CS_MAXN], t_op[CS_MAXN][4], t_ncl[CS_MAXN], t_cl[CS_MAXN][4];
static int t_cnt;
static int edigit[CS_MAXE];
static unsigned char digit_used[100];

static void dfs1(int v)
{
    t_ord[v] = t_cnt++;
    for (u32 m = adjm[v]; m; m &= m - 1) {
        int w = __builtin_ctz(m);
        if (t_ord[w] < 0) {
            t_par[w] = v;
            t_ch[v][t_nch[v]++] = w;
            dfs1(w);
        } else if (w != t_par[v] && t_ord[w] < t_ord[v]) {
            int e = eidx[v][w];
            t_cl[v][t_ncl[v]++] = e;
            t_op[w][t_nop[w]++] = e;
        }
    }
}

static inline void tpl_put(char c) { tpl[tpl_len++] = c; }

static void tpl_slot(int e)
{
    if (esmax[e] > 0) {
        slot_pos[ns] = tpl_len;
        slotof[e] = ns;
        s_type[ns] = 0;
        s_u[ns] = eu[e];
        s_v[ns] = ev[e];
        s_max[ns] = esmax[e];
        ++ns;
    }
}

static void tpl_halslot(int v)
{
    if (nhal > 0 && capc[v] > 0) {
        slot_pos[ns] = tpl_len;
        halslot[v] = ns;
        s_type[ns] = 1;
        s_u[ns] = v;
        s_v[ns] = v;
        s_max[ns] = capc[v];
        ++ns;
    }
}

static void tpl_digit(int d)
{
    if (d < 10) {
        tpl_put((char)('0' + d));
    } else {
        tpl_put('%');
        tpl_put((char)('0' + d / 10));
        tpl_put((char)('0' + d % 10));
    }
}

static void dfs2(int v)
{
    const char *s = tsym[col[v]];
    for (int i = 0; i < tslen[col[v]]; ++i) tpl_put(s[i]);
    for (int i = 0; i < t_ncl[v]; ++i) tpl_digit(edigit[t_cl[v][i]]);
    for (int i = 0; i < t_nop[v]; ++i) {
        int e = t_op[v][i], d = 1;
        while (digit_used[d]) ++d;
        digit_used[d] = 1;
        edigit[e] = d;
        tpl_slot(e);
        tpl_digit(d);
    }
    for (int i = 0; i < t_ncl[v]; ++i) digit_used[edigit[t_cl[v][i]]] = 0;
    tpl_halslot(v);
    for (int i = 0; i < t_nch[v]; ++i) {
        int w = t_ch[v][i], last = (i == t_nch[v] - 1);
        if (!last) tpl_put('(');
        tpl_slot(eidx[v][w]);
        dfs2(w);
        if (!last) tpl_put(')');
    }
}

static void build_template(void)
{
    int n = gn;
    for (int v = 0; v < n; ++v) {
        t_ord[v] = -1;
        t_par[v] = -1;
        t_nch[v] = t_nop[v] = t_ncl[v] = 0;
    }
    t_cnt = 0;
    ns = 0;
    tpl_len = 0;
    memset(digit_used, 0, sizeof(digit_used));
    dfs1(0);
    dfs2(0);
    tpl_put('\n');
    for (int k = 0; k <= ns; ++k) {
        int a = k == 0 ? 0 : slot_pos[k - 1];
        int b = k == ns ? tpl_len : slot_pos[k];
        seg_p[k] = tpl + a;
        seg_l[k] = b - a;
    }
    s_bsuf[ns] = s_hsuf[ns] = 0;
    for (int k = ns - 1; k >= 0; --k) {
        s_bsuf[k] = s_bsuf[k + 1] + (s_type[k] == 0 ? s_max[k] : 0);
        s_hsuf[k] = s_hsuf[k + 1] + (s_type[k] == 1 ? s_max[k] : 0);
    }
}

static inline int bond_minimal(void)
{
    const unsigned char *p = stab;
    for (size_t i = 0; i < nstab; ++i, p += ns) {
        for (int k = 0; k < ns; ++k) {
            int a = xs[p[k]], b = xs[k];
            if (a < b) return 0;
            if (a > b) break;
        }
    }
    return 1;
}

static void slot_rec(int k, int pos, int r);

/* halogens of slot k: type j onwards; 'used' placed so far, 'code' encodes them */
static void hal_rec(int k, int j, int pos, int r, int used, int code)
{
    int v = s_u[k];
    if (j == nhal) {
        if (remh_tot > s_hsuf[k + 1]) return;
        xs[k] = code;
        capc[v] -= used;
        memcpy(sbuf + pos, seg_p[k + 1], (size_t)seg_l[k + 1]);
        slot_rec(k + 1, pos + seg_l[k + 1], r);
        capc[v] += used;
        return;
    }
    int maxa = capc[v] - used;
    if (remh[j] < maxa) maxa = remh[j];
    const char *sym = hsym[j];
    int sl = hslen[j];
    for (int a = 0; a <= maxa; ++a) {
        remh[j] -= a;
        remh_tot -= a;
        hal_rec(k, j + 1, pos, r, used + a, code + a * hcode[j]);
        remh[j] += a;
        remh_tot += a;
        /* next iteration places one more: append "(X)" */
        sbuf[pos++] = '(';
        memcpy(sbuf + pos, sym, (size_t)sl);
        pos += sl;
        sbuf[pos++] = ')';
    }
}

static void slot_rec(int k, int pos, int r)
{
    if (k == ns) {
        if (r != 0 || remh_tot != 0) return;
        if (nstab && !bond_minimal()) return;
        ++cntC;
        if (smiles_out) {
            if (opos + (size_t)pos > OUTCAP) flush_out();
            memcpy(outbuf + opos, sbuf, (size_t)pos);
            opos += (size_t)pos;
        }
        return;
    }
    if (s_type[k] == 1) {
        hal_rec(k, 0, pos, r, 0, 0);
        return;
    }
    int u = s_u[k], v = s_v[k];
    int hi = s_max[k];
    if (capc[u] < hi) hi = capc[u];
    if (capc[v] < hi) hi = capc[v];
    if (r < hi) hi = r;
    int lo = r - s_bsuf[k + 1];
    if (lo < 0) lo = 0;
    const char *sp = seg_p[k + 1];
    int sl = seg_l[k + 1];
    for (int x = lo; x <= hi; ++x) {
        int p = pos;
        if (x) sbuf[p++] = (x == 1) ? '=' : '#';
        memcpy(sbuf + p, sp, (size_t)sl);
        xs[k] = x;
        capc[u] -= x;
        capc[v] -= x;
        slot_rec(k + 1, p + sl, r - x);
        capc[u] += x;
        capc[v] += x;
    }
}

/* ------------------------------------------------------------------ */
/* level 2: colourings                                                 */

static int rem[NELEM];
static int rge[6];

static void handle_colouring(void)
{
    int n = gn;
    /* keep only the lexicographically smallest colouring of its orbit */
    const unsigned char *p = grp + n;
    for (size_t gi = 1; gi < grpn; ++gi, p += n) {
        for (int i = 0; i < n; ++i) {
            int a = col[p[i]], b = col[i];
            if (a < b) return;
            if (a > b) break;
        }
    }
    ++cntB;

    int r = gextra, tot = 0, capsum = 0;
    for (int v = 0; v < n; ++v) {
        capc[v] = tval[col[v]] - deg[v];
        capsum += capc[v];
    }
    if (capsum < 2 * r + htot) return;
    for (int e = 0; e < gne; ++e) {
        int m = 0;
        if (r > 0) {
            m = maxx;
            if (capc[eu[e]] < m) m = capc[eu[e]];
            if (capc[ev[e]] < m) m = capc[ev[e]];
        }
        esmax[e] = m;
        tot += m;
    }
    if (tot < r) return;

    build_template();

    /* stabiliser of the colouring, acting on the slots */
    nstab = 0;
    if (grpn > 1 && ns > 1) {
        if (stabcap < grpn) {
            stab = realloc(stab, grpn * MAXSLOTS);
            if (!stab) die("out of memory (stabiliser)");
            stabcap = grpn;
        }
        p = grp + n;
        for (size_t gi = 1; gi < grpn; ++gi, p += n) {
            int i;
            for (i = 0; i < n; ++i)
                if (col[p[i]] != col[i]) break;
            if (i < n) continue;
            unsigned char *sp = stab + nstab * (size_t)ns;
            int ident = 1;
            for (int k = 0; k < ns; ++k) {
                int img = s_type[k] ? halslot[p[s_u[k]]] : slotof[eidx[p[s_u[k]]][p[s_v[k]]]];
                sp[k] = (unsigned char)img;
                if (img != k) ident = 0;
            }
            if (ident) continue;
            size_t j;
            for (j = 0; j < nstab; ++j)
                if (memcmp(stab + j * (size_t)ns, sp, (size_t)ns) == 0) break;
            if (j == nstab) ++nstab;
        }
    }

    for (int j = 0; j < nhal; ++j) remh[j] = hcnt[j];
    remh_tot = htot;
    memcpy(sbuf, seg_p[0], (size_t)seg_l[0]);
    slot_rec(0, seg_l[0], r);
}

static void colrec(int v)
{
    if (v == gn) {
        handle_colouring();
        return;
    }
    for (int t = 0; t < nt; ++t) {
        if (rem[t] == 0 || tval[t] < deg[v]) continue;
        col[v] = t;
        --rem[t];
        for (int k = 1; k <= tval[t]; ++k) --rge[k];
        if (vge_suf[v + 1][2] <= rge[2] && vge_suf[v + 1][3] <= rge[3] &&
            vge_suf[v + 1][4] <= rge[4])
            colrec(v + 1);
        for (int k = 1; k <= tval[t]; ++k) ++rge[k];
        ++rem[t];
    }
}

/* ------------------------------------------------------------------ */
/* geng hooks                                                          */

static int count_triangles(graph *g, int n)
{
    int c = 0;
    for (int i = 0; i < n; ++i)
        for (int j = i + 1; j < n; ++j)
            if (g[i] & bit[j]) {
                setword above = BITMASK(j); /* vertices > j */
                c += POPCOUNT(g[i] & g[j] & above);
            }
    return c;
}

static int count_squares(graph *g, int n)
{
    int c = 0;
    for (int i = 0; i < n; ++i)
        for (int k = i + 1; k < n; ++k) {
            int x = POPCOUNT(g[i] & g[k]);
            c += x * (x - 1) / 2;
        }
    return c / 2;
}

static void to_masks(graph *g, int n, u32 *a)
{
    for (int i = 0; i < n; ++i) {
        u32 m = 0;
        setword w = g[i];
        while (w) {
            int j = FIRSTBITNZ(w);
            m |= (u32)1 << j;
            w ^= bit[j];
        }
        a[i] = m;
    }
}

int cs_prune(graph *g, int n, int maxn)
{
    (void)maxn;
    int c2 = 0, c3 = 0, c4 = 0;
    for (int i = 0; i < n; ++i) {
        int d = POPCOUNT(g[i]);
        c2 += d >= 2;
        c3 += d >= 3;
        c4 += d >= 4;
    }
    if (c2 > atoms_ge[2] || c3 > atoms_ge[3] || c4 > atoms_ge[4]) return 1;
    if (lim_t > 0 && count_triangles(g, n) > lim_t) return 1;
    if (lim_f > 0 && count_squares(g, n) > lim_f) return 1;
    if (want_planar && n >= 5) {
        u32 a[CS_MAXN];
        to_masks(g, n, a);
        if (!cs_is_planar(a, n)) return 1;
    }
    return 0;
}

void cs_outproc(FILE *f, graph *g, int n)
{
    (void)f;
    ++cntA;
    gn = n;
    to_masks(g, n, adjm);
    gne = 0;
    for (int i = 0; i < n; ++i) {
        deg[i] = __builtin_popcount(adjm[i]);
        for (u32 m = adjm[i] & ~((((u32)2) << i) - 1); m; m &= m - 1) {
            int j = __builtin_ctz(m);
            eidx[i][j] = eidx[j][i] = gne;
            eu[gne] = i;
            ev[gne] = j;
            ++gne;
        }
    }
    gextra = nB - gne;
    if (gextra < 0) return;
    for (int k = 0; k < 6; ++k) vge_suf[n][k] = 0;
    for (int v = n - 1; v >= 0; --v)
        for (int k = 0; k < 6; ++k) vge_suf[v][k] = vge_suf[v + 1][k] + (deg[v] >= k);

    compute_group(g, n);

    for (int t = 0; t < nt; ++t) rem[t] = tcnt[t];
    for (int k = 0; k < 6; ++k) rge[k] = atoms_ge[k];
    colrec(0);
}

/* ------------------------------------------------------------------ */
/* command line                                                        */

static void usage(void)
{
    printf(
        "Usage: cloudsurge-surge [-S|-u] [-T] [-t#] [-f#] [-P] [-m res/mod] [-oFILE] FORMULA...\n"
        "\n"
        "Generate all connected molecular graphs (constitutional isomers) of FORMULA,\n"
        "e.g. C8H11NO. Elements C4 N3 O2 S2 P3 B3 F1 Cl1 Br1 I1 (lowest valences), H\n"
        "implicit; at most 32 heavy atoms and 4 heavy-atom neighbours per atom.\n"
        "\n"
        "  -S       write one SMILES per line (to stdout, or to FILE with -oFILE)\n"
        "  -u       count only, write no structures. Without -S nothing is written\n"
        "           either (this tool has no SDF output): the default is -u.\n"
        "  -T       no triple bonds\n"
        "  -t#      at most # cycles of length 3 (in the simple graph)\n"
        "  -f#      at most # cycles of length 4 (in the simple graph)\n"
        "  -P       planar graphs only\n"
        "  -m res/mod   (or -mres/mod) write only part res of mod disjoint parts\n"
        "  -oFILE   output file (the file name must be attached to -o)\n"
        "  -h, --help   this text\n"
        "\n"
        "stderr ends with '>Z wrote A -> B -> C in T sec' (\"generated\" with -u):\n"
        "A simple graphs, B element assignments, C structures. Errors are reported\n"
        "as one line starting '>E ' with exit status 1.\n"
        "\n"
        "Batch mode: several FORMULAs (e.g. -S C2H6O C3H8 CH2O) are generated one after\n"
        "the other in this one process; all options apply to each of them (-m res/mod\n"
        "too: part res of mod of every formula). All formulae are checked before\n"
        "anything is generated or written: if one is invalid, a single '>E formula\n"
        "K of N ('F'): reason' line is printed, exit status 1, no output. Otherwise\n"
        "the structures go to the one output (stdout or FILE) in formula order, with\n"
        "no separators, and each formula gets its own '>Z ...' line on stderr, in\n"
        "formula order, with its own counts and its own CPU time T, printed with six\n"
        "decimals (two, as Surge does, when only one formula is given). Duplicate\n"
        "formulae are generated again.\n");
}

static int parse_uint(const char *s, const char **end, long *val)
{
    long v = 0;
    int nd = 0;
    while (isdigit((unsigned char)*s)) {
        if (++nd > 9) return 0;
        v = v * 10 + (*s - '0');
        ++s;
    }
    *end = s;
    *val = v;
    return nd > 0;
}

static void parse_mod(const char *s, long *res, long *mod)
{
    const char *e;
    if (!parse_uint(s, &e, res) || *e != '/' || !parse_uint(e + 1, &e, mod) || *e != '\0')
        die("bad -m value '%s' (expected res/mod, e.g. -m 0/4)", s);
    if (*mod < 1 || *mod > 1000000) die("bad -m value '%s': mod must be in 1..1000000", s);
    if (*res >= *mod) die("bad -m value '%s': need 0 <= res < mod", s);
}

/* error message of the last failed setup_formula() */
static char errbuf[512];

static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
    va_end(ap);
    return -1;
}

static int parse_formula(const char *f)
{
    long cnt[NELEM] = {0}, h = 0, heavy = 0;
    const char *p = f;
    if (*p == '\0') return fail("empty formula");
    while (*p) {
        if (!isupper((unsigned char)*p)) return fail("malformed formula '%s'", f);
        char sym[3] = {p[0], 0, 0};
        int len = 1;
        if (islower((unsigned char)p[1])) {
            sym[1] = p[1];
            len = 2;
        }
        int el = -2;
        if (strcmp(sym, "H") == 0) el = -1;
        for (int i = 0; i < NELEM; ++i)
            if (strcmp(sym, ESYM[i]) == 0) el = i;
        if (el == -2) return fail("unknown element %s in formula '%s'", sym, f);
        p += len;
        long c = 1;
        if (isdigit((unsigned char)*p)) {
            if (!parse_uint(p, &p, &c) || c > 100000)
                return fail("atom count too large in formula '%s'", f);
        }
        if (el == -1) {
            h += c;
            if (h > 1000000) return fail("too many hydrogens in formula '%s'", f);
        } else {
            cnt[el] += c;
            heavy += c;
            if (heavy > 1000000) heavy = 1000000;
        }
    }
    if (heavy == 0) return fail("formula '%s' has no heavy atoms", f);
    if (heavy > CS_MAXN)
        return fail("too many heavy atoms in '%s' (%ld > %d)", f, heavy, CS_MAXN);
    natoms = (int)heavy;
    nH = (int)h;
    nt = 0;
    for (int i = 0; i < NELEM; ++i)
        if (cnt[i] > 0) {
            tsym[nt] = ESYM[i];
            tslen[nt] = (int)strlen(ESYM[i]);
            tval[nt] = EVAL[i];
            tcnt[nt] = (int)cnt[i];
            ++nt;
        }
    return 0;
}

/* geng parameters of one formula */
struct gplan {
    int possible; /* 0: no graph can work, nothing to run (count 0) */
    int n, maxdeg, mine, maxe;
};

static int no_triple = 0;

/* Parse formula f and set every per-formula global (element tables, halogen
 * tables, bond totals, atoms_ge, maxx) from scratch, so that formulae can be
 * processed one after the other in one process.  Returns 0, or -1 with the
 * reason in errbuf. */
static int setup_formula(const char *f, struct gplan *pl)
{
    nhal = 0;
    htot = 0;
    if (parse_formula(f) != 0) return -1;

    long V = 0;
    for (int t = 0; t < nt; ++t) V += (long)tval[t] * tcnt[t];
    if ((V - nH) % 2 != 0)
        return fail("impossible hydrogen count in '%s': valence sum minus H is odd", f);
    int n = natoms;
    int possible = V >= nH;
    nB = possible ? (int)((V - nH) / 2) : 0;
    if (possible && n >= 2 && (nB + 2) / 3 > n * (n - 1) / 2)
        return fail("no structure possible for '%s': too many bonds for %d atoms", f, n);

    /* split off the monovalent atoms when a skeleton atom exists */
    int nmono = 0;
    for (int t = 0; t < nt; ++t)
        if (tval[t] == 1) nmono += tcnt[t];
    if (nmono > 0 && nmono < n) {
        int keep = 0;
        for (int t = 0; t < nt; ++t) {
            if (tval[t] == 1) {
                hsym[nhal] = tsym[t];
                hslen[nhal] = tslen[t];
                hcnt[nhal] = tcnt[t];
                hcode[nhal] = 1 << (3 * nhal);
                ++nhal;
            } else {
                tsym[keep] = tsym[t];
                tslen[keep] = tslen[t];
                tval[keep] = tval[t];
                tcnt[keep] = tcnt[t];
                ++keep;
            }
        }
        nt = keep;
        htot = nmono;
        n -= nmono;
        nB -= nmono;
        if (nB < 0) possible = 0;
    }
    int maxval = 0;
    for (int t = 0; t < nt; ++t)
        if (tval[t] > maxval) maxval = tval[t];

    maxx = no_triple ? 1 : 2;
    for (int k = 0; k < 6; ++k) {
        atoms_ge[k] = 0;
        for (int t = 0; t < nt; ++t)
            if (tval[t] >= k) atoms_ge[k] += tcnt[t];
    }
    int maxdeg = maxval < 4 ? maxval : 4;
    if (maxdeg > n - 1) maxdeg = n - 1;
    int mine = n - 1, maxe;
    int minb = (nB + maxx) / (maxx + 1);
    if (minb > mine) mine = minb;
    maxe = nB;
    if (maxe > n * (n - 1) / 2) maxe = n * (n - 1) / 2;
    if (maxe > n * maxdeg / 2) maxe = n * maxdeg / 2;
    if (n == 1) {
        mine = maxe = 0;
        if (nB != 0) possible = 0;
    } else if (mine > maxe) {
        possible = 0;
    }
    pl->possible = possible;
    pl->n = n;
    pl->maxdeg = maxdeg;
    pl->mine = mine;
    pl->maxe = maxe;
    return 0;
}

/* Run geng (with the hooks above) for the formula last set up.  geng_main
 * re-initialises all of geng's own state on every call (flags, counters,
 * res/mod odometer and split level, level data, which it also frees), so it
 * can be called once per formula. */
static void run_geng(const struct gplan *pl, long res, long mod)
{
    char sD[16], sn[16], se[32], sm[48];
    char *gargv[12];
    int ga = 0;
    gargv[ga++] = "geng";
    gargv[ga++] = "-cq";
    if (lim_t == 0) gargv[ga++] = "-t";
    if (lim_f == 0) gargv[ga++] = "-f";
    snprintf(sD, sizeof(sD), "-D%d", pl->maxdeg < 1 ? 1 : pl->maxdeg);
    gargv[ga++] = sD;
    snprintf(sn, sizeof(sn), "%d", pl->n);
    gargv[ga++] = sn;
    snprintf(se, sizeof(se), "%d:%d", pl->mine, pl->maxe);
    gargv[ga++] = se;
    if (mod > 1) {
        snprintf(sm, sizeof(sm), "%ld/%ld", res, mod);
        gargv[ga++] = sm;
    }
    gargv[ga] = NULL;
    geng_main(ga, gargv);
}

static double cpu_seconds(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) == 0)
        return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
    return (double)clock() / CLOCKS_PER_SEC;
}

int main(int argc, char **argv)
{
    /* launched via Python's os.execv SIGPIPE may be ignored: restore the default
     * so that `cloudsurge-surge -S X | head` ends quietly, as Surge does */
    signal(SIGPIPE, SIG_DFL);
    const char *outname = NULL;
    long res = 0, mod = 1;
    int count_only = 0;
    const char **formulas = malloc((size_t)(argc > 0 ? argc : 1) * sizeof(*formulas));
    int nf = 0;
    if (!formulas) die("out of memory");

    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i];
        if (a[0] != '-') {
            formulas[nf++] = a;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage();
            return 0;
        }
        if (strcmp(a, "--version") == 0) {
            printf("%s\n", VERSION);
            return 0;
        }
        if (a[1] == '\0' || a[1] == '-') die("unknown option '%s'", a);
        const char *s = a + 1;
        while (*s) {
            char c = *s++;
            long v;
            switch (c) {
            case 'S': smiles_out = 1; break;
            case 'u': count_only = 1; break;
            case 'T': no_triple = 1; break;
            case 'P': want_planar = 1; break;
            case 't':
            case 'f':
                if (!parse_uint(s, &s, &v) || v > 100000)
                    die("option -%c needs a number (e.g. -%c0) in '%s'", c, c, a);
                if (c == 't') lim_t = (int)v; else lim_f = (int)v;
                break;
            case 'm':
                if (*s == '\0') {
                    if (i + 1 >= argc) die("option -m needs res/mod");
                    s = argv[++i];
                }
                parse_mod(s, &res, &mod);
                s = "";
                break;
            case 'o':
                if (*s == '\0') die("option -o needs a file name attached (-oFILE)");
                outname = s;
                s = "";
                break;
            default:
                die("unknown option '-%c' in '%s'", c, a);
            }
        }
    }
    if (nf == 0) die("missing formula (try --help)");
    if (count_only) smiles_out = 0;

    /* validate every formula before anything is generated or written */
    struct gplan plan;
    for (int i = 0; i < nf; ++i) {
        if (setup_formula(formulas[i], &plan) != 0) {
            if (nf == 1) die("%s", errbuf);
            die("formula %d of %d ('%s'): %s", i + 1, nf, formulas[i], errbuf);
        }
    }

    if (smiles_out) {
        if (outname) {
            outfd = open(outname, O_WRONLY | O_CREAT | O_TRUNC, 0666);
            if (outfd < 0) die("can't open %s for writing: %s", outname, strerror(errno));
        }
        outbuf = malloc(OUTCAP + 4096);
        if (!outbuf) die("out of memory");
    }

    const char *verb = smiles_out ? "wrote" : "generated";
    const char *zfmt = nf == 1 ? ">Z %s %llu -> %llu -> %llu in %.2f sec\n"
                               : ">Z %s %llu -> %llu -> %llu in %.6f sec\n";
    /* the '>Z' lines are collected in a stdio buffer (one write per 64 KiB,
     * not one per formula); exit() and die() flush it */
    static char errsbuf[1 << 16];
    setvbuf(stderr, errsbuf, _IOFBF, sizeof(errsbuf));
    double t0 = cpu_seconds();
    for (int i = 0; i < nf; ++i) {
        if (setup_formula(formulas[i], &plan) != 0) die("%s", errbuf); /* validated above */
        cntA = cntB = cntC = 0;
        if (plan.possible) run_geng(&plan, res, mod);
        double t1 = cpu_seconds(), secs = t1 - t0;
        t0 = t1; /* one clock read per formula: its end is the next one's start */
        fprintf(stderr, zfmt, verb, cntA, cntB, cntC, secs < 0 ? 0.0 : secs);
    }

    if (smiles_out) {
        flush_out();
        if (outname && close(outfd) != 0) die("error closing %s: %s", outname, strerror(errno));
    }
    return 0;
}
