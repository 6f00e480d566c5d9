/* parts.c - compressed parts in a thread of their own (parts.h).
 *
 * The generating thread fills a buffer (cs_out's) record by record; every
 * CS_PART_STEP bytes of a part, and at each part's end, the buffer goes to
 * a small queue and the thread compresses it (libzstd, streaming), writing
 * the framed stream.  CS_PART_BUFFERS buffers in all bound the memory and
 * let generation and compression overlap on two cores.
 *
 * Licence: Apache-2.0.
 */
#include "parts.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "output.h"

#define CS_PART_BUFFERS 4

typedef struct item {
    unsigned char *buf;          /* NULL: stop */
    size_t len;
    int end;                     /* the part ends after these bytes */
    uint64_t structures, raw;    /* the part's counts, with end */
} item;

struct cs_parts {
    int fd;
    uint64_t part_size;
    uint64_t structures, raw;    /* of the open part (generating thread) */
    ZSTD_CCtx *cctx;
    unsigned char *out;          /* frame header + compressed bytes */
    size_t out_cap;
    unsigned char *pool[CS_PART_BUFFERS];
    unsigned char *free_list[CS_PART_BUFFERS];
    int nfree;
    item ring[CS_PART_BUFFERS + 1];
    int head, count;
    uint64_t parts, total;       /* written so far (compression thread) */
    int err;                     /* first errno of the compression thread */
    pthread_mutex_t lock;
    pthread_cond_t changed;
    pthread_t thread;
};

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; ++i) p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; ++i) p[i] = (unsigned char)(v >> (8 * i));
}

static void header(unsigned char *p, const char *tag, uint32_t len, uint64_t a, uint64_t b)
{
    memcpy(p, tag, 4);
    put_u32(p + 4, len);
    put_u64(p + 8, a);
    put_u64(p + 16, b);
}

/* one "CSZD" frame of what the compressor has given so far, if anything */
static int flush_data(cs_parts *P, ZSTD_outBuffer *ob)
{
    if (ob->pos == 0) return 0;
    header(P->out, "CSZD", (uint32_t)ob->pos, 0, 0);
    int e = cs_write_all(P->fd, P->out, CS_PART_HEADER + ob->pos);
    ob->pos = 0;
    return e;
}

/* feed the input (ZSTD_e_continue) or, with no input, close the zstd frame
 * (ZSTD_e_end); what comes out goes into one data frame */
static int pump(cs_parts *P, ZSTD_inBuffer *in, ZSTD_outBuffer *ob, ZSTD_EndDirective mode)
{
    for (;;) {
        size_t left = ZSTD_compressStream2(P->cctx, ob, in, mode);
        if (ZSTD_isError(left)) return EIO;
        int done = mode == ZSTD_e_end ? left == 0 : in->pos == in->size;
        if (done || ob->pos == ob->size) {
            int e = flush_data(P, ob);
            if (e) return e;
        }
        if (done) return 0;
    }
}

/* Compress one buffer; at a part's end close the zstd frame and say so.
 * The last bytes are fed like any others and the frame closed with no
 * input, as python-zstandard's compressobj does (codec.py): a first call
 * with ZSTD_e_end would write the content size into a short part's frame
 * header.  With the same zstd release both paths write the same bytes. */
static int compress_item(cs_parts *P, const item *it)
{
    ZSTD_inBuffer in = {it->buf, it->len, 0};
    ZSTD_outBuffer ob = {P->out + CS_PART_HEADER, P->out_cap - CS_PART_HEADER, 0};
    int e = pump(P, &in, &ob, ZSTD_e_continue);
    if (e || !it->end) return e;
    ZSTD_inBuffer none = {NULL, 0, 0};
    e = pump(P, &none, &ob, ZSTD_e_end);
    if (e) return e;
    unsigned char tail[CS_PART_HEADER];
    header(tail, "CSZP", 0, it->structures, it->raw);
    P->parts += 1;
    P->total += it->structures;
    return cs_write_all(P->fd, tail, sizeof(tail));
}

static void *compress_main(void *arg)
{
    cs_parts *P = arg;
    for (;;) {
        pthread_mutex_lock(&P->lock);
        while (P->count == 0) pthread_cond_wait(&P->changed, &P->lock);
        item it = P->ring[P->head];
        int failed = P->err;
        pthread_mutex_unlock(&P->lock);
        int e = 0;
        if (it.buf == NULL) {
            if (!failed) {
                unsigned char tail[CS_PART_HEADER];
                header(tail, "CSZE", 0, P->parts, P->total);
                e = cs_write_all(P->fd, tail, sizeof(tail));
            }
        } else if (!failed) {
            e = compress_item(P, &it); /* after an error: drain, do nothing */
        }
        pthread_mutex_lock(&P->lock);
        if (e && !P->err) P->err = e;
        P->head = (P->head + 1) % (CS_PART_BUFFERS + 1);
        P->count -= 1;
        if (it.buf) P->free_list[P->nfree++] = it.buf;
        pthread_cond_broadcast(&P->changed);
        pthread_mutex_unlock(&P->lock);
        if (it.buf == NULL) return NULL;
    }
}

