/* util.c - the fatal-error exit every stage may call (util.h).
 *
 * Licence: Apache-2.0.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "util.h"

void cs_die(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fputs(">E ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}
