/* planar.c - small planarity test for graphs with at most 32 vertices.
 *
 * A graph is planar iff each of its biconnected blocks is.  Blocks are found
 * with Tarjan's algorithm; each block with 5 or more vertices is tested with
 * the path-embedding algorithm of Demoucron, Malgrange and Pertuiset (1964).
 * Graphs here are tiny (n <= 32), so the quadratic algorithm is plenty.
 */
#include <string.h>

#include "surge.h"

typedef uint32_t u32;

#define BIT(i) ((u32)1 << (i))
#define LOWBIT(m) (__builtin_ctz(m))
#define POP(m) (__builtin_popcount(m))

#define MAXFACES 96

typedef struct {
    int len;
    u32 mask;
    signed char v[CS_MAXN];
} face_t;

/* DMP on the 2-connected subgraph induced by vertex set vs. */
static int dmp(const u32 *adj0, u32 vs)
{
    u32 adj[CS_MAXN];
    int nv = POP(vs), ne = 0;
    for (int i = 0; i < CS_MAXN; ++i) {
        adj[i] = (vs & BIT(i)) ? (adj0[i] & vs) : 0;
        ne += POP(adj[i]);
    }
    ne /= 2;
    if (nv <= 4) return 1;
    if (ne > 3 * nv - 6) return 0;

    /* find a cycle by DFS from the lowest vertex */
    int parent[CS_MAXN], depth[CS_MAXN], stack[CS_MAXN], it[CS_MAXN];
    for (int i = 0; i < CS_MAXN; ++i) depth[i] = -1;
    int r = LOWBIT(vs), sp = 0, cu = -1, cw = -1;
    stack[sp++] = r;
    depth[r] = 0;
    parent[r] = -1;
    it[r] = 0;
    while (sp > 0 && cu < 0) {
        int v = stack[sp - 1];
        u32 rest = adj[v] & ~((it[v] >= 32) ? 0xFFFFFFFFu : (BIT(it[v]) - 1));
        if (rest == 0) {
            --sp;
            continue;
        }
        int w = LOWBIT(rest);
        it[v] = w + 1;
        if (w == parent[v]) continue;
        if (depth[w] >= 0) {
            if (depth[w] < depth[v]) {
                cu = v;
                cw = w;
            }
            continue;
        }
        depth[w] = depth[v] + 1;
        parent[w] = v;
        it[w] = 0;
        stack[sp++] = w;
    }
    if (cu < 0) return 1; /* a tree: cannot happen for a block >= 3 vertices */

    static face_t faces[MAXFACES];
    int nf = 2;
    u32 hv = 0, hadj[CS_MAXN];
    memset(hadj, 0, sizeof(hadj));
    int he = 0;
    faces[0].len = 0;
    faces[0].mask = 0;
    for (int v = cu;; v = parent[v]) {
        faces[0].v[faces[0].len++] = (signed char)v;
        faces[0].mask |= BIT(v);
        if (v == cw) break;
    }
    faces[1] = faces[0];
    hv = faces[0].mask;
    for (int i = 0; i < faces[0].len; ++i) {
        int a = faces[0].v[i], b = faces[0].v[(i + 1) % faces[0].len];
        hadj[a] |= BIT(b);
        hadj[b] |= BIT(a);
        ++he;
    }

    while (he < ne) {
        /* enumerate fragments; choose one with fewest admissible faces */
        int best_att = -1, best_face = -1, best_cnt = 1 << 30;
        u32 best_attmask = 0, best_comp = 0;
        int best_a = -1, best_b = -1; /* for edge fragments */
        /* type a: single non-embedded edges between embedded vertices */
        for (u32 m = hv; m && best_cnt > 1; m &= m - 1) {
            int u = LOWBIT(m);
            u32 nb = adj[u] & hv & ~hadj[u] & ((u >= 31) ? 0u : (~0u << (u + 1)));
            for (; nb; nb &= nb - 1) {
                int w = LOWBIT(nb);
                u32 att = BIT(u) | BIT(w);
                int cnt = 0, first = -1;
                for (int f = 0; f < nf; ++f)
                    if ((faces[f].mask & att) == att) {
                        if (first < 0) first = f;
                        ++cnt;
                    }
                if (cnt == 0) return 0;
                if (cnt < best_cnt) {
                    best_cnt = cnt;
                    best_face = first;
                    best_att = 0;
                    best_a = u;
                    best_b = w;
                    best_attmask = att;
                }
                if (best_cnt == 1) break;
            }
        }
        /* type b: components of the non-embedded vertices */
        u32 left = vs & ~hv;
        while (left && best_cnt > 1) {
            u32 comp = BIT(LOWBIT(left)), frontier = comp;
            while (frontier) {
                u32 nxt = 0;
                for (u32 m = frontier; m; m &= m - 1) nxt |= adj[LOWBIT(m)];
                nxt &= left & ~comp;
                comp |= nxt;
                frontier = nxt;
            }
            left &= ~comp;
            u32 att = 0;
            for (u32 m = comp; m; m &= m - 1) att |= adj[LOWBIT(m)] & hv;
            int cnt = 0, first = -1;
            for (int f = 0; f < nf; ++f)
                if ((faces[f].mask & att) == att) {
                    if (first < 0) first = f;
                    ++cnt;
                }
            if (cnt == 0) return 0;
            if (cnt < best_cnt) {
                best_cnt = cnt;
                best_face = first;
                best_att = 1;
                best_attmask = att;
                best_comp = comp;
            }
        }
        if (best_att < 0) return 1; /* nothing left (should not happen) */

        /* build the path a1, interior..., a2 */
        int path[CS_MAXN + 2], plen = 0;
        if (best_att == 0) {
            path[plen++] = best_a;
            path[plen++] = best_b;
        } else {
            int a1 = LOWBIT(best_attmask);
            u32 other = best_attmask & ~BIT(a1);
            int c = LOWBIT(adj[a1] & best_comp);
            int par[CS_MAXN], queue[CS_MAXN], qh = 0, qt = 0, x = -1;
            u32 seen = BIT(c);
            par[c] = -1;
            queue[qt++] = c;
            while (qh < qt) {
                int y = queue[qh++];
                if (adj[y] & other) {
                    x = y;
                    break;
                }
                for (u32 m = adj[y] & best_comp & ~seen; m; m &= m - 1) {
                    int z = LOWBIT(m);
                    seen |= BIT(z);
                    par[z] = y;
                    queue[qt++] = z;
                }
            }
            if (x < 0) return 0; /* not 2-connected: cannot happen */
            int a2 = LOWBIT(adj[x] & other);
            int tmp[CS_MAXN], tl = 0;
            for (int y = x; y >= 0; y = par[y]) tmp[tl++] = y;
            path[plen++] = a1;
            for (int k = tl - 1; k >= 0; --k) path[plen++] = tmp[k];
            path[plen++] = a2;
        }

        /* split face best_face along the path */
        face_t *F = &faces[best_face];
        int a1 = path[0], a2 = path[plen - 1], i = -1, j = -1;
        for (int k = 0; k < F->len; ++k) {
            if (F->v[k] == a1) i = k;
            if (F->v[k] == a2) j = k;
        }
        if (nf >= MAXFACES) return 0;
        face_t f1, f2;
        f1.len = 0;
        f1.mask = 0;
        f2.len = 0;
        f2.mask = 0;
        for (int k = i;; k = (k + 1) % F->len) {
            f1.v[f1.len++] = F->v[k];
            f1.mask |= BIT(F->v[k]);
            if (k == j) break;
        }
        for (int k = plen - 2; k >= 1; --k) {
            f1.v[f1.len++] = (signed char)path[k];
            f1.mask |= BIT(path[k]);
        }
        for (int k = j;; k = (k + 1) % F->len) {
            f2.v[f2.len++] = F->v[k];
            f2.mask |= BIT(F->v[k]);
            if (k == i) break;
        }
        for (int k = 1; k <= plen - 2; ++k) {
            f2.v[f2.len++] = (signed char)path[k];
            f2.mask |= BIT(path[k]);
        }
        faces[best_face] = f1;
        faces[nf++] = f2;
        for (int k = 0; k + 1 < plen; ++k) {
            hadj[path[k]] |= BIT(path[k + 1]);
            hadj[path[k + 1]] |= BIT(path[k]);
            hv |= BIT(path[k]) | BIT(path[k + 1]);
            ++he;
        }
    }
    return 1;
}

