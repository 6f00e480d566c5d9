/* simple.c - stage 1: connected simple graphs from geng.
 *
 * geng.c is compiled into this program with PRUNE=cs_prune,
 * PREPRUNE=cs_preprune and OUTPROC=cs_outproc.  Its callbacks carry no
 * user pointer, so the run they serve is kept in the one static pointer
 * below, set for the duration of cs_run_formula.  Graph-level filters that
 * only grow with the graph (upper bounds on cycles, -B7/-B8/-B9, planarity)
 * prune in cs_prune (-B7/-B9 also in cs_preprune); the others are tested
 * on each finished graph in cs_outproc.
 *
 * Licence: Apache-2.0.
 */
#include <stdio.h>
#include <string.h>

#include <nauty/nauty.h>

#include "surge.h"

#if WORDSIZE != 32
#error "cloudsurge-surge must be built with -DWORDSIZE=32 -DMAXN=WORDSIZE"
#endif

int geng_main(int argc, char *argv[]);
void cs_outproc(FILE *f, graph *g, int n);
int cs_prune(graph *g, int n, int maxn);
int cs_preprune(graph *g, int n, int maxn);

static cs_run *current;
/* what cs_prune tests beyond degrees, worked out once per formula */
static unsigned prune_sets; /* -B7..-B9 left to test (prune_bsets) */
static int prune_graph;     /* some graph-level filter at all */
static unsigned preprune_sets; /* of those, the ones PREPRUNE tests */

/* nauty's set words number bits from the top (bit[j] = 1 << (31 - j)):
 * ours from the bottom, so a row is its word bit-reversed */
static inline u32 reverse_bits(u32 x)
{
    x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
    x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
    x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4);
    return __builtin_bswap32(x);
}

static void to_masks(graph *g, int n, u32 *a)
{
    for (int i = 0; i < n; ++i) a[i] = reverse_bits((u32)g[i]);
}

/* geng's own -t/-f/-b already exclude triangles and/or 4-cycles: the
 * checks these make redundant are skipped (cs_prune) */
static int geng_no_triangles(const cs_opts *o)
{
    return (o->cyc[3].on && o->cyc[3].hi == 0) || o->bipartite;
}

static int geng_no_squares(const cs_opts *o) { return o->cyc[4].on && o->cyc[4].hi == 0; }

/* the graph-level -B sets left to test while geng builds a graph: -B7
 * (K2,4, K3,3) needs a 4-cycle, -B8 (fan, K4) a triangle, -B9 either */
static unsigned prune_bsets(const cs_opts *o)
{
    unsigned b = o->bsets & ((1u << 7) | (1u << 8) | (1u << 9));
    int no3 = geng_no_triangles(o), no4 = geng_no_squares(o);
    if (no4) b &= ~(1u << 7);
    if (no3) b &= ~(1u << 8);
    if (no3 && no4) b &= ~(1u << 9);
    return b;
}

/* Upper bounds that hold for every induced subgraph as well.  geng calls
 * PRUNE on a graph only after its first n-1 vertices passed, so -B7..-B9
 * look only at what goes through the newest vertex (cs_sub_prune_new). */
static int exceeds_upper(const cs_opts *o, unsigned bsets, const u32 *adj, int n)
{
    for (int len = 3; len <= 6; ++len) {
        const cs_range *c = &o->cyc[len];
        if (!c->on || c->hi >= CS_UNBOUNDED || n < len) continue;
        if (c->hi == 0 && ((len == 3 && geng_no_triangles(o)) || (len == 4 && geng_no_squares(o))))
            continue;
        if (cs_count_cycles(adj, n, len) > c->hi) return 1;
    }
    if (bsets && cs_sub_prune_new(bsets, adj, n)) return 1;
    if (o->planar && n >= 5 && !cs_is_planar(adj, n)) return 1;
    return 0;
}

/* too many atoms of degree >= k for the formula's valences */
static inline int degrees_exceed(const cs_plan *p, graph *g, int n)
{
    int c2 = 0, c3 = 0, c4 = 0, c5 = 0, c6 = 0;
    for (int i = 0; i < n; ++i) {
        int d = POPCOUNT(g[i]);
        c2 += d >= 2;
        c3 += d >= 3;
        c4 += d >= 4;
        c5 += d >= 5;
        c6 += d >= 6;
    }
    return c2 > p->atoms_ge[2] || c3 > p->atoms_ge[3] || c4 > p->atoms_ge[4] ||
           c5 > p->atoms_ge[5] || c6 > p->atoms_ge[6];
}

/* geng calls PREPRUNE on every candidate before its canonicity test (nauty,
 * the costly part), PRUNE only on those it accepted.  -B7 and -B9 through
 * the new vertex are cheap enough to be tested before that test: a graph
 * they reject costs no nauty call.  (PRUNE tests them again: cheap, and
 * it does not depend on which of geng's paths called PREPRUNE.) */
