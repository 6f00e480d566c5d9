/* substruct.c - the forbidden substructure sets -B1 to -B9.
 *
 * Sets that depend on the simple graph alone (-B7, -B8, -B9) only grow with
 * the graph, so they prune geng's search (cs_sub_prune; cs_sub_prune_new
 * when the graph without its last vertex is known to pass, as in geng's
 * search: only what goes through that vertex is looked at).  The others restrict
 * bond orders: per graph they become caps on the extra order of edges
 * (-B1..-B4) and pairs of edges at a vertex that may not both be multiple
 * (-B5, -B6), tested once the structure is complete (bonds.c).
 * Definitions: Surge 2.0 manual, section 8; SEMANTICS.md says how each was
 * checked against Surge's counts.
 *
 * Licence: Apache-2.0.
 */
#include <string.h>

#include "surge.h"

#define MAXRINGS 1024
#define B(k) (1u << (k))

typedef struct rings {
    int n;
    int len[MAXRINGS];
    int e[MAXRINGS][CS_MAXN];
    u32 vset[MAXRINGS];
    u32 eset_lo[MAXRINGS], eset_hi[MAXRINGS], eset_x[MAXRINGS]; /* edges 0-95 as bits */
} rings;

static void eset_add(rings *R, int i, int e)
{
    if (e < 32)
        R->eset_lo[i] |= (u32)1 << e;
    else if (e < 64)
        R->eset_hi[i] |= (u32)1 << (e - 32);
    else
        R->eset_x[i] |= (u32)1 << (e - 64);
}

static int eset_has(const rings *R, int i, int e)
{
    if (e < 32) return (R->eset_lo[i] >> e) & 1;
    if (e < 64) return (R->eset_hi[i] >> (e - 32)) & 1;
    return (R->eset_x[i] >> (e - 64)) & 1;
}

static int shared_edges(const rings *R, int i, int j)
{
    return __builtin_popcount(R->eset_lo[i] & R->eset_lo[j]) +
           __builtin_popcount(R->eset_hi[i] & R->eset_hi[j]) +
           __builtin_popcount(R->eset_x[i] & R->eset_x[j]);
}

/* chord-free cycles of length 3..maxlen */
static void find_rings(const cs_graph *g, int maxlen, rings *R)
{
    static int lens[MAXRINGS], edges[MAXRINGS][CS_MAXN];
    int total;
    int k = cs_find_rings(g->adj, g->n, maxlen, (const signed char(*)[CS_MAXN])g->eidx, MAXRINGS,
                          lens, edges, &total);
    if (total > k) cs_die("more than %d rings of length <= %d: -B sets not applicable", MAXRINGS, maxlen);
    R->n = k;
    for (int i = 0; i < k; ++i) {
        int len = lens[i];
        u32 vs = 0;
        R->len[i] = len;
        R->eset_lo[i] = R->eset_hi[i] = R->eset_x[i] = 0;
        for (int q = 0; q < len; ++q) {
            int e = edges[i][q];
            vs |= CS_BIT(g->eu[e]) | CS_BIT(g->ev[e]);
            R->e[i][q] = e;
            eset_add(R, i, e);
        }
        R->vset[i] = vs;
    }
}

static void cap(cs_graph *g, int e, int m)
{
    if (g->ecap[e] > m) g->ecap[e] = m;
}

/* edges of ring i (or j) that share exactly one atom with edge e */
static void cap_touching(cs_graph *g, const rings *R, int i, int e, int m)
{
    u32 ends = ((u32)1 << g->eu[e]) | ((u32)1 << g->ev[e]);
    for (int q = 0; q < R->len[i]; ++q) {
        int f = R->e[i][q];
        u32 fe = ((u32)1 << g->eu[f]) | ((u32)1 << g->ev[f]);
        if (__builtin_popcount(fe & ends) == 1) cap(g, f, m);
    }
}

static int pair_is(int r, int s, int a, int b) { return (r == a && s == b) || (r == b && s == a); }

