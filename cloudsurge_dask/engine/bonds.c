/* bonds.c - stage 3: bond multiplicities (and monovalent leaves) of one
 * coloured graph, up to the stabiliser of the colouring.
 *
 * Every free choice is a "slot": the extra order of an edge, or the leaves
 * (F, Cl, ...) on a vertex.  Slots are visited in the order their symbols
 * appear in a SMILES template of the coloured graph, so the SMILES of each
 * structure is written while it is enumerated; of each orbit under the
 * stabiliser the assignment Surge itself writes is kept (bond_largest).
 * Atoms written in brackets (any valence other than the element's usual one,
 * or an element outside SMILES' organic subset) carry their hydrogen count,
 * known only at the end: such lines are rendered again from the template.
 *
 * Licence: Apache-2.0.
 */
#include <stdlib.h>
#include <string.h>

#include "surge.h"

/* ------------------------------------------------------------------ */
/* the SMILES template of the coloured graph                            */

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

static void build_template(cs_run *r)
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

/* ------------------------------------------------------------------ */
/* a finished structure                                                 */

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
static size_t render_smiles(const cs_run *r, char *out)
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

/* The molecule for the record writers: skeleton atoms in graph order, then
 * the leaves (Surge's own order when there are no leaves), or, for -A
 * (by_element), every atom in formula order as that format numbers them. */
static void fill_mol(cs_run *r, int by_element)
{
    const cs_graph *g = &r->g;
    const cs_slots *s = &r->s;
    const cs_plan *p = r->plan;
    cs_mol *m = &r->mol;
    int order[CS_MAXN], na = 0;
    int leafof[CS_MAXN], leaftype[CS_MAXN];
    int nl = 0;
    for (int v = 0; v < g->n; ++v)
        for (int j = 0; j < p->nhal; ++j)
            for (int a = 0; a < s->vhalc[v][j]; ++a) {
                leafof[nl] = v;
                leaftype[nl] = j;
                ++nl;
            }
    int total = g->n + nl;
    if (by_element) {
        for (int want = 0; want < r->el->n; ++want) {
            for (int v = 0; v < g->n; ++v)
                if (p->t[s->col[v]].elem == want) order[na++] = v;
            for (int l = 0; l < nl; ++l)
                if (p->hal[leaftype[l]].elem == want) order[na++] = CS_MAXN + l;
        }
    } else {
        for (int v = 0; v < g->n; ++v) order[na++] = v;
        for (int l = 0; l < nl; ++l) order[na++] = CS_MAXN + l;
    }
    int pos[2 * CS_MAXN];
    for (int i = 0; i < total; ++i) pos[order[i]] = i;
    m->n = total;
    for (int i = 0; i < total; ++i) {
        const cs_type *t;
        int hyd = 0;
        if (order[i] < CS_MAXN) {
            t = &p->t[s->col[order[i]]];
            hyd = s->capc[order[i]];
        } else {
            t = &p->hal[leaftype[order[i] - CS_MAXN]];
        }
        const cs_element *e = &r->el->e[t->elem];
        m->sym[i] = e->sym;
        m->insym[i] = e->insym;
        m->elem[i] = t->elem;
        m->val[i] = e->val;
        m->hyd[i] = hyd;
    }
    int ne = 0;
    for (int e = 0; e < g->ne; ++e) {
        int a = pos[g->eu[e]], b = pos[g->ev[e]];
        m->eu[ne] = a < b ? a : b;
        m->ev[ne] = a < b ? b : a;
        m->mult[ne] = 1 + (s->esmax[e] > 0 ? s->xs[s->slotof[e]] : 0);
        ++ne;
    }
    for (int l = 0; l < nl; ++l) {
        int a = pos[leafof[l]], b = pos[CS_MAXN + l];
        m->eu[ne] = a < b ? a : b;
        m->ev[ne] = a < b ? b : a;
        m->mult[ne] = 1;
        ++ne;
    }
    m->ne = ne;
}

static void emit(cs_run *r, int pos)
{
    switch (r->opt->format) {
    case CS_FMT_SMILES:
        {
            unsigned char *dst = cs_out_reserve(&r->out, 8192);
            size_t len = r->s.has_brackets ? render_smiles(r, (char *)dst)
                                           : (memcpy(dst, r->s.sbuf, (size_t)pos), (size_t)pos);
            cs_out_commit(&r->out, len);
        }
        break;
    case CS_FMT_SDF:
        fill_mol(r, 0);
        cs_write_sdf(&r->out, &r->mol);
        break;
    case CS_FMT_ALPHA:
        fill_mol(r, 1);
        cs_write_alpha(&r->out, &r->mol, r->plan->text);
        break;
    case CS_FMT_O3:
        fill_mol(r, 0);
        cs_write_numeric(&r->out, &r->mol, 1);
        break;
    default:
        break;
    }
}