int cs_preprune(graph *g, int n, int maxn)
{
    (void)maxn;
    if (!preprune_sets) return 0;
    u32 a[CS_MAXN];
    to_masks(g, n, a);
    return cs_sub_prune_new(preprune_sets, a, n);
}

int cs_prune(graph *g, int n, int maxn)
{
    (void)maxn;
    if (degrees_exceed(current->plan, g, n)) return 1;
    if (!prune_graph) return 0;
    u32 a[CS_MAXN];
    to_masks(g, n, a);
    return exceeds_upper(current->opt, prune_sets, a, n);
}

/* Surge applies no cycle bounds to a lone atom (CH4 passes -p1:2) */
static int below_lower(const cs_opts *o, const u32 *adj, int n)
{
    if (current->plan->natoms == 1) return 0;
    for (int len = 3; len <= 6; ++len) {
        const cs_range *c = &o->cyc[len];
        if (c->on && c->lo > 0 && cs_count_cycles(adj, n, len) < c->lo) return 1;
    }
    return 0;
}

void cs_outproc(FILE *f, graph *g, int n)
{
    (void)f;
    cs_run *r = current;
    cs_graph *gr = &r->g;
    const cs_plan *p = r->plan;
    gr->n = n;
    /* Surge numbers geng's vertices backwards (its SDfile samples show it);
     * doing the same makes our labelled output, and every choice of a
     * representative that depends on labels, Surge's own */
    /* nauty's bit of j is 1 << (31 - j): shifted down it is ours of n-1-j */
    for (int i = 0; i < n; ++i) gr->adj[n - 1 - i] = (u32)g[i] >> (32 - n);
    if (below_lower(r->opt, gr->adj, n)) return;
    ++r->count[0];
    if (r->opt->format == CS_FMT_O1) {
        cs_write_graph6(&r->out, gr->adj, n);
        return;
    }
    gr->ne = 0;
    for (int i = 0; i < n; ++i) {
        gr->deg[i] = __builtin_popcount(gr->adj[i]);
        for (u32 m = gr->adj[i] & ~((((u32)2) << i) - 1); m; m &= m - 1) {
            int j = __builtin_ctz(m);
            gr->eidx[i][j] = gr->eidx[j][i] = (signed char)gr->ne;
            gr->eu[gr->ne] = i;
            gr->ev[gr->ne] = j;
            ++gr->ne;
        }
    }
    gr->extra = p->nbonds - gr->ne;
    if (gr->extra < 0) return;
    for (int k = 0; k < 8; ++k) gr->vge_suf[n][k] = 0;
    gr->maxdeg_suf[n] = 0;
    for (int v = n - 1; v >= 0; --v) {
        for (int k = 0; k < 8; ++k) gr->vge_suf[v][k] = gr->vge_suf[v + 1][k] + (gr->deg[v] >= k);
        gr->maxdeg_suf[v] = gr->deg[v] > gr->maxdeg_suf[v + 1] ? gr->deg[v] : gr->maxdeg_suf[v + 1];
    }
    for (int e = 0; e < gr->ne; ++e) gr->ecap[e] = p->maxx;
    gr->npair = 0;
    if (r->opt->bsets) cs_sub_graph(r->opt->bsets, gr);

    cs_smiles_walk(gr, p->nhal > 0);
    cs_group_compute(&r->grp, gr->adj, n);
    cs_colourings(r);
}

/* geng's command line for the plan: connected graphs on the skeleton's
 * vertices with its degree and edge bounds, and geng's own cheap filters */
void cs_run_formula(cs_run *r)
{
    const cs_plan *p = r->plan;
    const cs_opts *o = r->opt;
    char sD[16], sn[16], se[32], sm[48];
    char *gargv[16];
    int ga = 0;
    gargv[ga++] = "geng";
    gargv[ga++] = "-cq";
    if (o->cyc[3].on && o->cyc[3].hi == 0) gargv[ga++] = "-t";
    if (o->cyc[4].on && o->cyc[4].hi == 0) gargv[ga++] = "-f";
    if (o->bipartite) gargv[ga++] = "-b";
    snprintf(sD, sizeof(sD), "-D%d", p->maxdeg < 1 ? 1 : p->maxdeg);
    gargv[ga++] = sD;
    snprintf(sn, sizeof(sn), "%d", p->n);
    gargv[ga++] = sn;
    snprintf(se, sizeof(se), "%d:%d", p->mine, p->maxe);
    gargv[ga++] = se;
    if (o->mod > 1) {
        snprintf(sm, sizeof(sm), "%ld/%ld", o->res, o->mod);
        gargv[ga++] = sm;
    }
    gargv[ga] = NULL;
    current = r;
    prune_sets = prune_bsets(o);
    preprune_sets = prune_sets & ((1u << 7) | (1u << 9));
    prune_graph = prune_sets || o->planar || o->cyc[3].on || o->cyc[4].on || o->cyc[5].on ||
                  o->cyc[6].on;
    /* geng_main re-initialises all of its own state on every call, so it
     * can be called once per formula */
    geng_main(ga, gargv);
    current = NULL;
}
