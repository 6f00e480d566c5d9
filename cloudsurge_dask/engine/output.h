/* output.h - where structures go, and in which format.
 *
 * One cs_out per run: a byte buffer flushed to a file descriptor in large
 * blocks, optionally through a gzip stream (-z).  The writers format one
 * complete molecule (cs_mol) as SDfile (-F), alphabetic (-A) or numeric
 * (-O2/-O3) text; -O1 writes a simple graph in graph6.  SMILES (-S) are not
 * written here: the bond stage fills a per-graph template (bonds.c) and hands
 * the finished line to cs_out_put.
 *
 * Licence: Apache-2.0.
 */
#ifndef CS_OUTPUT_H
#define CS_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

#define CS_MAXN 32 /* heavy atoms, halogens included (WORDSIZE 32 build) */
#define CS_MAXE 96 /* bonds between heavy atoms */

/* One complete molecule.  Atoms are numbered 0..n-1 in the generator's own
 * order; hydrogens are implicit (hyd[]). */
typedef struct cs_mol {
    int n;                       /* heavy atoms */
    int ne;                      /* bonds between heavy atoms */
    const char *sym[CS_MAXN];    /* standard chemical symbol ("N", "As") */
    const char *insym[CS_MAXN];  /* input symbol ("Nx", "Az"), used by -A */
    int elem[CS_MAXN];           /* element table index, written by -O2/-O3 */
    int val[CS_MAXN];            /* valence of the element (SDfile column) */
    int hyd[CS_MAXN];            /* attached hydrogens */
    int eu[CS_MAXE], ev[CS_MAXE];/* bond k joins atoms eu[k] and ev[k] */
    int mult[CS_MAXE];           /* 1 single, 2 double, 3 triple */
} cs_mol;

typedef struct cs_out {
    int fd;                      /* destination */
    int gzip;                    /* -z: deflate with a gzip header */
    void *zstream;               /* z_stream when gzip */
    unsigned char *buf;          /* pending bytes */
    size_t len, cap;
    unsigned char *zbuf;         /* compressed bytes staging */
    size_t zcap;
    int err;                     /* errno of the first failed write, else 0 */
    struct cs_parts *parts;      /* -Z: compressed parts (parts.h), else NULL */
} cs_out;

/* Open: fd 1 when path is NULL.  Returns 0, or -1 with errno set. */
/* write(2) all of p, retrying EINTR and partial writes: 0 or an errno (the
 * sink and -Z's framed stream write through it) */
int cs_write_all(int fd, const unsigned char *p, size_t n);
int cs_out_open(cs_out *o, const char *path, int gzip);
/* Open for -Z: each committed record is one structure, and every part_size
 * of them become one compressed part of the framed stream (parts.h). */
int cs_out_open_parts(cs_out *o, const char *path, int level, uint64_t part_size);
/* After a failed write o->err is set and later writes are dropped: the
 * caller checks it (cs_out_close returns -1).  Bad input to a writer (atom
 * index out of range, multiplicity not 1..3, n or ne too large) also sets
 * o->err (EINVAL) and that record is not written.
 * cs_out_reserve: at least n bytes at the end of the buffer, flushing first
 * when needed; returns where to write (NULL only when the sink is not open
 * or n exceeds the 1 MiB buffer and cannot be allocated).  cs_out_commit
 * then adds the bytes actually used (<= n); after an error it drops them. */
unsigned char *cs_out_reserve(cs_out *o, size_t n);
void cs_out_commit(cs_out *o, size_t n);
void cs_out_put(cs_out *o, const void *p, size_t n);
/* Flush everything (and finish the gzip member); close unless fd 1.
 * Returns 0, or -1 with errno set. */
int cs_out_close(cs_out *o);

/* Record writers; each reserves once, formats by hand and commits.  Bonds
 * are written in the order given, each with its lower atom number first.
 * -F: Surge's V2000 record ("\nSurge 2.0\n\n", counts, atoms with sym[] and
 *     val[], bonds 1-based with mult[], "M  END", "$$$$").
 * -A: "n ne FORMULA i-j i=j i#j": atoms 0-based; the caller has put m's
 *     atoms in formula order (insym[] is not needed: the formula carries
 *     the input symbols).
 * formula: the formula as written in -A lines ("C3OH4"): element order of
 * the element table, hydrogen last. */
void cs_write_sdf(cs_out *o, const cs_mol *m);
void cs_write_alpha(cs_out *o, const cs_mol *m, const char *formula);
/* -O2 (with_mult 0: no multiplicities) and -O3 (with_mult 1):
 * "n ne e0 .. e(n-1)  x y [m] ..." with elem[] as colours and m = mult-1;
 * two spaces before the first edge, as nauty's vcolg/multig -T write. */
void cs_write_numeric(cs_out *o, const cs_mol *m, int with_mult);
/* -O1: the simple graph in graph6, one line.  adj[i] has bit j (1u << j)
 * set when i~j, as in cs_graph.adj; only bits i < j of adj[j] are read.
 * The manual says -z does not apply to -O1: the caller opens without gzip. */
void cs_write_graph6(cs_out *o, const uint32_t *adj, int n);

#endif
