/* bonds.c - stage 3: bond multiplicities (and monovalent leaves) of one
 * coloured graph, up to the stabiliser of the colouring.
 *
 * Every free choice is a "slot": the extra order of an edge, or the leaves
 * (F, Cl, ...) on a vertex.  Slots are visited in the order their symbols
 * appear in the SMILES template of the coloured graph (smiles.c), so the
 * SMILES of each structure is written while it is enumerated; of each orbit under the
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
            size_t len = r->s.has_brackets ? cs_smiles_render(r, (char *)dst)
                                           : (cs_copy((char *)dst, r->s.sbuf, (size_t)pos), (size_t)pos);
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
    if (r->g.npair && !s->pairs_early && !pairs_ok(r)) return;
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
        cs_copy(s->sbuf + pos, s->seg_p[k + 1], (size_t)s->seg_l[k + 1]);
        slot_rec(r, k + 1, pos + s->seg_l[k + 1], rest);
        s->xs[k] = 0;
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
        cs_copy(s->sbuf + pos, h->smiles, (size_t)h->smiles_len);
        pos += h->smiles_len;
        s->sbuf[pos++] = ')';
    }
    if (j < 8) s->vhalc[v][j] = 0;
}

/* -B5/-B6 at once: slot k multiple (x) beside a partner already multiple
 * (slots not yet placed are 0) */
static inline int pair_clash(const cs_slots *s, int k, int x)
{
    for (int i = 0; i < s->s_npart[k]; ++i) {
        int y = s->xs[s->s_part[k][i]];
        if (s->s_partdbl[k][i] ? (x == 1 && y == 1) : (y > 0)) return 1;
    }
    return 0;
}

/* Without leaves no vertex is exempt from its -B5/-B6 pair, so the pair is
 * a constraint between two bond slots, tested when the second is placed
 * instead of on every finished structure. */
static void pairs_to_slots(cs_run *r)
{
    cs_slots *s = &r->s;
    const cs_graph *g = &r->g;
    /* s_npart[] is all zero unless the last colouring set some */
    if (s->pairs_early) memset(s->s_npart, 0, sizeof(s->s_npart));
    s->pairs_early = g->npair > 0 && r->plan->nhal == 0;
    if (!s->pairs_early) return;
    for (int i = 0; i < g->npair; ++i) {
        int a = g->pa[i], b = g->pb[i];
        if (s->esmax[a] <= 0 || s->esmax[b] <= 0) continue; /* one stays single */
        int ka = s->slotof[a], kb = s->slotof[b];
        s->s_part[ka][s->s_npart[ka]] = kb;
        s->s_partdbl[ka][s->s_npart[ka]++] = g->pdouble[i];
        s->s_part[kb][s->s_npart[kb]] = ka;
        s->s_partdbl[kb][s->s_npart[kb]++] = g->pdouble[i];
    }
}

static void slot_rec(cs_run *r, int k, int pos, int rest)
{
    cs_slots *s = &r->s;
    int u, v, lo, hi;
    /* slots with one possible value are passed in this loop, not with a
     * call each: bracket hydrogens, and bonds that must stay single (an end
     * already saturated, or a cap of 0) */
    for (;;) {
        if (rest == 0 && s->remh_tot == 0) {
            /* nothing left to place: every later slot is 0 (xs[] beyond k
             * is kept at 0) and the rest of the line is the template's
             * tail, one copy */
            if (k < s->ns) {
                const char *tail = s->seg_p[k + 1];
                size_t len = (size_t)(s->tpl + s->tpl_len - tail);
                cs_copy(s->sbuf + pos, tail, len);
                pos += (int)len;
            }
            leaf(r, pos);
            return;
        }
        if (k == s->ns) return;
        if (s->s_type[k] == 1) {
            hal_rec(r, k, 0, pos, rest, 0, 0);
            return;
        }
        if (s->s_type[k] == 0) {
            u = s->s_u[k];
            v = s->s_v[k];
            hi = s->s_max[k];
            if (s->capc[u] < hi) hi = s->capc[u];
            if (s->capc[v] < hi) hi = s->capc[v];
            if (rest < hi) hi = rest;
            lo = rest - s->s_bsuf[k + 1];
            if (lo < 0) lo = 0;
            if (lo > hi) return;
            if (hi > 0) break;
        }
        /* a bracket atom's hydrogens, or a bond that stays single: xs[k]
         * is already 0 */
        cs_copy(s->sbuf + pos, s->seg_p[k + 1], (size_t)s->seg_l[k + 1]);
        pos += s->seg_l[k + 1];
        ++k;
    }
    const char *sp = s->seg_p[k + 1];
    int sl = s->seg_l[k + 1];
    for (int x = lo; x <= hi; ++x) {
        if (x > 0 && s->s_npart[k] && pair_clash(s, k, x)) continue;
        int q = pos;
        if (x) s->sbuf[q++] = (x == 1) ? '=' : '#';
        cs_copy(s->sbuf + q, sp, (size_t)sl);
        s->xs[k] = x;
        s->capc[u] -= x;
        s->capc[v] -= x;
        slot_rec(r, k + 1, q + sl, rest - x);
        s->capc[u] += x;
        s->capc[v] += x;
    }
    s->xs[k] = 0;
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

    cs_smiles_template(r);
    stabiliser(r);
    if (s->nstab || r->opt->arom) slot_order(r); /* only comparisons read it */
    pairs_to_slots(r);
    if (r->opt->arom) cs_arom_colouring(r);

    for (int j = 0; j < p->nhal; ++j) s->remh[j] = p->hal[j].cnt;
    s->remh_tot = p->htot;
    memset(s->xs, 0, (size_t)s->ns * sizeof(s->xs[0]));
    cs_copy(s->sbuf, s->seg_p[0], (size_t)s->seg_l[0]);
    slot_rec(r, 0, s->seg_l[0], rest);
}
