/* smiles.c - SMILES of the structures of one coloured graph, as a template.
 *
 * A depth-first walk of the graph is made once per simple graph, as a list
 * of ops (cs_smiles_walk); each colouring replays it into its SMILES
 * template, with a "slot" wherever a bond order or leaves may vary (and, for
 * atoms written in brackets, their hydrogen count).  Stage 3 (bonds.c)
 * visits the slots in template order, so each structure's line is completed
 * while it is enumerated: one short copy per slot instead of a walk per
 * molecule.
 *
 * Licence: Apache-2.0.
 */
#include <string.h>

#include "surge.h"

/* The depth-first walk of a simple graph, as the SMILES writes it: tree
 * children, ring bonds opened and closed at each atom. */
typedef struct smiles_walk {
    const cs_graph *g;
    int ord[CS_MAXN], par[CS_MAXN], nch[CS_MAXN], ch[CS_MAXN][8];
    int nop[CS_MAXN], op[CS_MAXN][8], ncl[CS_MAXN], cl[CS_MAXN][8];
    int cnt;
    int edigit[CS_MAXE];
    unsigned char digit_used[100];
    int leaves;              /* the formula has leaves: ops for where they go */
} smiles_walk;

static void dfs1(smiles_walk *w, int v)
{
    const cs_graph *g = w->g;
    w->ord[v] = w->cnt++;
    for (u32 m = g->adj[v]; m; m &= m - 1) {
        int x = __builtin_ctz(m);
        if (w->ord[x] < 0) {
            w->par[x] = v;
            w->ch[v][w->nch[v]++] = x;
            dfs1(w, x);
        } else if (x != w->par[v] && w->ord[x] < w->ord[v]) {
            int e = g->eidx[v][x];
            w->cl[v][w->ncl[v]++] = e;
            w->op[x][w->nop[x]++] = e;
        }
    }
}

static void prog_op(cs_graph *g, int op, int arg)
{
    cs_smiles_op *o = &g->prog[g->nprog++];
    o->op = (unsigned char)op;
    o->len = 0;
    o->arg = (unsigned short)arg;
}

/* fixed text, merged into the previous op when that is text too */
static void prog_lit(cs_graph *g, int *nlit, const char *p, int len)
{
    cs_smiles_op *last = g->nprog ? &g->prog[g->nprog - 1] : NULL;
    if (!last || last->op != CS_OP_LIT || last->arg + last->len != *nlit || last->len + len > 255) {
        prog_op(g, CS_OP_LIT, *nlit);
        last = &g->prog[g->nprog - 1];
    }
    memcpy(g->lit + *nlit, p, (size_t)len);
    *nlit += len;
    last->len = (unsigned char)(last->len + len);
}

static void prog_digit(cs_graph *g, int *nlit, int d)
{
    char t[3];
    if (d < 10) {
        t[0] = (char)('0' + d);
        prog_lit(g, nlit, t, 1);
    } else {
        t[0] = '%';
        t[1] = (char)('0' + d / 10);
        t[2] = (char)('0' + d % 10);
        prog_lit(g, nlit, t, 3);
    }
}

/* the second pass of the walk, written as ops: atom, ring closures, ring
 * openings (bond, digit), the atom's leaves, then its branches */
static void dfs2(smiles_walk *w, cs_graph *g, int *nlit, int v)
{
    prog_op(g, CS_OP_ATOM, v);
    for (int i = 0; i < w->ncl[v]; ++i) prog_digit(g, nlit, w->edigit[w->cl[v][i]]);
    for (int i = 0; i < w->nop[v]; ++i) {
        int e = w->op[v][i], d = 1;
        while (w->digit_used[d]) ++d;
        w->digit_used[d] = 1;
        w->edigit[e] = d;
        prog_op(g, CS_OP_BOND, e);
        prog_digit(g, nlit, d);
    }
    for (int i = 0; i < w->ncl[v]; ++i) w->digit_used[w->edigit[w->cl[v][i]]] = 0;
    if (w->leaves) prog_op(g, CS_OP_LEAVES, v);
    for (int i = 0; i < w->nch[v]; ++i) {
        int x = w->ch[v][i], last = (i == w->nch[v] - 1);
        if (!last) prog_lit(g, nlit, "(", 1);
        prog_op(g, CS_OP_BOND, g->eidx[v][x]);
        dfs2(w, g, nlit, x);
        if (!last) prog_lit(g, nlit, ")", 1);
    }
}

