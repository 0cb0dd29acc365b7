#include "ndjson.h"

#include <errno.h>
#include <string.h>

void ndjson_init(struct ndjson *s, size_t max_line, ndjson_line_fn fn, void *userdata)
{
	*s = (struct ndjson){.partial = BUF_INIT(max_line), .on_line = fn, .userdata = userdata};
}

void ndjson_free(struct ndjson *s)
{
	buf_free(&s->partial);
}
void ndjson_reset(struct ndjson *s)
{
	buf_reset(&s->partial);
}

/* Delivers the buffered line without a trailing CR (CRLF senders), skipping blank ones. */
static int deliver(struct ndjson *s)
{
	struct buf *b = &s->partial;
	if (b->len && b->data[b->len - 1] == '\r')
		b->data[--b->len] = '\0';
	return b->len ? s->on_line(b->data, b->len, s->userdata) : 0;
}

/* Every line goes through the buffer, even one that arrived whole: the callback gets a
 * NUL-terminated string without our writing into the caller's chunk. */
int ndjson_feed(struct ndjson *s, const void *data, size_t len)
{
	const char *p = data, *end = p + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		int r = buf_append(&s->partial, p, (size_t)((nl ? nl : end) - p));
		if (r < 0) {
			buf_reset(&s->partial);
			return r;
		}
		if (!nl)
			return 0;
		r = deliver(s);
		buf_reset(&s->partial);
		if (r < 0)
			return r;
		p = nl + 1;
	}
	return 0;
}

int ndjson_finish(struct ndjson *s)
{
	if (!s->partial.len)
		return 0;
	buf_reset(&s->partial);
	return -EPIPE;
}
