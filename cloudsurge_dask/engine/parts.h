/* parts.h - the engine compressing its own output into parts (-Z LEVEL:PARTSIZE).
 *
 * Only the pipeline asks for it (cloudsurge_dask/generate/framed.py reads
 * it): instead of raw text on stdout, every PARTSIZE structures (records:
 * a SMILES line, an SDfile record ending "$$$$") become one zstd frame of
 * their own, compressed by a thread of its own while generation goes on.
 * Each part is compressed in fixed CS_PART_STEP input steps from its first
 * byte, with the content checksum on and no content size, so its bytes
 * depend only on its content (a redo writes identical parts).
 *
 * The stream on stdout is a sequence of frames, each a 24-byte header
 * (tag[4], u32, u64, u64; little-endian) and for "CSZD" data after it:
 *   "CSZD" len 0 0                compressed bytes of the current part
 *   "CSZP" 0 structures raw_bytes  the current part ends here
 *   "CSZE" 0 parts structures      the stream ends here (always last)
 * A stream without its "CSZE" frame was cut short.
 *
 * Licence: Apache-2.0.
 */
#ifndef CS_PARTS_H
#define CS_PARTS_H

#include <stddef.h>
#include <stdint.h>

#define CS_PART_STEP ((size_t)1 << 20) /* compressor input step, as codec.py's CHUNK */
#define CS_PART_SLACK ((size_t)1 << 16) /* room past a step for the record that crosses it */
#define CS_PART_HEADER 24

struct cs_out;
typedef struct cs_parts cs_parts;

/* Start the compression thread writing frames to fd; the first buffer
 * (CS_PART_STEP + CS_PART_SLACK bytes) is returned in *buf.  NULL with
 * errno set on failure. */
cs_parts *cs_parts_open(int fd, int level, uint64_t part_size, unsigned char **buf);
/* One record of n bytes was committed to o's buffer: cut a step or a part
 * when due (o->buf and o->len may change).  Errors land in o->err. */
void cs_parts_record(struct cs_out *o, size_t n);
/* End the open part (if any), write the end frame, stop the thread and
 * free every buffer (o->buf included).  Returns 0 or an errno value. */
int cs_parts_close(struct cs_out *o);

#endif