void cs_smiles_walk(cs_graph *g, int leaves)
{
    static smiles_walk w;
    w.g = g;
    w.leaves = leaves;
    for (int v = 0; v < g->n; ++v) {
        w.ord[v] = -1;
        w.par[v] = -1;
        w.nch[v] = w.nop[v] = w.ncl[v] = 0;
    }
    w.cnt = 0;
    memset(w.digit_used, 0, sizeof(w.digit_used));
    int nlit = 0;
    g->nprog = 0;
    dfs1(&w, 0);
    dfs2(&w, g, &nlit, 0);
    prog_lit(g, &nlit, "\n", 1);
}

static inline void tpl_puts(cs_slots *s, const char *p, int len)
{
    cs_copy(s->tpl + s->tpl_len, p, (size_t)len);
    s->tpl_len += len;
}

static inline void new_slot(cs_slots *s, int type, int u, int v, int max)
{
    s->slot_pos[s->ns] = s->tpl_len;
    s->s_type[s->ns] = type;
    s->s_u[s->ns] = u;
    s->s_v[s->ns] = v;
    s->s_max[s->ns] = max;
    ++s->ns;
}

/* The graph's walk with this colouring's atoms.  Slot types: 0 bond order
 * (edges that may be multiple), 1 leaves on a vertex, 2 hydrogens of a
 * bracket atom (not enumerated: filled in when the line is rendered). */
void cs_smiles_template(cs_run *r)
{
    cs_slots *s = &r->s;
    const cs_graph *g = &r->g;
    const cs_plan *p = r->plan;
    s->ns = 0;
    s->tpl_len = 0;
    for (int i = 0; i < g->nprog; ++i) {
        const cs_smiles_op *o = &g->prog[i];
        int a = o->arg;
        switch (o->op) {
        case CS_OP_ATOM: {
            const cs_type *t = &p->t[s->col[a]];
            if (t->smiles[0] == '[') {
                tpl_puts(s, t->smiles, t->smiles_len - 1);
                new_slot(s, 2, a, a, 0);
                s->tpl[s->tpl_len++] = ']';
            } else {
                tpl_puts(s, t->smiles, t->smiles_len);
            }
            break;
        }
        case CS_OP_LIT: tpl_puts(s, g->lit + a, o->len); break;
        case CS_OP_BOND:
            if (s->esmax[a] > 0) {
                s->slotof[a] = s->ns;
                new_slot(s, 0, g->eu[a], g->ev[a], s->esmax[a]);
            }
            break;
        default: /* CS_OP_LEAVES */
            if (s->capc[a] > 0) {
                s->halslot[a] = s->ns;
                new_slot(s, 1, a, a, s->capc[a]);
            }
            break;
        }
    }
    for (int k = 0; k <= s->ns; ++k) {
        int a = k == 0 ? 0 : s->slot_pos[k - 1];
        int b = k == s->ns ? s->tpl_len : s->slot_pos[k];
        s->seg_p[k] = s->tpl + a;
        s->seg_l[k] = b - a;
    }
    s->s_bsuf[s->ns] = s->s_hsuf[s->ns] = 0;
    for (int k = s->ns - 1; k >= 0; --k) {
        s->s_bsuf[k] = s->s_bsuf[k + 1] + (s->s_type[k] == 0 ? s->s_max[k] : 0);
        s->s_hsuf[k] = s->s_hsuf[k + 1] + (s->s_type[k] == 1 ? s->s_max[k] : 0);
    }
}

static size_t render_leaves(const cs_run *r, int v, char *out)
{
    size_t len = 0;
    for (int j = 0; j < r->plan->nhal; ++j) {
        const cs_type *h = &r->plan->hal[j];
        for (int a = 0; a < r->s.vhalc[v][j]; ++a) {
            out[len++] = '(';
            memcpy(out + len, h->smiles, (size_t)h->smiles_len);
            len += (size_t)h->smiles_len;
            out[len++] = ')';
        }
    }
    return len;
}

/* the whole line again, with the hydrogens of bracket atoms */
size_t cs_smiles_render(const cs_run *r, char *out)
{
    const cs_slots *s = &r->s;
    size_t len = 0;
    for (int k = 0; k <= s->ns; ++k) {
        memcpy(out + len, s->seg_p[k], (size_t)s->seg_l[k]);
        len += (size_t)s->seg_l[k];
        if (k == s->ns) break;
        int x = s->xs[k];
        if (s->s_type[k] == 0) {
            if (x) out[len++] = x == 1 ? '=' : '#';
        } else if (s->s_type[k] == 1) {
            len += render_leaves(r, s->s_u[k], out + len);
        } else {
            int h = s->capc[s->s_u[k]];
            if (h > 0) out[len++] = 'H';
            if (h > 1) out[len++] = (char)('0' + h);
        }
    }
    return len;
}
