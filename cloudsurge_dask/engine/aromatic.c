/* aromatic.c - the aromaticity filter -R.
 *
 * Surge 2.0 manual, section 6: an aromatic cycle is a cycle of carbon atoms
 * whose length is 2 mod 4 and whose bonds alternate single and double;
 * rotating it swaps single and double bonds; two molecules are equivalent
 * when rotations (and isomorphism) lead from one to the other.  One molecule
 * per class is kept, the one Surge keeps: in the slot order of bonds.c
 * (bonds by lower atom, then higher atom), the class member (over
 * rotations and the colouring's stabiliser) whose bond orders are the
 * lexicographically largest.  The rule was read off Surge's output for C10H8
 * (every one of its 1,648 classes with two or more members); it needs no
 * memory across molecules.  Candidate cycles are listed once per colouring.
 *
 * Licence: Apache-2.0.
 */
#include <stdlib.h>
#include <string.h>

#include "surge.h"

void cs_arom_colouring(cs_run *r)
{
    cs_slots *s = &r->s;
    const cs_graph *g = &r->g;
    u32 carbon = 0;
    s->ncyc = 0;
    for (int v = 0; v < g->n; ++v)
        if (r->plan->t[s->col[v]].elem == 0 && g->deg[v] >= 2 && s->capc[v] >= 1)
            carbon |= (u32)1 << v;
    if (__builtin_popcount(carbon) < 6) return;
    for (int len = 6; len <= g->n; len += 4) {
        int total, room = CS_MAXCYC - s->ncyc;
        int got = cs_find_cycles(g->adj, g->n, carbon, len, (const signed char(*)[CS_MAXN])g->eidx,
                                 0, room, s->cyc_len + s->ncyc, s->cyc_e + s->ncyc, &total);
        if (total > got)
            cs_die("more than %d aromatic candidate cycles in one graph: -R not applicable", CS_MAXCYC);
        s->ncyc += got;
    }
}

/* extra order of edge e in slot vector x */
static inline int extra_of(const cs_slots *s, const int *x, int e)
{
    return s->esmax[e] > 0 ? x[s->slotof[e]] : 0;
}

/* 1 when cycle c alternates single and double in x and may be rotated */
static int rotatable(const cs_slots *s, const int *x, int c)
{
    int len = s->cyc_len[c];
    int first = extra_of(s, x, s->cyc_e[c][0]);
    if (first > 1) return 0;
    for (int i = 0; i < len; ++i) {
        int e = s->cyc_e[c][i];
        int want = (i & 1) ? 1 - first : first;
        if (extra_of(s, x, e) != want) return 0;
        if (s->esmax[e] < 1) return 0;
    }
    return 1;
}

/* -B5/-B6 pairs still hold after a rotation? (caps hold: only 0/1 swap) */
static int pairs_hold(const cs_run *r, const int *x)
{
    const cs_graph *g = &r->g;
    const cs_slots *s = &r->s;
    for (int i = 0; i < g->npair; ++i) {
        if (s->vhal[g->pv[i]] > 0) continue;
        int xa = extra_of(s, x, g->pa[i]), xb = extra_of(s, x, g->pb[i]);
        if (g->pdouble[i] ? (xa == 1 && xb == 1) : (xa > 0 && xb > 0)) return 0;
    }
    return 1;
}

/* compare y and x in Surge's order: >0 when y is larger */
static int cmp_ord(const cs_slots *s, const int *y, const unsigned char *py, const int *x,
                   const unsigned char *px)
{
    for (int k = 0; k < s->nord; ++k) {
        int q = s->ord[k];
        int a = py ? y[py[q]] : y[q], b = px ? x[px[q]] : x[q];
        if (a != b) return a - b;
    }
    return 0;
}

/* the largest image of x under the stabiliser (identity included) */
static const unsigned char *largest_image(const cs_slots *s, const int *x)
{
    const unsigned char *best = NULL, *p = s->stab;
    for (size_t i = 0; i < s->nstab; ++i, p += s->ns)
        if (cmp_ord(s, x, p, x, best) > 0) best = p;
    return best;
}

/* is some image of y under the stabiliser larger than x's image px? */
static int above(const cs_slots *s, const int *y, const int *x, const unsigned char *px)
{
    if (cmp_ord(s, y, NULL, x, px) > 0) return 1;
    const unsigned char *p = s->stab;
    for (size_t i = 0; i < s->nstab; ++i, p += s->ns)
        if (cmp_ord(s, y, p, x, px) > 0) return 1;
    return 0;
}

int cs_arom_keep(cs_run *r)
{
    cs_slots *s = &r->s;
    int ns = s->ns, any = 0;
    for (int c = 0; c < s->ncyc && !any; ++c) any = rotatable(s, s->xs, c);
    if (!any) return 1;

    /* breadth-first closure of x under rotations; closure_cap counts ints */
    size_t have = 1, head = 0, stride = (size_t)ns;
    if (s->closure_cap < 64 * stride) {
        s->closure = realloc(s->closure, 64 * stride * sizeof(int));
        if (!s->closure) cs_die("out of memory (aromatic classes)");
        s->closure_cap = 64 * stride;
    }
    memcpy(s->closure, s->xs, sizeof(int) * stride);
    const unsigned char *px = largest_image(s, s->xs);
    while (head < have) {
        int *y = s->closure + head * (size_t)ns;
        ++head;
        for (int c = 0; c < s->ncyc; ++c) {
            if (!rotatable(s, y, c)) continue;
            if ((have + 1) * stride > s->closure_cap) {
                s->closure = realloc(s->closure, 2 * s->closure_cap * sizeof(int));
                if (!s->closure) cs_die("out of memory (aromatic classes)");
                s->closure_cap *= 2;
                y = s->closure + (head - 1) * stride;
            }
            int *z = s->closure + have * (size_t)ns;
            memcpy(z, y, sizeof(int) * (size_t)ns);
            for (int i = 0; i < s->cyc_len[c]; ++i) {
                int k = s->slotof[s->cyc_e[c][i]];
                z[k] = 1 - z[k];
            }
            if (!pairs_hold(r, z)) continue;
            size_t j;
            for (j = 0; j < have; ++j)
                if (memcmp(s->closure + j * (size_t)ns, z, sizeof(int) * (size_t)ns) == 0) break;
            if (j < have) continue;
            if (above(s, z, s->xs, px)) return 0;
            ++have;
        }
    }
    return 1;
}
