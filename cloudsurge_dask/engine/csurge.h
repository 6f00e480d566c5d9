/* csurge.h - shared declarations of the cloudsurge structure generator.
 *
 * Clean-room implementation of the three-level scheme published in
 * McKay, Yirik, Steinbeck, "Surge: a fast open-source chemical graph
 * generator", J Cheminform 2022: simple graphs from geng (compiled in the
 * same process), vertex colourings (elements) up to Aut(G), then bond
 * multiplicities up to the stabiliser of the colouring.
 *
 * Licence: Apache-2.0 (same as nauty/geng, which is linked in).
 */
#ifndef CSURGE_H
#define CSURGE_H

#include <stdint.h>

#define CS_MAXN 32 /* WORDSIZE 32 build of geng/nauty */
#define CS_MAXE 64 /* n * maxdeg / 2 with maxdeg <= 4 */

/* Planarity of the simple graph given as adjacency masks (bit j of adj[i]
 * set when i~j), n <= 32.  Returns 1 if planar, 0 otherwise. */
int cs_is_planar(const uint32_t *adj, int n);

#endif