/* coordination limits: distinct neighbours (hydrogens included) at most the
 * element's, -c's; an atom with five or more neighbours has no hydrogen */
static int coordination_ok(const cs_run *r)
{
    const cs_slots *s = &r->s;
    const cs_graph *g = &r->g;
    for (int v = 0; v < g->n; ++v) {
        const cs_type *t = &r->plan->t[s->col[v]];
        int coord = g->deg[v] + s->vhal[v] + s->capc[v];
        if (coord > t->cmax) return 0;
        if (coord >= 5 && s->capc[v] > 0) return 0;
    }
    return 1;
}

/* -B5/-B6: pairs of bonds at a vertex that may not both be multiple */
static int pairs_ok(const cs_run *r)
{
    const cs_graph *g = &r->g;
    const cs_slots *s = &r->s;
    for (int i = 0; i < g->npair; ++i) {
        if (s->vhal[g->pv[i]] > 0) continue;
        int a = g->pa[i], b = g->pb[i];
        int xa = s->esmax[a] > 0 ? s->xs[s->slotof[a]] : 0;
        int xb = s->esmax[b] > 0 ? s->xs[s->slotof[b]] : 0;
        if (g->pdouble[i] ? (xa == 1 && xb == 1) : (xa > 0 && xb > 0)) return 0;
    }
    return 1;
}

/* Of each orbit under the stabiliser the structure Surge writes is kept: the
 * one whose slots, compared in the order ord[] (bonds in edge order, i.e. by
 * lower atom then higher atom; then leaf groups), are lexicographically
 * largest.  So labelled output (SDfile atom and bond blocks) is Surge's own. */
static inline int bond_largest(const cs_slots *s)
{
    const unsigned char *p = s->stab;
    for (size_t i = 0; i < s->nstab; ++i, p += s->ns) {
        for (int k = 0; k < s->nord; ++k) {
            int q = s->ord[k];
            int a = s->xs[p[q]], b = s->xs[q];
            if (a > b) return 0;
            if (a < b) break;
        }
    }
    return 1;
}

/* the comparison order of the slots (see bond_largest) */
static void slot_order(cs_run *r)
{
    cs_slots *s = &r->s;
    s->nord = 0;
    for (int e = 0; e < r->g.ne; ++e)
        if (s->esmax[e] > 0) s->ord[s->nord++] = s->slotof[e];
    for (int k = 0; k < s->ns; ++k)
        if (s->s_type[k] == 1) s->ord[s->nord++] = k;
}

static void leaf(cs_run *r, int pos)
{
    cs_slots *s = &r->s;
    if (s->nstab && !bond_largest(s)) return;
    if (r->plan->check_coord && !coordination_ok(r)) return;
    if (r->g.npair && !pairs_ok(r)) return;
    ++r->count[2];
    if (r->opt->arom) {
        if (!cs_arom_keep(r)) return;
        ++r->count[3];
    }
    emit(r, pos);
}

/* ------------------------------------------------------------------ */
/* the enumeration                                                      */

static void slot_rec(cs_run *r, int k, int pos, int rest);

/* leaves of slot k: type j onwards; 'used' placed so far, 'code' encodes them */
static void hal_rec(cs_run *r, int k, int j, int pos, int rest, int used, int code)
{
    cs_slots *s = &r->s;
    const cs_plan *p = r->plan;
    int v = s->s_u[k];
    if (j == p->nhal) {
        if (s->remh_tot > s->s_hsuf[k + 1]) return;
        s->xs[k] = code;
        s->capc[v] -= used;
        s->vhal[v] = used;
        memcpy(s->sbuf + pos, s->seg_p[k + 1], (size_t)s->seg_l[k + 1]);
        slot_rec(r, k + 1, pos + s->seg_l[k + 1], rest);
        s->vhal[v] = 0;
        s->capc[v] += used;
        return;
    }
    int maxa = s->capc[v] - used;
    if (s->remh[j] < maxa) maxa = s->remh[j];
    int dleft = r->opt->maxd - r->g.deg[v] - used;
    if (dleft < maxa) maxa = dleft;
    const cs_type *h = &p->hal[j];
    for (int a = 0; a <= maxa; ++a) {
        s->remh[j] -= a;
        s->remh_tot -= a;
        if (j < 8) s->vhalc[v][j] = a;
        hal_rec(r, k, j + 1, pos, rest, used + a, code + (a << (4 * j)));
        s->remh[j] += a;
        s->remh_tot += a;
        /* the next round places one more: append "(X)" */
        s->sbuf[pos++] = '(';
        memcpy(s->sbuf + pos, h->smiles, (size_t)h->smiles_len);
        pos += h->smiles_len;
        s->sbuf[pos++] = ')';
    }
    if (j < 8) s->vhalc[v][j] = 0;
}