/* Tarjan biconnected blocks; returns 0 as soon as a non-planar block is found */
typedef struct {
    const u32 *adj;
    int disc[CS_MAXN], low[CS_MAXN], time;
    int es_u[CS_MAXE * 8], es_w[CS_MAXE * 8], esp;
    int bad;
} bcstate;

static void bc_dfs(bcstate *s, int v, int parent)
{
    s->disc[v] = s->low[v] = ++s->time;
    for (u32 m = s->adj[v]; m && !s->bad; m &= m - 1) {
        int w = LOWBIT(m);
        if (w == parent) continue;
        if (s->disc[w] == 0) {
            s->es_u[s->esp] = v;
            s->es_w[s->esp] = w;
            ++s->esp;
            bc_dfs(s, w, v);
            if (s->bad) return;
            if (s->low[w] < s->low[v]) s->low[v] = s->low[w];
            if (s->low[w] >= s->disc[v]) {
                u32 blk = 0;
                while (s->esp > 0) {
                    --s->esp;
                    int a = s->es_u[s->esp], b = s->es_w[s->esp];
                    blk |= BIT(a) | BIT(b);
                    if (a == v && b == w) break;
                }
                if (POP(blk) >= 5 && !dmp(s->adj, blk)) s->bad = 1;
            }
        } else if (s->disc[w] < s->disc[v]) {
            s->es_u[s->esp] = v;
            s->es_w[s->esp] = w;
            ++s->esp;
            if (s->disc[w] < s->low[v]) s->low[v] = s->disc[w];
        }
    }
}

int cs_is_planar(const uint32_t *adj, int n)
{
    if (n <= 4) return 1;
    int e = 0;
    for (int i = 0; i < n; ++i) e += POP(adj[i]);
    e /= 2;
    if (e <= 8) return 1; /* K5 has 10 edges, K3,3 has 9 */
    if (e > 3 * n - 6) return 0;
    bcstate s;
    memset(&s, 0, sizeof(s));
    s.adj = adj;
    for (int v = 0; v < n && !s.bad; ++v)
        if (s.disc[v] == 0) {
            s.esp = 0;
            bc_dfs(&s, v, -1);
        }
    return !s.bad;
}
