/* util.h - what every stage shares, below all of them: the word type, bit
 * helpers, short copies and the fatal-error exit.  Nothing here calls up
 * into a stage or main.c.
 *
 * Licence: Apache-2.0.
 */
#ifndef CS_UTIL_H
#define CS_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef uint32_t u32;

/* vertex sets of at most 32 vertices as bit masks */
#define CS_BIT(i) ((u32)1 << (i))
#define CS_POP(m) (__builtin_popcount(m))
#define CS_LOWBIT(m) (__builtin_ctz(m))

/* Copy n bytes in 8-byte words: a SMILES piece is a few bytes, for which a
 * call to memcpy costs more than the copy.  Writes (and reads) up to 8 bytes
 * past n (at least 8 always): both buffers need that much room.  The first
 * word unconditionally: most pieces fit in it, so the loop rarely runs. */
static inline void cs_copy(char *dst, const char *src, size_t n)
{
    memcpy(dst, src, 8);
    for (size_t i = 8; i < n; i += 8) memcpy(dst + i, src + i, 8);
}

/* One ">E message" line on stderr (stdout flushed first), exit status 1. */
void cs_die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

#endif
