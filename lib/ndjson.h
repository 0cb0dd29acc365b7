/* Splits a byte stream into lines (newline-delimited JSON) as chunks arrive, with a bounded
 * buffer for a line split across chunks: a line longer than the cap is an error, never
 * unbounded growth. Blank lines (keep-alive newlines) are skipped. Pure: no I/O. */
#pragma once

#include <stddef.h>

#include "buf.h"

/* Called once per complete line (without the newline; NUL-terminated). A negative return
 * stops the feed and is returned by ndjson_feed(). */
typedef int (*ndjson_line_fn)(const char *line, size_t len, void *userdata);

struct ndjson {
	struct buf partial;
	ndjson_line_fn on_line;
	void *userdata;
};

void ndjson_init(struct ndjson *s, size_t max_line, ndjson_line_fn fn, void *userdata);
void ndjson_free(struct ndjson *s);
/* Forgets a partial line: a new connection starts clean. */
void ndjson_reset(struct ndjson *s);
/* 0; -EMSGSIZE when a line exceeds the cap (the partial line is dropped: the caller should
 * abandon the connection); or the callback's negative return. */
int ndjson_feed(struct ndjson *s, const void *data, size_t len);
/* At the end of the stream: 0, or -EPIPE when a partial line was cut off. */
int ndjson_finish(struct ndjson *s);
