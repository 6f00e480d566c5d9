/* elements.c - the element table, -E definitions, and formula plans.
 *
 * The table follows Table 1 of the Surge 2.0 manual (input symbol, chemical
 * symbol, valence, maximum coordination), in its index order, which is also
 * the order elements are written in formulae.  Boron has valence 3 (what
 * Surge computes, although the manual's table prints 2).
 *
 * Licence: Apache-2.0.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "surge.h"

static const cs_element BUILTIN[] = {
    {"C", "C", 4, 4},   {"N", "N", 3, 3},   {"O", "O", 2, 2},   {"P", "P", 3, 3},
    {"S", "S", 2, 2},   {"F", "F", 1, 1},   {"Cl", "Cl", 1, 1}, {"Br", "Br", 1, 1},
    {"I", "I", 1, 1},   {"B", "B", 3, 3},   {"Nx", "N", 5, 4},  {"Sx", "S", 4, 4},
    {"Sy", "S", 6, 6},  {"Px", "P", 5, 5},  {"Si", "Si", 4, 4},
};

void cs_elements_init(cs_elements *el)
{
    el->n = (int)(sizeof(BUILTIN) / sizeof(BUILTIN[0]));
    memcpy(el->e, BUILTIN, sizeof(BUILTIN));
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* an element symbol: an uppercase letter, optionally one lowercase letter */
static int symbol_len(const char *s)
{
    if (!isupper((unsigned char)s[0])) return 0;
    return islower((unsigned char)s[1]) ? 2 : 1;
}

int cs_elements_add(cs_elements *el, const char *def, char *err, size_t errlen)
{
    /* -EXv -EXYv -EXvc -EXYvc */
    const char *p = def;
    int lx = symbol_len(p);
    if (lx == 0) return fail(err, errlen, "bad -E value '%s': expected -EXv, -EXYv, -EXvc or -EXYvc", def);
    char x[3] = {0}, y[3] = {0};
    memcpy(x, p, (size_t)lx);
    p += lx;
    int ly = symbol_len(p);
    if (ly > 0) {
        memcpy(y, p, (size_t)ly);
        p += ly;
    } else {
        memcpy(y, x, sizeof(x));
    }
    if (!isdigit((unsigned char)p[0]))
        return fail(err, errlen, "bad -E value '%s': the valence must be one digit", def);
    int v = p[0] - '0', c = v;
    ++p;
    if (isdigit((unsigned char)p[0])) c = *p++ - '0';
    if (*p != '\0')
        return fail(err, errlen, "bad -E value '%s': expected -EXv, -EXYv, -EXvc or -EXYvc", def);
    if (v < 1) return fail(err, errlen, "bad -E value '%s': the valence must be 1 to 9", def);
    if (c < 1) return fail(err, errlen, "bad -E value '%s': the coordination must be 1 to 9", def);
    if (strcmp(x, "H") == 0) return fail(err, errlen, "bad -E value '%s': H can't be redefined", def);
    for (int i = 0; i < el->n; ++i)
        if (strcmp(el->e[i].insym, x) == 0)
            return fail(err, errlen, "bad -E value '%s': element %s is already defined", def, x);
    if (el->n >= CS_MAXELEM) return fail(err, errlen, "too many -E elements");
    cs_element *e = &el->e[el->n++];
    memcpy(e->insym, x, sizeof(e->insym));
    memcpy(e->sym, y, sizeof(e->sym));
    e->val = v;
    e->maxcoord = c;
    return 0;
}

/* An atom is written bare (SMILES' organic subset, hydrogens implied) when
 * its element is in that subset at its usual valence; otherwise in brackets
 * with its hydrogen count ([SH2], [SiH3]), which bonds.c fills in. */
static int bare_in_smiles(const char *sym, int val)
{
    static const struct { const char *sym; int val; } ORG[] = {
        {"B", 3}, {"C", 4}, {"N", 3}, {"O", 2}, {"P", 3}, {"S", 2},
        {"F", 1}, {"Cl", 1}, {"Br", 1}, {"I", 1},
    };
    for (size_t i = 0; i < sizeof(ORG) / sizeof(ORG[0]); ++i)
        if (strcmp(sym, ORG[i].sym) == 0) return val == ORG[i].val;
    return 0;
}

