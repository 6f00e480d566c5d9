/* harness.h - the C unit tests' shared counting: a context with a scratch
 * folder, and ok() that counts a check and names it when it fails.
 *
 * Licence: Apache-2.0.
 */
#ifndef CS_TEST_HARNESS_H
#define CS_TEST_HARNESS_H

#include <stdio.h>

typedef struct tctx {
    int passed, failed;
    char dir[256]; /* scratch folder */
    int seq;       /* names scratch files apart */
} tctx;

static inline void ok(tctx *t, int cond, const char *name)
{
    if (cond) {
        t->passed++;
    } else {
        t->failed++;
        printf("FAIL %s\n", name);
    }
}

#endif
