/* colour.c - stage 2: element assignments up to the automorphisms of G.
 *
 * Aut(G) is listed element by element (closure of nauty's generators), and a
 * colouring is kept only when it is the lexicographically largest of its
 * orbit (see colouring_is_largest).  Groups above MAXGROUP are refused with a
 * clear error rather than exhausting memory.
 *
 * Licence: Apache-2.0.
 */
#include <stdlib.h>
#include <string.h>

#include <nauty/nauty.h>

#include "surge.h"

#define MAXGROUP 50000000.0

static cs_group *filling; /* nauty's automorphism callback has no user pointer */

static void autom_proc(int count, int *p, int *orbits, int numorbits, int stabvertex, int n)
{
    (void)count;
    (void)orbits;
    (void)numorbits;
    (void)stabvertex;
    if (filling->ngens <= CS_MAXN) memcpy(filling->gens[filling->ngens++], p, (size_t)n * sizeof(int));
}

static size_t perm_hash(const unsigned char *p, int n)
{
    size_t h = 1469598103934665603ULL;
    for (int i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

static void grp_reserve(cs_group *grp, size_t want)
{
    if (want <= grp->cap) return;
    size_t nc = grp->cap ? grp->cap : 64;
    while (nc < want) nc *= 2;
    grp->perm = realloc(grp->perm, nc * CS_MAXN);
    if (!grp->perm) cs_die("out of memory (automorphism group)");
    grp->cap = nc;
}

/* insert element idx into the hash; 1 if new, 0 if present */
static int hash_insert(cs_group *grp, size_t idx, int n)
{
    const unsigned char *p = grp->perm + idx * (size_t)n;
    size_t h = perm_hash(p, n) & (grp->hcap - 1);
    while (grp->htab[h] != (size_t)-1) {
        if (memcmp(grp->perm + grp->htab[h] * (size_t)n, p, (size_t)n) == 0) return 0;
        h = (h + 1) & (grp->hcap - 1);
    }
    grp->htab[h] = idx;
    return 1;
}

void cs_group_compute(cs_group *grp, u32 *adj, int n)
{
    graph g[CS_MAXN];
    int lab[MAXN], ptn[MAXN], orbits[MAXN];
    static DEFAULTOPTIONS_GRAPH(options);
    statsblk stats;

    for (int i = 0; i < n; ++i) {
        setword w = 0;
        for (u32 m = adj[i]; m; m &= m - 1) w |= bit[__builtin_ctz(m)];
        g[i] = w;
    }
    options.userautomproc = autom_proc;
    grp->ngens = 0;
    filling = grp;
    densenauty(g, lab, ptn, orbits, &options, &stats, 1, n, NULL);
    filling = NULL;

    grp_reserve(grp, 1);
    for (int i = 0; i < n; ++i) grp->perm[i] = (unsigned char)i;
    grp->n = 1;
    if (grp->ngens == 0) return;

    double gsize = stats.grpsize1;
    for (int i = 0; i < stats.grpsize2; ++i) gsize *= 10.0;
    if (gsize > MAXGROUP) cs_die("automorphism group too large (%.0f)", gsize);
    size_t want = (size_t)(gsize + 0.5);
    grp_reserve(grp, want + 1);
    size_t hc = 16;
    while (hc < 2 * want) hc *= 2;
    if (hc > grp->hcap) {
        free(grp->htab);
        grp->htab = malloc(hc * sizeof(size_t));
        if (!grp->htab) cs_die("out of memory (automorphism group)");
        grp->hcap = hc;
    }
    memset(grp->htab, 0xff, grp->hcap * sizeof(size_t));
    hash_insert(grp, 0, n);
    for (size_t i = 0; i < grp->n; ++i) {
        for (int s = 0; s < grp->ngens; ++s) {
            if (grp->n >= grp->cap) grp_reserve(grp, grp->n + 1);
            unsigned char *dst = grp->perm + grp->n * (size_t)n;
            const unsigned char *src = grp->perm + i * (size_t)n;
            for (int x = 0; x < n; ++x) dst[x] = (unsigned char)grp->gens[s][src[x]];
            if (hash_insert(grp, grp->n, n)) {
                ++grp->n;
                if (grp->n * 2 > grp->hcap) cs_die("automorphism group larger than reported");
            }
        }
    }
}

/* Of each orbit the colouring Surge writes is kept: the lexicographically
 * largest (colours in element table order), as its SDfile samples show. */
static int colouring_is_largest(const cs_run *r)
{
    int n = r->g.n;
    const int *col = r->s.col;
    const unsigned char *p = r->grp.perm + n;
    for (size_t gi = 1; gi < r->grp.n; ++gi, p += n) {
        for (int i = 0; i < n; ++i) {
            int a = col[p[i]], b = col[i];
            if (a > b) return 0;
            if (a < b) break;
        }
    }
    return 1;
}

/* -C: chord-free 6-cycles made of carbon atoms only */
static int carbon_rings_ok(const cs_run *r)
{
    const cs_range *c = &r->opt->c6ring;
    if (!c->on) return 1;
    u32 carbon = 0;
    for (int v = 0; v < r->g.n; ++v)
        if (r->plan->t[r->s.col[v]].elem == 0) carbon |= (u32)1 << v;
    int k = cs_count_rings6(r->g.adj, r->g.n, carbon);
    return k >= c->lo && k <= c->hi;
}

/* a complete colouring: keep it when it is its orbit's representative and
 * passes -C, then write it (-O2) or give it bond orders */
static void colouring_done(cs_run *r)
{
    const cs_graph *g = &r->g;
    const cs_plan *p = r->plan;
    cs_slots *s = &r->s;
    if (!colouring_is_largest(r)) return;
    if (!carbon_rings_ok(r)) return;
    ++r->count[1];
    if (r->opt->format == CS_FMT_O2) {
        cs_mol *m = &r->mol;
        m->n = g->n;
        m->ne = g->ne;
        for (int i = 0; i < g->n; ++i) m->elem[i] = p->t[s->col[i]].elem;
        for (int e = 0; e < g->ne; ++e) {
            m->eu[e] = g->eu[e];
            m->ev[e] = g->ev[e];
        }
        cs_write_numeric(&r->out, m, 0);
        return;
    }
    cs_bonds(r);
}

static void colrec(cs_run *r, int v)
{
    cs_slots *s = &r->s;
    const cs_graph *g = &r->g;
    const cs_plan *p = r->plan;
    if (v == g->n) {
        colouring_done(r);
        return;
    }
    /* one type left for every remaining vertex (the usual tail: the
     * carbons once the heteroatoms are placed): one way or none, so fill
     * it in at once instead of a level per vertex */
    for (int t = 0; t < p->nt; ++t) {
        if (s->rem[t] != g->n - v) continue;
        int lim = p->t[t].val < r->opt->maxd ? p->t[t].val : r->opt->maxd;
        if (g->maxdeg_suf[v] > lim) return;
        for (int w = v; w < g->n; ++w) s->col[w] = t;
        colouring_done(r);
        return;
    }
    for (int t = 0; t < p->nt; ++t) {
        int val = p->t[t].val;
        if (s->rem[t] == 0 || val < g->deg[v] || r->opt->maxd < g->deg[v]) continue;
        s->col[v] = t;
        --s->rem[t];
        for (int k = 1; k <= val && k < 8; ++k) --s->rge[k];
        if (g->vge_suf[v + 1][2] <= s->rge[2] && g->vge_suf[v + 1][3] <= s->rge[3] &&
            g->vge_suf[v + 1][4] <= s->rge[4] && g->vge_suf[v + 1][5] <= s->rge[5] &&
            g->vge_suf[v + 1][6] <= s->rge[6])
            colrec(r, v + 1);
        for (int k = 1; k <= val && k < 8; ++k) ++s->rge[k];
        ++s->rem[t];
    }
}

void cs_colourings(cs_run *r)
{
    for (int t = 0; t < r->plan->nt; ++t) r->s.rem[t] = r->plan->t[t].cnt;
    for (int k = 0; k < 8; ++k) r->s.rge[k] = r->plan->atoms_ge[k];
    colrec(r, 0);
}
