/* smiles.c - SMILES of the structures of one coloured graph, as a template.
 *
 * A depth-first walk of the coloured graph writes its SMILES once, with a
 * "slot" wherever a bond order or leaves may vary (and, for atoms written in
 * brackets, their hydrogen count).  Stage 3 (bonds.c) visits the slots in
 * template order, so each structure's line is completed while it is
 * enumerated: one memcpy per slot instead of a walk per molecule.
 *
 * Licence: Apache-2.0.
 */
#include <string.h>

#include "surge.h"

static void dfs1(cs_run *r, int v)
{
    cs_slots *s = &r->s;
    const cs_graph *g = &r->g;
    s->t_ord[v] = s->t_cnt++;
    for (u32 m = g->adj[v]; m; m &= m - 1) {
        int w = __builtin_ctz(m);
        if (s->t_ord[w] < 0) {
            s->t_par[w] = v;
            s->t_ch[v][s->t_nch[v]++] = w;
            dfs1(r, w);
        } else if (w != s->t_par[v] && s->t_ord[w] < s->t_ord[v]) {
            int e = g->eidx[v][w];
            s->t_cl[v][s->t_ncl[v]++] = e;
            s->t_op[w][s->t_nop[w]++] = e;
        }
    }
}

static inline void tpl_put(cs_slots *s, char c) { s->tpl[s->tpl_len++] = c; }

static void tpl_puts(cs_slots *s, const char *p, int len)
{
    memcpy(s->tpl + s->tpl_len, p, (size_t)len);
    s->tpl_len += len;
}

static void new_slot(cs_slots *s, int type, int u, int v, int max)
{
    s->slot_pos[s->ns] = s->tpl_len;
    s->s_type[s->ns] = type;
    s->s_u[s->ns] = u;
    s->s_v[s->ns] = v;
    s->s_max[s->ns] = max;
    ++s->ns;
}

/* slot types: 0 bond order, 1 leaves on a vertex, 2 hydrogens of a
 * bracket atom (not enumerated: filled in when the line is rendered) */
static void tpl_slot(cs_run *r, int e)
{
    cs_slots *s = &r->s;
    if (s->esmax[e] > 0) {
        s->slotof[e] = s->ns;
        new_slot(s, 0, r->g.eu[e], r->g.ev[e], s->esmax[e]);
    }
}

static void tpl_digit(cs_slots *s, int d)
{
    if (d < 10) {
        tpl_put(s, (char)('0' + d));
    } else {
        tpl_put(s, '%');
        tpl_put(s, (char)('0' + d / 10));
        tpl_put(s, (char)('0' + d % 10));
    }
}

static void dfs2(cs_run *r, int v)
{
    cs_slots *s = &r->s;
    const cs_type *t = &r->plan->t[s->col[v]];
    if (t->smiles[0] == '[') {
        tpl_puts(s, t->smiles, t->smiles_len - 1);
        new_slot(s, 2, v, v, 0);
        tpl_put(s, ']');
    } else {
        tpl_puts(s, t->smiles, t->smiles_len);
    }
    for (int i = 0; i < s->t_ncl[v]; ++i) tpl_digit(s, s->edigit[s->t_cl[v][i]]);
    for (int i = 0; i < s->t_nop[v]; ++i) {
        int e = s->t_op[v][i], d = 1;
        while (s->digit_used[d]) ++d;
        s->digit_used[d] = 1;
        s->edigit[e] = d;
        tpl_slot(r, e);
        tpl_digit(s, d);
    }
    for (int i = 0; i < s->t_ncl[v]; ++i) s->digit_used[s->edigit[s->t_cl[v][i]]] = 0;
    if (r->plan->nhal > 0 && s->capc[v] > 0) {
        s->halslot[v] = s->ns;
        new_slot(s, 1, v, v, s->capc[v]);
    }
    for (int i = 0; i < s->t_nch[v]; ++i) {
        int w = s->t_ch[v][i], last = (i == s->t_nch[v] - 1);
        if (!last) tpl_put(s, '(');
        tpl_slot(r, r->g.eidx[v][w]);
        dfs2(r, w);
        if (!last) tpl_put(s, ')');
    }
}

void cs_smiles_template(cs_run *r)
{
    cs_slots *s = &r->s;
    int n = r->g.n;
    for (int v = 0; v < n; ++v) {
        s->t_ord[v] = -1;
        s->t_par[v] = -1;
        s->t_nch[v] = s->t_nop[v] = s->t_ncl[v] = 0;
    }
    s->t_cnt = 0;
    s->ns = 0;
    s->tpl_len = 0;
    memset(s->digit_used, 0, sizeof(s->digit_used));
    dfs1(r, 0);
    dfs2(r, 0);
    tpl_put(s, '\n');
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
