/* planar.c - small planarity test for graphs with at most 32 vertices.
 *
 * A graph is planar iff each of its biconnected blocks is.  Blocks are found
 * with Tarjan's algorithm; each block with 5 or more vertices is tested with
 * the path-embedding algorithm of Demoucron, Malgrange and Pertuiset (1964).
 * Graphs here are tiny (n <= 32), so the quadratic algorithm is plenty.
 */
#include <string.h>

#include "surge.h"

#define MAXFACES 96

typedef struct face {
    int len;
    u32 mask;
    signed char v[CS_MAXN];
} face;

/* An embedding in progress: the block, the part of it embedded so far (H)
 * and the faces of H. */
typedef struct embedding {
    u32 adj[CS_MAXN];        /* the block (induced subgraph) */
    u32 vs;
    int ne;
    u32 hv, hadj[CS_MAXN];   /* H: vertices and adjacency */
    int he;
    int nf;
    face faces[MAXFACES];
} embedding;

/* A fragment of G relative to H: an edge between two vertices of H, or a
 * component of G - H with its edges to H (att: its vertices in H). */
typedef struct fragment {
    int is_comp;             /* 0 an edge a-b, 1 a component */
    int a, b;
    u32 att, comp;
    int face, nfaces;        /* first face holding every attachment, how many */
} fragment;

/* faces of H that hold every attachment: how many, *first the first one */
static int admissible_faces(const embedding *em, u32 att, int *first)
{
    int cnt = 0;
    *first = -1;
    for (int f = 0; f < em->nf; ++f)
        if ((em->faces[f].mask & att) == att) {
            if (*first < 0) *first = f;
            ++cnt;
        }
    return cnt;
}

/* Step 1: a cycle of the block (DFS from its lowest vertex) is H, with its
 * two faces.  Returns 0 when the block has none (cannot happen for a block
 * of 3 or more vertices). */