static void fused(cs_graph *g, unsigned bsets, const rings *R)
{
    for (int i = 0; i < R->n; ++i)
        for (int j = i + 1; j < R->n; ++j) {
            int sh = shared_edges(R, i, j), r = R->len[i], s = R->len[j];
            if (sh == 1 && (bsets & B(2))) {
                int both = pair_is(r, s, 3, 3) || pair_is(r, s, 3, 4) || pair_is(r, s, 3, 5);
                int fonly = pair_is(r, s, 3, 6) || pair_is(r, s, 4, 4) || pair_is(r, s, 4, 5);
                if (!both && !fonly) continue;
                for (int q = 0; q < r; ++q) {
                    int e = R->e[i][q];
                    if (!eset_has(R, j, e)) continue;
                    if (both) cap(g, e, 0);
                    cap_touching(g, R, i, e, 0);
                    cap_touching(g, R, j, e, 0);
                }
            } else if (sh == 2 && (bsets & B(3))) {
                if (!(pair_is(r, s, 4, 4) || pair_is(r, s, 4, 5) || pair_is(r, s, 4, 6) ||
                      pair_is(r, s, 5, 5) || pair_is(r, s, 5, 6)))
                    continue;
                for (int q = 0; q < r; ++q) {
                    int e = R->e[i][q];
                    if (!eset_has(R, j, e)) continue;
                    cap(g, e, 0);
                    cap_touching(g, R, i, e, 0);
                    cap_touching(g, R, j, e, 0);
                }
            } else if (sh == 3 && r == 6 && s == 6 && (bsets & B(4))) {
                /* the shared path a-b-c-d: its end bonds a-b and c-d are
                 * single too (every ring bond at a and d; Surge 2.0's
                 * counts, see SEMANTICS.md) */
                int at[CS_MAXN] = {0};
                for (int q = 0; q < 6; ++q) {
                    int f = R->e[i][q];
                    if (eset_has(R, j, f)) ++at[g->eu[f]], ++at[g->ev[f]];
                }
                for (int q = 0; q < 6; ++q) {
                    int f = R->e[i][q];
                    if (eset_has(R, j, f) && (at[g->eu[f]] == 1 || at[g->ev[f]] == 1)) cap(g, f, 0);
                }
                /* the bonds leaving the path at a and d */
                for (int q = 0; q < 6; ++q) {
                    int f = R->e[i][q];
                    int in = __builtin_popcount((((u32)1 << g->eu[f]) | ((u32)1 << g->ev[f])) & R->vset[j]);
                    if (in == 1) cap(g, f, 0);
                    f = R->e[j][q];
                    in = __builtin_popcount((((u32)1 << g->eu[f]) | ((u32)1 << g->ev[f])) & R->vset[i]);
                    if (in == 1) cap(g, f, 0);
                }
            }
        }
}

static void add_pair(cs_graph *g, int v, int dbl)
{
    u32 m = g->adj[v];
    int a = g->eidx[v][__builtin_ctz(m)];
    m &= m - 1;
    int b = g->eidx[v][__builtin_ctz(m)];
    int k = g->npair++;
    g->pv[k] = v;
    g->pa[k] = a;
    g->pb[k] = b;
    g->pdouble[k] = dbl;
}

/* Is some vertex of target within 'steps' edges of the set start, on a path
 * that never enters banned?  (Breadth first, a frontier mask per step.) */
static int reaches(const u32 *adj, u32 start, u32 target, u32 banned, int steps)
{
    u32 seen = start, frontier = start;
    if (start & target) return 1;
    for (int k = 0; k < steps && frontier; ++k) {
        u32 next = 0;
        for (u32 m = frontier; m; m &= m - 1) next |= adj[__builtin_ctz(m)];
        next &= ~seen & ~banned;
        if (next & target) return 1;
        seen |= next;
        frontier = next;
    }
    return 0;
}

/* Edge u-v lies on a cycle of length <= len iff v is reached from u's other
 * neighbours in <= len - 2 steps without passing through u.  (A cycle with a
 * chord splits into two shorter ones and each of its edges is on one of
 * them, so "cycle" and "ring" agree here.) */
static int edge_on_short_cycle(const cs_graph *g, int u, int v, int len)
{
    return reaches(g->adj, g->adj[u] & ~CS_BIT(v), CS_BIT(v), CS_BIT(u), len - 2);
}

/* Vertex v of degree 2 (neighbours a, b) lies on a cycle of length <= len
 * iff b is reached from a in <= len - 2 steps without passing through v. */
static int vertex2_on_short_cycle(const cs_graph *g, int v, int len)
{
    u32 m = g->adj[v];
    int a = __builtin_ctz(m);
    m &= m - 1;
    return reaches(g->adj, CS_BIT(a), m, CS_BIT(v), len - 2);
}

/* the 2-core: what is left after leaves are stripped again and again; every
 * cycle lies in it */
static u32 two_core(const cs_graph *g)
{
    u32 core = g->n >= 32 ? ~(u32)0 : CS_BIT(g->n) - 1;
    for (;;) {
        u32 drop = 0;
        for (u32 m = core; m; m &= m - 1) {
            int v = __builtin_ctz(m);
            if (__builtin_popcount(g->adj[v] & core) <= 1) drop |= CS_BIT(v);
        }
        if (!drop) return core;
        core &= ~drop;
    }
}

