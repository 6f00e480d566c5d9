/* cycles.c - cycles and rings of a small simple graph (n <= 32).
 *
 * A cycle is a closed path repeating no atom; a ring is a chord-free cycle
 * (Surge manual, section 5).  Each cycle is found once from its smallest
 * vertex, in the direction whose second vertex is smaller than its last.
 *
 * Licence: Apache-2.0.
 */
#include <string.h>

#include "surge.h"

typedef struct walk {
    const u32 *adj;
    u32 among;          /* vertices a cycle may use */
    int len;            /* wanted length */
    int start;
    int path[CS_MAXN];
    int count;
    int chordless;      /* only chord-free cycles */
    /* listing */
    const signed char (*eidx)[CS_MAXN];
    int max;
    int *lens;
    int (*edges)[CS_MAXN];
} walk;

static int chord_free(const walk *w)
{
    u32 set = 0;
    for (int i = 0; i < w->len; ++i) set |= (u32)1 << w->path[i];
    for (int i = 0; i < w->len; ++i)
        if (__builtin_popcount(w->adj[w->path[i]] & set) != 2) return 0;
    return 1;
}

static void found(walk *w)
{
    if (w->path[1] > w->path[w->len - 1]) return; /* the other direction */
    if (w->chordless && !chord_free(w)) return;
    if (w->edges && w->count < w->max) {
        w->lens[w->count] = w->len;
        for (int i = 0; i < w->len; ++i)
            w->edges[w->count][i] = w->eidx[w->path[i]][w->path[(i + 1) % w->len]];
    }
    ++w->count;
}

static void extend(walk *w, int depth, u32 used)
{
    int v = w->path[depth - 1];
    if (depth == w->len) {
        if (w->adj[v] & ((u32)1 << w->start)) found(w);
        return;
    }
    /* vertices after the start only, so the start is the cycle's smallest */
    u32 next = w->adj[v] & w->among & ~used & ~(((u32)2 << w->start) - 1);
    for (; next; next &= next - 1) {
        int x = __builtin_ctz(next);
        w->path[depth] = x;
        extend(w, depth + 1, used | ((u32)1 << x));
    }
}

static int run_walk(walk *w, int n)
{
    w->count = 0;
    for (int s = 0; s < n; ++s) {
        if (!(w->among & ((u32)1 << s))) continue;
        w->start = s;
        w->path[0] = s;
        extend(w, 1, (u32)1 << s);
    }
    return w->count;
}

int cs_count_cycles(const u32 *adj, int n, int len)
{
    if (len == 3) {
        int c = 0;
        for (int i = 0; i < n; ++i)
            for (u32 m = adj[i] & ~(((u32)2 << i) - 1); m; m &= m - 1) {
                int j = __builtin_ctz(m);
                c += __builtin_popcount(adj[i] & adj[j] & ~(((u32)2 << j) - 1));
            }
        return c;
    }
    if (len == 4) {
        int c = 0;
        for (int i = 0; i < n; ++i)
            for (int k = i + 1; k < n; ++k) {
                int x = __builtin_popcount(adj[i] & adj[k]);
                c += x * (x - 1) / 2;
            }
        return c / 2;
    }
    walk w = {.adj = adj, .among = n >= 32 ? ~(u32)0 : (((u32)1 << n) - 1), .len = len};
    return run_walk(&w, n);
}

int cs_count_rings6(const u32 *adj, int n, u32 among)
{
    walk w = {.adj = adj, .among = among, .len = 6, .chordless = 1};
    return run_walk(&w, n);
}

int cs_list_cycles(const u32 *adj, int n, u32 among, int len, const signed char eidx[][CS_MAXN],
                   int max, int lens[], int edges[][CS_MAXN])
{
    int total;
    return cs_find_cycles(adj, n, among, len, eidx, 0, max, lens, edges, &total);
}

int cs_find_cycles(const u32 *adj, int n, u32 among, int len, const signed char eidx[][CS_MAXN],
                   int chordless, int max, int lens[], int edges[][CS_MAXN], int *total)
{
    walk w = {.adj = adj, .among = among, .len = len, .chordless = chordless, .eidx = eidx,
              .max = max, .lens = lens, .edges = edges};
    run_walk(&w, n);
    *total = w.count;
    return w.count < max ? w.count : max;
}

/* Chord-free cycles of every length 3..maxlen in one walk.  A chord-free
 * cycle is an induced path closed by one edge, so a path is only extended
 * by a vertex with no neighbour on it but the last one (and the start, which
 * closes the ring and ends the path): far fewer paths than walking every
 * simple path once per length. */
typedef struct ring_walk {
    const u32 *adj;
    const signed char (*eidx)[CS_MAXN];
    int maxlen, start, max, count;
    int path[CS_MAXN];
    int *lens;
    int (*edges)[CS_MAXN];
} ring_walk;

static void ring_extend(ring_walk *w, int depth, u32 used)
{
    int v = w->path[depth - 1];
    u32 sbit = CS_BIT(w->start);
    /* vertices after the start; none may touch the path before v */
    u32 inner = used & ~CS_BIT(v) & ~sbit;
    u32 next = w->adj[v] & ~used & ~((CS_BIT(w->start) << 1) - 1);
    for (; next; next &= next - 1) {
        int x = CS_LOWBIT(next);
        if (w->adj[x] & inner) continue;
        w->path[depth] = x;
        if (depth >= 2 && (w->adj[x] & sbit)) {
            /* closes a ring of depth + 1 atoms; once each: second < last */
            int len = depth + 1;
            if (w->path[1] < x) {
                if (w->count < w->max) {
                    w->lens[w->count] = len;
                    for (int i = 0; i < len; ++i)
                        w->edges[w->count][i] = w->eidx[w->path[i]][w->path[(i + 1) % len]];
                }
                ++w->count;
            }
            continue; /* x touches the start: no longer ring goes through it */
        }
        if (depth + 1 < w->maxlen) ring_extend(w, depth + 1, used | CS_BIT(x));
    }
}

int cs_find_rings(const u32 *adj, int n, int maxlen, const signed char eidx[][CS_MAXN], int max,
                  int lens[], int edges[][CS_MAXN], int *total)
{
    ring_walk w = {.adj = adj, .eidx = eidx, .maxlen = maxlen, .max = max, .lens = lens,
                   .edges = edges};
    for (int s = 0; s < n; ++s) {
        w.start = s;
        w.path[0] = s;
        ring_extend(&w, 1, CS_BIT(s));
    }
    *total = w.count;
    return w.count < max ? w.count : max;
}

int cs_is_bipartite(const u32 *adj, int n)
{
    int side[CS_MAXN];
    int queue[CS_MAXN];
    memset(side, -1, sizeof(side));
    for (int s = 0; s < n; ++s) {
        if (side[s] >= 0) continue;
        int head = 0, tail = 0;
        side[s] = 0;
        queue[tail++] = s;
        while (head < tail) {
            int v = queue[head++];
            for (u32 m = adj[v]; m; m &= m - 1) {
                int x = __builtin_ctz(m);
                if (side[x] < 0) {
                    side[x] = 1 - side[v];
                    queue[tail++] = x;
                } else if (side[x] == side[v]) {
                    return 0;
                }
            }
        }
    }
    return 1;
}