static void set_type(cs_type *t, const cs_elements *el, int elem, int cnt, const cs_opts *o)
{
    const cs_element *e = &el->e[elem];
    t->elem = elem;
    t->val = e->val;
    t->cnt = cnt;
    t->cmax = e->maxcoord < o->maxc ? e->maxcoord : o->maxc;
    if (strcmp(e->sym, "N") == 0 && t->cmax > 4) t->cmax = 4;
    if (bare_in_smiles(e->sym, e->val)) {
        snprintf(t->smiles, sizeof(t->smiles), "%s", e->sym);
    } else {
        snprintf(t->smiles, sizeof(t->smiles), "[%s]", e->sym);
    }
    t->smiles_len = (int)strlen(t->smiles);
}

/* The formulae Surge refuses (exit status 1) rather than answering 0, as
 * fitted to its reference table (SEMANTICS.md): twice the double bond
 * equivalents D2 odd or negative; no edge count possible (with -e); or the
 * elements' coordination limits needing more multiple bonds than D2 gives. */
static int refused(cs_plan *p, const char *f, const long *cnt, const cs_elements *el,
                   const cs_opts *o, long V, long h, char *err, size_t errlen)
{
    int n = p->natoms;
    long d2 = V - 2L * n + 2 - h;
    if (d2 % 2 != 0)
        return fail(err, errlen, "impossible hydrogen count in '%s': valence sum minus H is odd", f);
    if (d2 < 0)
        return fail(err, errlen, "no structure possible for '%s': too many hydrogens to connect %d atoms", f, n);
    long need = 0;
    for (int i = 0; i < el->n; ++i) {
        if (cnt[i] == 0) continue;
        int c = el->e[i].maxcoord < o->maxc ? el->e[i].maxcoord : o->maxc;
        if (el->e[i].val > c) need += el->e[i].val - c;
    }
    if (need > d2)
        return fail(err, errlen,
                    "no structure possible for '%s': coordination limits need more multiple bonds", f);
    long emin = n - 1, emax = n - 1 + d2 / 2;
    if (h == 0 && n > 1) {
        /* an atom without hydrogens needs ceil(valence / 3) bonds */
        long mindeg = 9;
        for (int i = 0; i < el->n; ++i)
            if (cnt[i] > 0 && (el->e[i].val + 2) / 3 < mindeg) mindeg = (el->e[i].val + 2) / 3;
        if ((n * mindeg + 1) / 2 > emin) emin = (n * mindeg + 1) / 2;
    }
    if (emax > (long)n * (n - 1) / 2) emax = (long)n * (n - 1) / 2;
    if (o->edges.on) {
        if (o->edges.lo > emin) emin = o->edges.lo;
        if (o->edges.hi < emax) emax = o->edges.hi;
    }
    if (emin > emax)
        return fail(err, errlen, "no structure possible for '%s': no bond count fits (%ld > %ld)", f,
                    emin, emax);
    /* what Surge reports: the multiple bonds the coordination limits force
     * leave fewer double bond equivalents for rings, so fewer edges */
    p->dbe = (int)((d2 - need) / 2);
    p->emin = (int)emin;
    p->emax = (int)(n - 1 + p->dbe < emax ? n - 1 + p->dbe : emax);
    return 0;
}

int cs_digits(const char **sp, int maxdigits, long *val)
{
    const char *s = *sp;
    long v = 0;
    int nd = 0;
    while (isdigit((unsigned char)*s)) {
        if (++nd > maxdigits) return -1;
        v = v * 10 + (*s++ - '0');
    }
    *sp = s;
    *val = v;
    return nd;
}

/* an atom count: digits, or 1 when none */
static int parse_count(const char **pp, long *val)
{
    int nd = cs_digits(pp, 7, val);
    if (nd == 0) *val = 1;
    return nd >= 0;
}

