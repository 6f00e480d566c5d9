/* surge.h - the state of cloudsurge-surge, stage by stage.
 *
 * Clean-room implementation of the three-stage scheme published in McKay,
 * Yirik, Steinbeck, "Surge: a fast open-source chemical graph generator",
 * J Cheminform 2022, with the options of the Surge 2.0 manual:
 *   stage 1  simple.c   connected simple graphs from geng (same process),
 *                       pruned by the graph-level filters (cycles.c,
 *                       substruct.c, planar.c);
 *   stage 2  colour.c   element assignments, one per orbit of Aut(G);
 *   stage 3  bonds.c    bond multiplicities, one per orbit of the colouring's
 *                       stabiliser, then the molecule-level filters
 *                       (substruct.c, aromatic.c) and the writers (smiles.c
 *                       for SMILES, output.c for the other formats).
 * elements.c holds the element table and turns a formula into a plan;
 * main.c reads the command line and runs the formulae one by one; util.c
 * (util.h) is below them all: bit helpers and cs_die.
 *
 * All state lives in one cs_run, passed explicitly; geng's callbacks reach it
 * through the single pointer simple.c keeps for them.
 *
 * Licence: Apache-2.0.
 */
#ifndef CS_SURGE_H
#define CS_SURGE_H

#include <stddef.h>
#include <stdint.h>

#include "output.h"
#include "util.h"

#define CS_MAXELEM 48     /* element table entries (15 built in, the rest -E) */
#define CS_MAXCYC 1024    /* aromatic candidate cycles of one colouring (more: error) */
#define CS_MAXSLOTS (CS_MAXE + CS_MAXN)

/* ------------------------------------------------------------------ */
/* elements and formulae (elements.c)                                  */

typedef struct cs_element {
    char insym[3];  /* input symbol ("Nx") */
    char sym[3];    /* chemical symbol ("N") */
    int val;        /* valence */
    int maxcoord;   /* distinct neighbours, hydrogen included */
} cs_element;

typedef struct cs_elements {
    int n;
    cs_element e[CS_MAXELEM];
} cs_elements;

/* one colour: an element of the formula with its count */
typedef struct cs_type {
    int elem;       /* index in the element table */
    int val;
    int cmax;       /* most distinct neighbours allowed (with -c) */
    int cnt;
    int smiles_len; /* length of its SMILES atom (with brackets when needed) */
    char smiles[8];
} cs_type;

typedef struct cs_range {
    int on;
    long lo, hi;    /* inclusive; hi is CS_UNBOUNDED for "#:" */
} cs_range;

#define CS_UNBOUNDED 1000000000L

/* What one formula asks of the stages. */
typedef struct cs_plan {
    char text[256];      /* the formula as Surge writes it: table order, H last */
    int natoms, nH;
    int nbonds;          /* total bond order between heavy atoms */
    int nt;              /* skeleton colours */
    cs_type t[CS_MAXELEM];
    int nhal;            /* monovalent types placed as leaves at stage 3 */
    cs_type hal[CS_MAXELEM];
    int htot;            /* monovalent atoms placed as leaves */
    int n;               /* skeleton vertices given to geng */
    int possible;        /* 0: no structure can exist, count 0 */
    int emin, emax, dbe; /* Surge's edge range and double bond equivalents (all atoms) */
    int mine, maxe, maxdeg;
    int maxx;            /* highest extra bond order (2, or 1 with -T) */
    int atoms_ge[8];     /* skeleton atoms whose valence is >= k */
    int check_coord;     /* some atom's coordination limit can bite */
} cs_plan;

/* ------------------------------------------------------------------ */
/* options (main.c)                                                    */

enum cs_format { CS_FMT_NONE, CS_FMT_SMILES, CS_FMT_SDF, CS_FMT_ALPHA, CS_FMT_O1, CS_FMT_O2,
                 CS_FMT_O3 };

typedef struct cs_opts {
    enum cs_format format;
    int gzip, verbose, count_only;
    const char *outname;
    long res, mod;
    int no_triple, planar, bipartite, arom;
    cs_range cyc[7];     /* [3] -t, [4] -f, [5] -p, [6] -h: cycles of that length */
    cs_range c6ring;     /* -C: chord-free 6-cycles of carbon atoms */
    cs_range edges;      /* -e: bonds between heavy atoms */
    int maxd, maxc;      /* -d, -c */
    unsigned bsets;      /* bit k set for -Bk */
    int zlevel;          /* -Z: zstd level of the compressed parts ... */
    long zpart;          /* ... and their size in structures; 0: no -Z */
} cs_opts;

