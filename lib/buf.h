/* A growable byte buffer with a hard cap chosen per use (a watch line, a request body),
 * after curl's dynbuf: appending past the cap fails with -EMSGSIZE instead of growing
 * without bound. The contents are always NUL-terminated so text users can read data
 * directly. */
#pragma once

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data;   /* NULL until the first append */
	size_t len;   /* bytes in use, excluding the terminating NUL */
	size_t alloc; /* bytes allocated */
	size_t max;   /* the cap: len never exceeds it */
};

#define BUF_INIT(cap) ((struct buf){.data = NULL, .len = 0, .alloc = 0, .max = (cap)})

void buf_init(struct buf *b, size_t max);
/* Releases memory; the buffer can be reused afterwards with the same cap. */
void buf_free(struct buf *b);
/* Empties the buffer but keeps its memory for the next use. */
void buf_reset(struct buf *b);

/* 0, or -EMSGSIZE when the result would exceed the cap (the buffer is unchanged then),
 * or -ENOMEM. */
int buf_append(struct buf *b, const void *data, size_t len);
int buf_append_str(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* Drops the first n bytes (a consumed line, say) and keeps the rest. */
void buf_consume(struct buf *b, size_t n);

/* "" for an empty buffer, never NULL. */
const char *buf_str(const struct buf *b);

/* Hands the NUL-terminated contents to the caller (free() them) and empties the buffer;
 * NULL on allocation failure. */
char *buf_steal(struct buf *b);

static inline void buf_freep(struct buf *b)
{
	buf_free(b);
}
#define _cleanup_buf_ __attribute__((cleanup(buf_freep)))