/* queue an item, then wait for a free buffer (none for a stop); the
 * thread's first error, if any, goes to *err */
static unsigned char *hand_over(cs_parts *P, item it, int *err)
{
    pthread_mutex_lock(&P->lock);
    P->ring[(P->head + P->count) % (CS_PART_BUFFERS + 1)] = it;
    P->count += 1;
    pthread_cond_broadcast(&P->changed);
    unsigned char *next = NULL;
    if (it.buf) {
        while (P->nfree == 0) pthread_cond_wait(&P->changed, &P->lock);
        next = P->free_list[--P->nfree];
    }
    if (P->err && !*err) *err = P->err;
    pthread_mutex_unlock(&P->lock);
    return next;
}

static void free_parts(cs_parts *P)
{
    for (int i = 0; i < CS_PART_BUFFERS; ++i) free(P->pool[i]);
    free(P->out);
    ZSTD_freeCCtx(P->cctx);
    free(P);
}

cs_parts *cs_parts_open(int fd, int level, uint64_t part_size, unsigned char **buf)
{
    cs_parts *P = calloc(1, sizeof(*P));
    if (!P) return NULL;
    P->fd = fd;
    P->part_size = part_size;
    P->cctx = ZSTD_createCCtx();
    P->out_cap = CS_PART_HEADER + ZSTD_compressBound(CS_PART_STEP);
    P->out = malloc(P->out_cap);
    int ok = P->cctx && P->out;
    for (int i = 0; i < CS_PART_BUFFERS && ok; ++i) {
        P->pool[i] = malloc(CS_PART_STEP + CS_PART_SLACK);
        ok = P->pool[i] != NULL;
        if (ok && i > 0) P->free_list[P->nfree++] = P->pool[i];
    }
    if (ok && (ZSTD_isError(ZSTD_CCtx_setParameter(P->cctx, ZSTD_c_compressionLevel, level)) ||
               ZSTD_isError(ZSTD_CCtx_setParameter(P->cctx, ZSTD_c_checksumFlag, 1)))) {
        free_parts(P);
        errno = EINVAL;
        return NULL;
    }
    if (!ok || pthread_mutex_init(&P->lock, NULL) != 0) {
        free_parts(P);
        errno = ENOMEM;
        return NULL;
    }
    pthread_cond_init(&P->changed, NULL);
    int e = pthread_create(&P->thread, NULL, compress_main, P);
    if (e) {
        free_parts(P);
        errno = e;
        return NULL;
    }
    *buf = P->pool[0];
    return P;
}

void cs_parts_record(cs_out *o, size_t n)
{
    cs_parts *P = o->parts;
    P->structures += 1;
    P->raw += n;
    if (o->len >= CS_PART_STEP) { /* a full step: its tail starts the next buffer */
        unsigned char *full = o->buf;
        size_t rest = o->len - CS_PART_STEP;
        item it = {full, CS_PART_STEP, 0, 0, 0};
        /* the thread reads only the step's bytes: the tail can be copied after */
        unsigned char *next = hand_over(P, it, &o->err);
        memcpy(next, full + CS_PART_STEP, rest);
        o->buf = next;
        o->len = rest;
    }
    if (P->structures == P->part_size) {
        item it = {o->buf, o->len, 1, P->structures, P->raw};
        o->buf = hand_over(P, it, &o->err);
        o->len = 0;
        P->structures = P->raw = 0;
    }
}

int cs_parts_close(cs_out *o)
{
    cs_parts *P = o->parts;
    if (P->structures > 0 && !o->err) {
        item it = {o->buf, o->len, 1, P->structures, P->raw};
        o->buf = hand_over(P, it, &o->err);
    }
    item stop = {NULL, 0, 0, 0, 0};
    hand_over(P, stop, &o->err);
    pthread_join(P->thread, NULL);
    int e = P->err;
    pthread_mutex_destroy(&P->lock);
    pthread_cond_destroy(&P->changed);
    free_parts(P);
    o->parts = NULL;
    o->buf = NULL;
    o->len = o->cap = 0;
    return e;
}