/* ------------------------------------------------------------------ */
/* stage 1: the simple graph (skeleton: monovalent leaves left out)    */

/* one step of a graph's SMILES walk: an atom, fixed text (ring digits,
 * parentheses), the bond symbol of an edge, or the leaves of a vertex */
enum cs_smiles_opcode { CS_OP_ATOM, CS_OP_LIT, CS_OP_BOND, CS_OP_LEAVES };
typedef struct cs_smiles_op {
    unsigned char op;
    unsigned char len;       /* CS_OP_LIT: bytes at lit + arg */
    unsigned short arg;      /* vertex, edge or offset in lit */
} cs_smiles_op;

#define CS_MAXPROG (4 * CS_MAXN + 3 * CS_MAXE)
#define CS_MAXLIT (2 * CS_MAXN + 6 * CS_MAXE)

typedef struct cs_graph {
    int n, ne;
    u32 adj[CS_MAXN];
    int deg[CS_MAXN];
    int eu[CS_MAXE], ev[CS_MAXE];
    signed char eidx[CS_MAXN][CS_MAXN];
    int extra;               /* bond order still to place: nbonds - ne */
    int ecap[CS_MAXE];       /* highest extra order an edge may take (-T, -B1..-B4) */
    int vge_suf[CS_MAXN + 1][8]; /* vertices >= v of degree >= k */
    int maxdeg_suf[CS_MAXN + 1]; /* highest degree of the vertices >= v */
    /* -B5/-B6: vertex pairs of edges that may not both be multiple (double
     * for -B6) unless the vertex has another heavy neighbour (a leaf) */
    int npair;
    int pv[CS_MAXN * 2], pa[CS_MAXN * 2], pb[CS_MAXN * 2], pdouble[CS_MAXN * 2];
    /* the SMILES walk of the graph (smiles.c), made once per graph: every
     * colouring replays it with its own atoms and slots */
    int nprog;
    cs_smiles_op prog[CS_MAXPROG];
    char lit[CS_MAXLIT + 8]; /* ring digits and parentheses the ops point into
                              * (+8: read a word at a time, cs_copy) */
} cs_graph;

/* Aut(G) as an explicit list of permutations (n bytes each) */
typedef struct cs_group {
    unsigned char *perm;
    size_t n, cap;
    size_t *htab;
    size_t hcap;
    int ngens;
    int gens[CS_MAXN + 1][CS_MAXN];
} cs_group;

/* ------------------------------------------------------------------ */
/* stage 2 and 3: colouring and bond slots                             */

typedef struct cs_slots {
    int col[CS_MAXN];        /* colour of each skeleton vertex */
    int capc[CS_MAXN];       /* valence left (hydrogens at the end) */
    int vhal[CS_MAXN];       /* leaves placed on each vertex */
    int vhalc[CS_MAXN][8];   /* ... of each monovalent type (first 8 types) */
    int esmax[CS_MAXE];
    int ns;                  /* slots: bond orders, then leaf groups */
    int s_type[CS_MAXSLOTS], s_u[CS_MAXSLOTS], s_v[CS_MAXSLOTS], s_max[CS_MAXSLOTS];
    int s_bsuf[CS_MAXSLOTS + 1], s_hsuf[CS_MAXSLOTS + 1];
    int slotof[CS_MAXE], halslot[CS_MAXN];
    int slot_pos[CS_MAXSLOTS];
    const char *seg_p[CS_MAXSLOTS + 1];
    int seg_l[CS_MAXSLOTS + 1];
    char tpl[8192];
    int tpl_len;
    int xs[CS_MAXSLOTS];     /* current value of each slot */
    char sbuf[8192];         /* SMILES being built */
    int remh[CS_MAXELEM], remh_tot;
    int rem[CS_MAXELEM], rge[8];
    unsigned char *stab;     /* distinct non-identity slot permutations */
    size_t nstab, stabcap;
    /* -R: candidate aromatic cycles of this colouring, as edge lists */
    int ncyc;
    int cyc_len[CS_MAXCYC];
    int cyc_e[CS_MAXCYC][CS_MAXN];
    int ord[CS_MAXSLOTS];    /* -R: bond slots in Surge's comparison order */
    int nord;
    int *closure;            /* -R: the class being explored, ns ints each */
    size_t closure_cap;      /* ints allocated */
    int has_brackets;        /* some atom is written [..H#]: render at the end */
    /* -B5/-B6 tested while bonds are placed (no leaves in the formula):
     * the slots each bond slot may not be multiple together with */
    int pairs_early;
    int s_npart[CS_MAXSLOTS], s_part[CS_MAXSLOTS][2], s_partdbl[CS_MAXSLOTS][2];
} cs_slots;

