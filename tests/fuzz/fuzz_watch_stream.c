/* The watch stream is whatever the network delivers: any bytes, cut into any chunks, must
 * parse to the same events as the same bytes in one piece (the first input byte picks the
 * chunking), never crash, and never buffer more than the line cap. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "kube/watch_stream.h"

#define MAX_LINE 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int record(enum kube_event_type type, json_t *obj, void *userdata)
{
	struct buf *out = userdata;
	char *s = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	if (!s)
		abort();
	buf_printf(out, "%d %s\n", (int)type, s);
	free(s);
	if (type > KUBE_EVENT_ERROR || !json_is_object(obj))
		abort();
	return 0;
}

/* Feeds data in chunks whose sizes follow the seed; returns the first error. */
static int run(const uint8_t *data, size_t size, unsigned seed, struct buf *out,
	       unsigned long *skipped)
{
	struct kube_watch_stream ws;
	int r = 0;
	kube_watch_stream_init(&ws, MAX_LINE, record, out);
	for (size_t off = 0; off < size && r == 0;) {
		size_t n = seed ? 1 + (seed = seed * 1103515245u + 12345u) % 97 : size;
		if (n > size - off)
			n = size - off;
		r = kube_watch_stream_feed(&ws, data + off, n);
		if (ws.line.len > MAX_LINE)
			abort();
		off += n;
	}
	if (r == 0)
		r = kube_watch_stream_finish(&ws);
	*skipped = ws.skipped;
	kube_watch_stream_free(&ws);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned seed = data[0] | 1u;
	data++;
	size--;
	struct buf whole = BUF_INIT(64u << 20), chunked = BUF_INIT(64u << 20);
	unsigned long s1, s2;
	int r1 = run(data, size, 0, &whole, &s1);
	int r2 = run(data, size, seed, &chunked, &s2);
	/* An oversized line stops both at the same event; otherwise all must agree. */
	if (r1 != r2 || whole.len != chunked.len ||
	    memcmp(buf_str(&whole), buf_str(&chunked), whole.len) != 0)
		abort();
	if (r1 == 0 && s1 != s2)
		abort();
	buf_free(&whole);
	buf_free(&chunked);
	return 0;
}