void cs_sub_graph(unsigned bsets, cs_graph *g)
{
    /* rings are listed only for the pairs of fused rings (-B2..-B4, rings of
     * at most 6 atoms); "on a short cycle" (-B1, -B6) is a breadth-first
     * search, far cheaper than listing rings of 7 or 8 atoms, and only for
     * the 2-core's atoms and bonds */
    u32 core = (bsets & (B(1) | B(6))) ? two_core(g) : 0;
    static rings R;
    R.n = 0;
    if (bsets & (B(2) | B(3) | B(4))) find_rings(g, 6, &R);
    if (bsets & B(1)) {
        unsigned char on[CS_MAXE] = {0}; /* on a listed ring: no search needed */
        for (int i = 0; i < R.n; ++i)
            for (int q = 0; q < R.len[i]; ++q) on[R.e[i][q]] = 1;
        for (int e = 0; e < g->ne; ++e) {
            int u = g->eu[e], v = g->ev[e];
            if (on[e] || ((core >> u & 1) && (core >> v & 1) && edge_on_short_cycle(g, u, v, 7)))
                cap(g, e, 1);
        }
    }
    if (bsets & (B(2) | B(3) | B(4))) fused(g, bsets, &R);
    for (int v = 0; v < g->n; ++v) {
        if (g->deg[v] != 2) continue;
        if (bsets & B(5))
            add_pair(g, v, 0);
        else if ((bsets & B(6)) && (core >> v & 1) && vertex2_on_short_cycle(g, v, 8))
            add_pair(g, v, 1);
    }
}

/* K(2,4) or K(3,3) */
static int b7(const u32 *adj, int n)
{
    for (int i = 0; i < n; ++i)
        for (int j = i + 1; j < n; ++j) {
            u32 c = adj[i] & adj[j];
            int k = __builtin_popcount(c);
            if (k >= 4) return 1;
            if (k < 3) continue;
            for (int l = j + 1; l < n; ++l)
                if (__builtin_popcount(c & adj[l]) >= 3) return 1;
        }
    return 0;
}

/* a 5-cycle with one atom bonded to the other four (a fan), or K4 sharing
 * one bond with a 4-cycle */
/* the hub of a fan: a path a-b-c-d of four distinct neighbours of v */
static int fan_hub(const u32 *adj, int v)
{
    u32 nb = adj[v];
    if (__builtin_popcount(nb) < 4) return 0;
    for (u32 ma = nb; ma; ma &= ma - 1) {
        int a = __builtin_ctz(ma);
        for (u32 mb = adj[a] & nb; mb; mb &= mb - 1) {
            int b = __builtin_ctz(mb);
            for (u32 mc = adj[b] & nb & ~((u32)1 << a); mc; mc &= mc - 1) {
                int c = __builtin_ctz(mc);
                if (adj[c] & nb & ~((u32)1 << a) & ~((u32)1 << b)) return 1;
            }
        }
    }
    return 0;
}

/* hubs: the vertices that may be a fan's hub; near: a K4 must have a vertex
 * in it (all vertices for the whole graph) */
static int b8_among(const u32 *adj, int n, u32 hubs, u32 near)
{
    for (u32 m = hubs; m; m &= m - 1)
        if (fan_hub(adj, __builtin_ctz(m))) return 1;
    for (int a = 0; a < n; ++a)
        for (u32 mb = adj[a] & ~(((u32)2 << a) - 1); mb; mb &= mb - 1) {
            int b = __builtin_ctz(mb);
            u32 common = adj[a] & adj[b];
            /* K4 = a, b and two adjacent common neighbours c, d */
            for (u32 mc = common; mc; mc &= mc - 1) {
                int c = __builtin_ctz(mc);
                u32 k4 = ((u32)1 << a) | ((u32)1 << b) | ((u32)1 << c) | (adj[c] & common);
                for (u32 md = adj[c] & common & ~(((u32)2 << c) - 1); md; md &= md - 1) {
                    int d = __builtin_ctz(md);
                    k4 = ((u32)1 << a) | ((u32)1 << b) | ((u32)1 << c) | ((u32)1 << d);
                    if (!(k4 & near)) continue;
                    /* a 4-cycle through one K4 edge x-y: x-y-p-q, p, q outside */
                    int qv[4] = {a, b, c, d};
                    for (int i = 0; i < 4; ++i)
                        for (int j = 0; j < 4; ++j) {
                            if (i == j) continue;
                            int x = qv[i], y = qv[j];
                            for (u32 mp = adj[y] & ~k4; mp; mp &= mp - 1) {
                                int p = __builtin_ctz(mp);
                                if (adj[p] & adj[x] & ~k4 & ~((u32)1 << p)) return 1;
                            }
                        }
                }
            }
        }
    return 0;
}