typedef struct cs_run {
    const cs_opts *opt;
    const cs_elements *el;
    const cs_plan *plan;
    cs_out out;
    unsigned long long count[4]; /* graphs, colourings, molecules, after -R */
    cs_graph g;
    cs_group grp;
    cs_slots s;
    cs_mol mol;                  /* scratch for the record writers */
} cs_run;

/* elements.c */
/* Read up to maxdigits decimal digits at *sp: how many (0 when none; -1, *sp
 * unchanged, when more), the value in *val. */
int cs_digits(const char **sp, int maxdigits, long *val);
void cs_elements_init(cs_elements *el);
/* -E definition (text after "-E"); returns 0 or -1 with a message in err */
int cs_elements_add(cs_elements *el, const char *def, char *err, size_t errlen);
/* Parse a formula and plan it; returns 0 or -1 with the reason in err. */
int cs_plan_formula(cs_plan *p, const char *formula, const cs_elements *el, const cs_opts *o,
                    char *err, size_t errlen);

/* simple.c: run geng for the plan; every graph goes through stages 2-3 */
void cs_run_formula(cs_run *r);

/* colour.c */
void cs_group_compute(cs_group *grp, u32 *adj, int n);
void cs_colourings(cs_run *r);

/* bonds.c */
void cs_bonds(cs_run *r);

/* smiles.c: the walk of a simple graph (once per graph), the template of
 * the coloured graph (sets the slots), and a whole line rendered again from
 * it (for bracket atoms' hydrogens) */
void cs_smiles_walk(cs_graph *g, int leaves);
void cs_smiles_template(cs_run *r);
size_t cs_smiles_render(const cs_run *r, char *out);

/* cycles.c: counts in a simple graph given by adjacency masks */
int cs_count_cycles(const u32 *adj, int n, int len);
int cs_count_rings6(const u32 *adj, int n, u32 among);
int cs_is_bipartite(const u32 *adj, int n);
/* Edge lists of the cycles of length len through vertices of 'among';
 * returns how many were stored (at most max). */
int cs_list_cycles(const u32 *adj, int n, u32 among, int len, const signed char eidx[][CS_MAXN],
                   int max, int lens[], int edges[][CS_MAXN]);
/* The same, chord-free cycles only when chordless; *total is how many there
 * are, so a caller sees when max was too small. */
int cs_find_cycles(const u32 *adj, int n, u32 among, int len, const signed char eidx[][CS_MAXN],
                   int chordless, int max, int lens[], int edges[][CS_MAXN], int *total);

/* Edge lists of the chord-free cycles of length 3..maxlen (any order);
 * returns how many were stored (at most max), *total how many there are. */
int cs_find_rings(const u32 *adj, int n, int maxlen, const signed char eidx[][CS_MAXN], int max,
                  int lens[], int edges[][CS_MAXN], int *total);

/* substruct.c: the -B sets */
int cs_sub_prune(unsigned bsets, const u32 *adj, int n);
/* The same for a graph whose first n-1 vertices are known to pass: only
 * what goes through vertex n-1 is looked at. */
int cs_sub_prune_new(unsigned bsets, const u32 *adj, int n);
void cs_sub_graph(unsigned bsets, cs_graph *g);

/* aromatic.c: -R */
void cs_arom_colouring(cs_run *r);
int cs_arom_keep(cs_run *r);

/* planar.c */
int cs_is_planar(const u32 *adj, int n);

#endif