static int start_cycle(embedding *em)
{
    const u32 *adj = em->adj;
    int parent[CS_MAXN], depth[CS_MAXN], stack[CS_MAXN], it[CS_MAXN];
    for (int i = 0; i < CS_MAXN; ++i) depth[i] = -1;
    int r = CS_LOWBIT(em->vs), sp = 0, cu = -1, cw = -1;
    stack[sp++] = r;
    depth[r] = 0;
    parent[r] = -1;
    it[r] = 0;
    while (sp > 0 && cu < 0) {
        int v = stack[sp - 1];
        u32 rest = adj[v] & ~((it[v] >= 32) ? 0xFFFFFFFFu : (CS_BIT(it[v]) - 1));
        if (rest == 0) {
            --sp;
            continue;
        }
        int w = CS_LOWBIT(rest);
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
    if (cu < 0) return 0;

    face *f0 = &em->faces[0];
    f0->len = 0;
    f0->mask = 0;
    for (int v = cu;; v = parent[v]) {
        f0->v[f0->len++] = (signed char)v;
        f0->mask |= CS_BIT(v);
        if (v == cw) break;
    }
    em->faces[1] = *f0;
    em->nf = 2;
    em->hv = f0->mask;
    memset(em->hadj, 0, sizeof(em->hadj));
    em->he = 0;
    for (int i = 0; i < f0->len; ++i) {
        int a = f0->v[i], b = f0->v[(i + 1) % f0->len];
        em->hadj[a] |= CS_BIT(b);
        em->hadj[b] |= CS_BIT(a);
        ++em->he;
    }
    return 1;
}

/* Step 2: of the fragments, one with the fewest admissible faces (stopping
 * at the first with one).  Returns -1 when some fragment has no admissible
 * face (not planar), 0 when there is none left, 1 with *best set. */
static int choose_fragment(const embedding *em, fragment *best)
{
    const u32 *adj = em->adj;
    best->nfaces = 1 << 30;
    int found = 0;
    /* edges not yet embedded between vertices of H */
    for (u32 m = em->hv; m && best->nfaces > 1; m &= m - 1) {
        int u = CS_LOWBIT(m);
        u32 nb = adj[u] & em->hv & ~em->hadj[u] & ((u >= 31) ? 0u : (~0u << (u + 1)));
        for (; nb; nb &= nb - 1) {
            int w = CS_LOWBIT(nb), first;
            u32 att = CS_BIT(u) | CS_BIT(w);
            int cnt = admissible_faces(em, att, &first);
            if (cnt == 0) return -1;
            if (cnt < best->nfaces) {
                *best = (fragment){.is_comp = 0, .a = u, .b = w, .att = att, .face = first,
                                   .nfaces = cnt};
                found = 1;
            }
            if (best->nfaces == 1) break;
        }
    }
    /* components of the vertices not yet embedded */
    u32 left = em->vs & ~em->hv;
    while (left && best->nfaces > 1) {
        u32 comp = CS_BIT(CS_LOWBIT(left)), frontier = comp;
        while (frontier) {
            u32 nxt = 0;
            for (u32 m = frontier; m; m &= m - 1) nxt |= adj[CS_LOWBIT(m)];
            nxt &= left & ~comp;
            comp |= nxt;
            frontier = nxt;
        }
        left &= ~comp;
        u32 att = 0;
        for (u32 m = comp; m; m &= m - 1) att |= adj[CS_LOWBIT(m)] & em->hv;
        int first, cnt = admissible_faces(em, att, &first);
        if (cnt == 0) return -1;
        if (cnt < best->nfaces) {
            *best = (fragment){.is_comp = 1, .att = att, .comp = comp, .face = first,
                               .nfaces = cnt};
            found = 1;
        }
    }
    return found;
}

/* Step 3: a path through the fragment between two of its attachments (the
 * edge itself, or a shortest path through the component).  Returns its
 * length in vertices, 0 when there is none (cannot happen in a block). */
static int fragment_path(const embedding *em, const fragment *fr, int *path)
{
    const u32 *adj = em->adj;
    int plen = 0;
    if (!fr->is_comp) {
        path[plen++] = fr->a;
        path[plen++] = fr->b;
        return plen;
    }
    int a1 = CS_LOWBIT(fr->att);
    u32 other = fr->att & ~CS_BIT(a1);
    int c = CS_LOWBIT(adj[a1] & fr->comp);
    int par[CS_MAXN], queue[CS_MAXN], qh = 0, qt = 0, x = -1;
    u32 seen = CS_BIT(c);
    par[c] = -1;
    queue[qt++] = c;
    while (qh < qt) {
        int y = queue[qh++];
        if (adj[y] & other) {
            x = y;
            break;
        }
        for (u32 m = adj[y] & fr->comp & ~seen; m; m &= m - 1) {
            int z = CS_LOWBIT(m);
            seen |= CS_BIT(z);
            par[z] = y;
            queue[qt++] = z;
        }
    }
    if (x < 0) return 0;
    int a2 = CS_LOWBIT(adj[x] & other);
    int tmp[CS_MAXN], tl = 0;
    for (int y = x; y >= 0; y = par[y]) tmp[tl++] = y;
    path[plen++] = a1;
    for (int k = tl - 1; k >= 0; --k) path[plen++] = tmp[k];
    path[plen++] = a2;
    return plen;
}

/* Step 4: embed the path in face fi, which it splits in two; the path joins
 * H.  Returns 0 when the face table is full. */
static int split_face(embedding *em, int fi, const int *path, int plen)
{
    face *F = &em->faces[fi];
    int a1 = path[0], a2 = path[plen - 1], i = -1, j = -1;
    for (int k = 0; k < F->len; ++k) {
        if (F->v[k] == a1) i = k;
        if (F->v[k] == a2) j = k;
    }
    if (em->nf >= MAXFACES) return 0;
    face f1 = {0}, f2 = {0};
    for (int k = i;; k = (k + 1) % F->len) {
        f1.v[f1.len++] = F->v[k];
        f1.mask |= CS_BIT(F->v[k]);
        if (k == j) break;
    }
    for (int k = plen - 2; k >= 1; --k) {
        f1.v[f1.len++] = (signed char)path[k];
        f1.mask |= CS_BIT(path[k]);
    }
    for (int k = j;; k = (k + 1) % F->len) {
        f2.v[f2.len++] = F->v[k];
        f2.mask |= CS_BIT(F->v[k]);
        if (k == i) break;
    }
    for (int k = 1; k <= plen - 2; ++k) {
        f2.v[f2.len++] = (signed char)path[k];
        f2.mask |= CS_BIT(path[k]);
    }
    em->faces[fi] = f1;
    em->faces[em->nf++] = f2;
    for (int k = 0; k + 1 < plen; ++k) {
        em->hadj[path[k]] |= CS_BIT(path[k + 1]);
        em->hadj[path[k + 1]] |= CS_BIT(path[k]);
        em->hv |= CS_BIT(path[k]) | CS_BIT(path[k + 1]);
        ++em->he;
    }
    return 1;
}

/* DMP on the 2-connected subgraph induced by vertex set vs: start from a
 * cycle, then embed one fragment's path at a time in an admissible face
 * until every edge is in; a fragment with no admissible face means the block
 * is not planar. */
static int dmp(const u32 *adj0, u32 vs)
{
    static embedding em; /* ~3 KiB of faces: not on every call's stack */
    int nv = CS_POP(vs), ne = 0;
    for (int i = 0; i < CS_MAXN; ++i) {
        em.adj[i] = (vs & CS_BIT(i)) ? (adj0[i] & vs) : 0;
        ne += CS_POP(em.adj[i]);
    }
    em.ne = ne / 2;
    em.vs = vs;
    if (nv <= 4) return 1;
    if (em.ne > 3 * nv - 6) return 0; /* Euler */
    if (!start_cycle(&em)) return 1;  /* a tree: cannot happen for a block >= 3 vertices */
    while (em.he < em.ne) {
        fragment fr;
        int got = choose_fragment(&em, &fr);
        if (got < 0) return 0;
        if (got == 0) return 1; /* nothing left (should not happen) */
        int path[CS_MAXN + 2];
        int plen = fragment_path(&em, &fr, path);
        if (plen == 0) return 0; /* not 2-connected: cannot happen */
        if (!split_face(&em, fr.face, path, plen)) return 0;
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
        int w = CS_LOWBIT(m);
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
                    blk |= CS_BIT(a) | CS_BIT(b);
                    if (a == v && b == w) break;
                }
                if (CS_POP(blk) >= 5 && !dmp(s->adj, blk)) s->bad = 1;
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
    for (int i = 0; i < n; ++i) e += CS_POP(adj[i]);
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
