/* asciicast v2 lines (https://docs.asciinema.org/manual/asciicast/v2/): the header object and
 * the [time, type, data] events, written byte-for-byte the same way every time so that the
 * hash chain over them (recording/chain.h) can be recomputed from the file alone.
 *
 * Event times are microseconds since the session start, written as "%llu.%06llu" seconds.
 * Data is UTF-8 text: terminal bytes go through an incremental decoder that carries a
 * character split across two writes over to the next event and turns invalid bytes into
 * U+FFFD, as asciinema's own recorder does. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

#define CAST_LINE_MAX (1u << 20) /* a line we agree to parse; our writer stays far below */

/* The bytes of an incomplete UTF-8 character at the end of the previous chunk. */
struct utf8_carry {
	unsigned char b[4];
	unsigned n;
};

/* Appends the valid UTF-8 of carry + data to out, replacing each invalid byte with U+FFFD,
 * and keeps a trailing incomplete character in carry (flush: replace it instead). *ret_replaced
 * (may be NULL) receives how many bytes were replaced. 0 or -EMSGSIZE/-ENOMEM from out. */
int utf8_sanitize(struct utf8_carry *carry, const void *data, size_t len, bool flush,
		  struct buf *out, size_t *ret_replaced);

/* Appends s (valid UTF-8) as the body of a JSON string: ", \ and control characters escaped,
 * everything else verbatim. */
int json_escape_append(struct buf *out, const char *s, size_t len);

/* One event line without the newline: [12.000345,"o","text"]. type is "o", "i", "r" or "m". */
int cast_event_line(struct buf *out, uint64_t t_us, const char *type, const char *text, size_t len);

/* The header line: the canonical (sorted, compact) JSON of header, which must have
 * "version": 2, "width" and "height". */
int cast_header_line(struct buf *out, const json_t *header);

struct cast_event {
	uint64_t t_us;
	char type[4];
	char *data; /* NUL-terminated UTF-8 (may contain NUL; use len); free() */
	size_t len;
};

/* Parses a header line: -EINVAL with err naming the field for a malformed one. */
int cast_parse_header(const char *line, size_t len, json_t **ret, struct field_error *err);
/* Parses an event line: -EINVAL with err ("[0]": "time must be a non-negative number"). */
int cast_parse_event(const char *line, size_t len, struct cast_event *ret, struct field_error *err);
void cast_event_clear(struct cast_event *e);