static void slot_rec(cs_run *r, int k, int pos, int rest)
{
    cs_slots *s = &r->s;
    if (k == s->ns) {
        if (rest != 0 || s->remh_tot != 0) return;
        leaf(r, pos);
        return;
    }
    if (s->s_type[k] == 1) {
        hal_rec(r, k, 0, pos, rest, 0, 0);
        return;
    }
    if (s->s_type[k] == 2) {
        s->xs[k] = 0;
        memcpy(s->sbuf + pos, s->seg_p[k + 1], (size_t)s->seg_l[k + 1]);
        slot_rec(r, k + 1, pos + s->seg_l[k + 1], rest);
        return;
    }
    int u = s->s_u[k], v = s->s_v[k];
    int hi = s->s_max[k];
    if (s->capc[u] < hi) hi = s->capc[u];
    if (s->capc[v] < hi) hi = s->capc[v];
    if (rest < hi) hi = rest;
    int lo = rest - s->s_bsuf[k + 1];
    if (lo < 0) lo = 0;
    const char *sp = s->seg_p[k + 1];
    int sl = s->seg_l[k + 1];
    for (int x = lo; x <= hi; ++x) {
        int q = pos;
        if (x) s->sbuf[q++] = (x == 1) ? '=' : '#';
        memcpy(s->sbuf + q, sp, (size_t)sl);
        s->xs[k] = x;
        s->capc[u] -= x;
        s->capc[v] -= x;
        slot_rec(r, k + 1, q + sl, rest - x);
        s->capc[u] += x;
        s->capc[v] += x;
    }
}

/* the stabiliser of the colouring, acting on the slots */
static void stabiliser(cs_run *r)
{
    cs_slots *s = &r->s;
    const cs_group *grp = &r->grp;
    int n = r->g.n;
    s->nstab = 0;
    if (grp->n <= 1 || s->ns <= 1) return;
    if (s->stabcap < grp->n) {
        s->stab = realloc(s->stab, grp->n * CS_MAXSLOTS);
        if (!s->stab) cs_die("out of memory (stabiliser)");
        s->stabcap = grp->n;
    }
    const unsigned char *p = grp->perm + n;
    for (size_t gi = 1; gi < grp->n; ++gi, p += n) {
        int i;
        for (i = 0; i < n; ++i)
            if (s->col[p[i]] != s->col[i]) break;
        if (i < n) continue;
        unsigned char *sp = s->stab + s->nstab * (size_t)s->ns;
        int ident = 1;
        for (int k = 0; k < s->ns; ++k) {
            int img;
            if (s->s_type[k] == 0)
                img = s->slotof[r->g.eidx[p[s->s_u[k]]][p[s->s_v[k]]]];
            else if (s->s_type[k] == 1)
                img = s->halslot[p[s->s_u[k]]];
            else
                img = k; /* hydrogen slots are never compared: all zero */
            sp[k] = (unsigned char)img;
            if (img != k) ident = 0;
        }
        if (ident) continue;
        size_t j;
        for (j = 0; j < s->nstab; ++j)
            if (memcmp(s->stab + j * (size_t)s->ns, sp, (size_t)s->ns) == 0) break;
        if (j == s->nstab) ++s->nstab;
    }
}

void cs_bonds(cs_run *r)
{
    cs_slots *s = &r->s;
    const cs_graph *g = &r->g;
    const cs_plan *p = r->plan;
    int n = g->n, rest = g->extra, tot = 0, capsum = 0;
    s->has_brackets = 0;
    for (int v = 0; v < n; ++v) {
        const cs_type *t = &p->t[s->col[v]];
        s->capc[v] = t->val - g->deg[v];
        capsum += s->capc[v];
        s->vhal[v] = 0;
        if (t->smiles[0] == '[') s->has_brackets = 1;
    }
    if (capsum < 2 * rest + p->htot) return;
    for (int e = 0; e < g->ne; ++e) {
        int m = 0;
        if (rest > 0) {
            m = g->ecap[e];
            if (s->capc[g->eu[e]] < m) m = s->capc[g->eu[e]];
            if (s->capc[g->ev[e]] < m) m = s->capc[g->ev[e]];
        }
        s->esmax[e] = m;
        tot += m;
    }
    if (tot < rest) return;

    build_template(r);
    stabiliser(r);
    slot_order(r);
    if (r->opt->arom) cs_arom_colouring(r);

    for (int j = 0; j < p->nhal; ++j) s->remh[j] = p->hal[j].cnt;
    s->remh_tot = p->htot;
    memcpy(s->sbuf, s->seg_p[0], (size_t)s->seg_l[0]);
    slot_rec(r, 0, s->seg_l[0], rest);
}