int cs_plan_formula(cs_plan *p, const char *f, const cs_elements *el, const cs_opts *o,
                    char *err, size_t errlen)
{
    long cnt[CS_MAXELEM] = {0}, h = 0, heavy = 0;
    const char *s = f;
    memset(p, 0, sizeof(*p));
    if (*s == '\0') return fail(err, errlen, "empty formula");
    while (*s) {
        int len = symbol_len(s);
        if (len == 0) return fail(err, errlen, "malformed formula '%s'", f);
        int elem = -2;
        if (len == 1 && s[0] == 'H') elem = -1;
        for (int i = 0; i < el->n && elem == -2; ++i)
            if (strncmp(s, el->e[i].insym, (size_t)len) == 0 && el->e[i].insym[len] == '\0')
                elem = i;
        if (elem == -2) return fail(err, errlen, "unknown element %.*s in formula '%s'", len, s, f);
        s += len;
        long c;
        if (!parse_count(&s, &c)) return fail(err, errlen, "atom count too large in formula '%s'", f);
        if (elem == -1) {
            h += c;
        } else {
            cnt[elem] += c;
            heavy += c;
        }
        if (h > 1000000 || heavy > 1000000) return fail(err, errlen, "too many atoms in '%s'", f);
    }
    if (heavy == 0) return fail(err, errlen, "formula '%s' has no heavy atoms", f);
    if (heavy > CS_MAXN)
        return fail(err, errlen, "too many heavy atoms in '%s' (%ld > %d)", f, heavy, CS_MAXN);
    p->natoms = (int)heavy;
    p->nH = (int)h;

    /* the formula as written back: table order, hydrogen last */
    size_t tl = 0;
    for (int i = 0; i < el->n; ++i) {
        if (cnt[i] == 0) continue;
        tl += (size_t)snprintf(p->text + tl, sizeof(p->text) - tl, cnt[i] > 1 ? "%s%ld" : "%s",
                               el->e[i].insym, cnt[i]);
    }
    if (h > 0) snprintf(p->text + tl, sizeof(p->text) - tl, h > 1 ? "H%ld" : "H", h);

    long V = 0, nmono = 0;
    for (int i = 0; i < el->n; ++i) {
        V += (long)el->e[i].val * cnt[i];
        if (el->e[i].val == 1) nmono += cnt[i];
    }
    if (refused(p, f, cnt, el, o, V, h, err, errlen)) return -1;
    int possible = 1;
    p->nbonds = (int)((V - h) / 2);
    int n = p->natoms;

    /* monovalent atoms become leaves placed at stage 3 when a skeleton atom
     * exists, unless the output shows stage-1/2 graphs (-O1/-O2) or -R needs
     * Surge's own numbering of the whole graph to pick a class's member */
    int split = nmono > 0 && nmono < n && o->format != CS_FMT_O1 && o->format != CS_FMT_O2 &&
                !o->arom;
    for (int i = 0; i < el->n; ++i) {
        if (cnt[i] == 0) continue;
        if (split && el->e[i].val == 1) {
            set_type(&p->hal[p->nhal++], el, i, (int)cnt[i], o);
        } else {
            set_type(&p->t[p->nt++], el, i, (int)cnt[i], o);
        }
    }
    if (split) {
        p->htot = (int)nmono;
        n -= (int)nmono;
        p->nbonds -= (int)nmono;
        if (p->nbonds < 0) possible = 0;
    }
    p->n = n;

    int maxval = 0;
    for (int t = 0; t < p->nt; ++t) {
        int v = p->t[t].val < p->t[t].cmax ? p->t[t].val : p->t[t].cmax;
        if (v > maxval) maxval = v;
        if (p->t[t].val > p->t[t].cmax || p->t[t].val >= 5) p->check_coord = 1;
    }
    p->maxx = o->no_triple ? 1 : 2;
    for (int k = 0; k < 8; ++k) {
        p->atoms_ge[k] = 0;
        for (int t = 0; t < p->nt; ++t)
            if (p->t[t].val >= k) p->atoms_ge[k] += p->t[t].cnt;
    }
    int maxdeg = maxval < o->maxd ? maxval : o->maxd;
    if (maxdeg > n - 1) maxdeg = n - 1;
    int mine = n - 1, maxe;
    int minb = (p->nbonds + p->maxx) / (p->maxx + 1);
    if (minb > mine) mine = minb;
    maxe = p->emax - p->htot; /* leaves take one edge each */
    if (maxe > n * (n - 1) / 2) maxe = n * (n - 1) / 2;
    if (maxe > n * maxdeg / 2) maxe = n * maxdeg / 2;
    if (o->edges.on) {
        /* -e counts every bond between heavy atoms, leaves included */
        long lo = o->edges.lo - p->htot, hi = o->edges.hi - p->htot;
        if (lo > mine) mine = (int)(lo < CS_UNBOUNDED ? lo : CS_UNBOUNDED);
        if (hi < maxe) maxe = hi < 0 ? -1 : (int)hi;
    }
    if (n == 1) {
        if (p->nbonds != 0 || mine > 0 || maxe < 0) possible = 0;
        mine = maxe = 0;
    } else if (mine > maxe) {
        possible = 0;
    }
    p->possible = possible;
    p->maxdeg = maxdeg;
    p->mine = mine;
    p->maxe = maxe;
    return 0;
}