static int b8(const u32 *adj, int n)
{
    u32 all = n >= 32 ? ~(u32)0 : CS_BIT(n) - 1;
    return b8_among(adj, n, all, all);
}

/* every atom (of 'among') on at most one cycle of length 3 or 4 */
static int b9_among(const u32 *adj, u32 among)
{
    for (u32 mv = among; mv; mv &= mv - 1) {
        int v = __builtin_ctz(mv);
        int c = 0;
        u32 nb = adj[v], nn = 0;
        for (u32 m = nb; m; m &= m - 1) {
            int a = __builtin_ctz(m);
            c += __builtin_popcount(adj[a] & nb & ~(((u32)2 << a) - 1)); /* triangles v-a-b */
            nn |= adj[a];
        }
        /* squares v-a-x-b: x is a neighbour of a neighbour */
        for (u32 m = nn & ~CS_BIT(v); m && c <= 1; m &= m - 1) {
            int k = __builtin_popcount(adj[__builtin_ctz(m)] & nb);
            c += k * (k - 1) / 2;
        }
        if (c > 1) return 1;
    }
    return 0;
}

static int b9(const u32 *adj, int n) { return b9_among(adj, n >= 32 ? ~(u32)0 : CS_BIT(n) - 1); }

int cs_sub_prune(unsigned bsets, const u32 *adj, int n)
{
    if ((bsets & B(7)) && n >= 5 && b7(adj, n)) return 1;
    if ((bsets & B(8)) && n >= 5 && b8(adj, n)) return 1;
    if ((bsets & B(9)) && n >= 4 && b9(adj, n)) return 1;
    return 0;
}

/* -B7 through w = n-1: w on the side of two or three atoms (with any
 * others), or on the side of their common neighbours (then those two or
 * three atoms are neighbours of w) */
static int b7_new(const u32 *adj, int n)
{
    int w = n - 1;
    u32 W = adj[w];
    for (int j = 0; j < w; ++j) {
        u32 c = W & adj[j];
        int k = __builtin_popcount(c);
        if (k >= 4) return 1;
        if (k < 3) continue;
        for (int l = j + 1; l < w; ++l)
            if (__builtin_popcount(c & adj[l]) >= 3) return 1;
    }
    for (u32 mi = W; mi; mi &= mi - 1) {
        int i = __builtin_ctz(mi);
        for (u32 mj = W & ~((CS_BIT(i) << 1) - 1); mj; mj &= mj - 1) {
            int j = __builtin_ctz(mj);
            u32 c = adj[i] & adj[j];
            int k = __builtin_popcount(c);
            if (k >= 4) return 1;
            if (k < 3) continue;
            for (u32 ml = W & ~((CS_BIT(j) << 1) - 1); ml; ml &= ml - 1)
                if (__builtin_popcount(c & adj[__builtin_ctz(ml)]) >= 3) return 1;
        }
    }
    return 0;
}

/* -B9 through w: only atoms on a 3- or 4-cycle through w have more cycles
 * than before.  None: nothing changed (the usual case); two or more: w
 * itself fails; one: its other atoms are counted again. */
static int b9_new(const u32 *adj, int w)
{
    u32 W = adj[w], on = 0, nn = 0;
    int cnt = 0;
    for (u32 m = W; m; m &= m - 1) {
        int a = __builtin_ctz(m);
        u32 tri = adj[a] & W & ~((CS_BIT(a) << 1) - 1); /* triangles w-a-b */
        cnt += __builtin_popcount(tri);
        if (tri) on |= CS_BIT(a) | tri;
        nn |= adj[a];
    }
    for (u32 m = nn & ~CS_BIT(w); m; m &= m - 1) { /* squares w-a-x-b */
        int x = __builtin_ctz(m);
        u32 ab = adj[x] & W;
        int k = __builtin_popcount(ab);
        if (k < 2) continue;
        cnt += k * (k - 1) / 2;
        on |= CS_BIT(x) | ab;
    }
    if (cnt == 0) return 0;
    if (cnt > 1) return 1;
    return b9_among(adj, on);
}

int cs_sub_prune_new(unsigned bsets, const u32 *adj, int n)
{
    if (n < 1) return 0;
    int w = n - 1;
    u32 near = adj[w] | CS_BIT(w); /* w and its neighbours */
    if ((bsets & B(7)) && n >= 5 && b7_new(adj, n)) return 1;
    /* a fan through w has w or a neighbour of w as hub; a K4 with a 4-cycle
     * through w has a vertex in near (w is in the K4 or next to it) */
    if ((bsets & B(8)) && n >= 5 && b8_among(adj, n, near, near)) return 1;
    if ((bsets & B(9)) && n >= 4 && b9_new(adj, w)) return 1;
    return 0;
}
