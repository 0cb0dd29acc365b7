#include "recording/cast.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "canonical.h"
#include "cleanup.h"

static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */

/* Length of the UTF-8 sequence starting with lead byte c, or 0 for an invalid lead. */
static unsigned utf8_seq_len(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return 2;
	if (c >= 0xe0 && c <= 0xef)
		return 3;
	if (c >= 0xf0 && c <= 0xf4)
		return 4;
	return 0;
}

/* Whether s[0..n) (n = utf8_seq_len) is a valid character so far (prefix of have bytes):
 * continuation bytes, no overlongs, no surrogates, nothing above U+10FFFF. */
static bool utf8_prefix_valid(const unsigned char *s, unsigned have)
{
	for (unsigned i = 1; i < have; i++)
		if ((s[i] & 0xc0) != 0x80)
			return false;
	if (have >= 2) {
		if (s[0] == 0xe0 && s[1] < 0xa0)
			return false;
		if (s[0] == 0xed && s[1] > 0x9f)
			return false;
		if (s[0] == 0xf0 && s[1] < 0x90)
			return false;
		if (s[0] == 0xf4 && s[1] > 0x8f)
			return false;
	}
	return true;
}

static int append_replacement(struct buf *out, size_t *replaced)
{
	(*replaced)++;
	return buf_append(out, replacement, 3);
}

/* The decoder proper over one contiguous span; an incomplete character at its end goes to
 * carry unless flush. */
static int utf8_decode_span(struct utf8_carry *carry, const unsigned char *p, size_t len,
			    bool flush, struct buf *out, size_t *replaced)
{
	size_t i = 0;
	int r;
	while (i < len) {
		size_t start = i;
		/* ASCII eight bytes at a time: most terminal output is. */
		for (uint64_t w; i + 8 <= len; i += 8) {
			memcpy(&w, p + i, 8);
			if (w & 0x8080808080808080ull)
				break;
		}
		while (i < len && p[i] < 0x80)
			i++;
		if (i > start && (r = buf_append(out, p + start, i - start)) < 0)
			return r;
		if (i == len)
			break;
		unsigned need = utf8_seq_len(p[i]);
		unsigned have = (len - i) < need ? (unsigned)(len - i) : need;
		if (need == 0 || !utf8_prefix_valid(p + i, have) || (have < need && flush)) {
			if ((r = append_replacement(out, replaced)) < 0)
				return r;
			i++;
			continue;
		}
		if (have < need) {
			memcpy(carry->b, p + i, have);
			carry->n = have;
			return 0;
		}
		if ((r = buf_append(out, p + i, need)) < 0)
			return r;
		i += need;
	}
	return 0;
}

int utf8_sanitize(struct utf8_carry *carry, const void *data, size_t len, bool flush,
		  struct buf *out, size_t *ret_replaced)
{
	size_t replaced = 0;
	int r;
	if (carry->n > 0) {
		/* Finish the character the previous chunk ended in, through the same decoder. */
		unsigned char head[8];
		unsigned n = carry->n;
		size_t take = len < 4 ? len : 4;
		memcpy(head, carry->b, n);
		memcpy(head + n, data, take);
		carry->n = 0;
		unsigned need = utf8_seq_len(head[0]);
		size_t span = n + take;
		if (need > n && span >= need)
			span = need; /* just that character; the rest is decoded from data below */
		else if (span > n)
			span = n + take;
		/* Decode head[0..span) without flushing unless the input ends there. */
		bool last = span == n + take;
		r = utf8_decode_span(carry, head, span, flush && last, out, &replaced);
		if (r < 0)
			return r;
		size_t consumed = span - n;
		if (carry->n > 0) {
			if (consumed == len) {
				/* Still incomplete and the input is used up: keep waiting. */
				if (ret_replaced)
					*ret_replaced = replaced;
				return 0;
			}
			/* A new character started inside head from data's bytes (the old carry was
			 * a valid prefix, so only its lead can have been replaced): decode it again
			 * from data. */
			consumed -= carry->n;
			carry->n = 0;
		}
		data = (const unsigned char *)data + consumed;
		len -= consumed;
	}
	r = utf8_decode_span(carry, data, len, flush, out, &replaced);
	if (r < 0)
		return r;
	if (ret_replaced)
		*ret_replaced = replaced;
	return 0;
}

/* Bytes a JSON string cannot hold as they are: ", \, control characters and DEL. */
static const unsigned char needs_escape[256] = {
	[0x00 ... 0x1f] = 1,
	['"'] = 1,
	['\\'] = 1,
	[0x7f] = 1,
};

int json_escape_append(struct buf *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	/* Output is staged in a block and appended once per block: terminal output is long runs
	 * of plain text between a few escapes (\r\n), and this runs for every recorded byte. */
	char blk[16384];
	size_t n = 0, i = 0;
	int r;
	while (i < len) {
		size_t start = i;
		while (i < len && !needs_escape[(unsigned char)s[i]])
			i++;
		size_t run = i - start;
		if (run > sizeof(blk) - n) {
			if ((r = buf_append(out, blk, n)) < 0 ||
			    (r = buf_append(out, s + start, run)) < 0)
				return r;
			n = 0;
		} else {
			memcpy(blk + n, s + start, run);
			n += run;
		}
		if (i == len)
			break;
		if (n > sizeof(blk) - 6) {
			if ((r = buf_append(out, blk, n)) < 0)
				return r;
			n = 0;
		}
		unsigned char c = (unsigned char)s[i++];
		blk[n++] = '\\';
		switch (c) {
		case '"':
		case '\\': blk[n++] = (char)c; break;
		case '\n': blk[n++] = 'n'; break;
		case '\r': blk[n++] = 'r'; break;
		case '\t': blk[n++] = 't'; break;
		default:
			memcpy(blk + n, "u00", 3);
			blk[n + 3] = hex[c >> 4];
			blk[n + 4] = hex[c & 15];
			n += 5;
		}
	}
	return buf_append(out, blk, n);
}

int cast_event_line(struct buf *out, uint64_t t_us, const char *type, const char *text, size_t len)
{
	int r = buf_printf(out, "[%llu.%06llu,\"", (unsigned long long)(t_us / 1000000),
			   (unsigned long long)(t_us % 1000000));
	if (r >= 0)
		r = json_escape_append(out, type, strlen(type));
	if (r >= 0)
		r = buf_append(out, "\",\"", 3);
	if (r < 0)
		return r;
	r = json_escape_append(out, text, len);
	if (r < 0)
		return r;
	return buf_append(out, "\"]", 2);
}

int cast_header_line(struct buf *out, const json_t *header)
{
	if (json_integer_value(json_object_get(header, "version")) != 2 ||
	    !json_is_integer(json_object_get(header, "width")) ||
	    !json_is_integer(json_object_get(header, "height")))
		return -EINVAL;
	_cleanup_free_ char *s = json_canonical_dump(header);
	if (!s)
		return -ENOMEM;
	return buf_append_str(out, s);
}

int cast_parse_header(const char *line, size_t len, json_t **ret, struct field_error *err)
{
	if (len > CAST_LINE_MAX)
		return field_error_set(err, "header", "line of %zu bytes exceeds %u", len,
				       CAST_LINE_MAX);
	json_error_t jerr;
	json_t *h = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!h)
		return field_error_set(err, "header", "not JSON: %s", jerr.text);
	int r = 0;
	json_t *v = json_object_get(h, "version");
	if (!json_is_object(h))
		r = field_error_set(err, "header", "must be a JSON object");
	else if (!json_is_integer(v) || json_integer_value(v) != 2)
		r = field_error_set(err, "header.version", "must be 2");
	else if (!json_is_integer(json_object_get(h, "width")) ||
		 json_integer_value(json_object_get(h, "width")) <= 0 ||
		 json_integer_value(json_object_get(h, "width")) > 10000)
		r = field_error_set(err, "header.width", "must be an integer 1..10000");
	else if (!json_is_integer(json_object_get(h, "height")) ||
		 json_integer_value(json_object_get(h, "height")) <= 0 ||
		 json_integer_value(json_object_get(h, "height")) > 10000)
		r = field_error_set(err, "header.height", "must be an integer 1..10000");
	if (r < 0) {
		json_decref(h);
		return r;
	}
	*ret = h;
	return 0;
}

int cast_parse_event(const char *line, size_t len, struct cast_event *ret, struct field_error *err)
{
	if (len > CAST_LINE_MAX)
		return field_error_set(err, "event", "line of %zu bytes exceeds %u", len,
				       CAST_LINE_MAX);
	json_error_t jerr;
	json_t *a = json_loadb(line, len, JSON_ALLOW_NUL | JSON_DECODE_ANY, &jerr);
	if (!a)
		return field_error_set(err, "event", "not JSON: %s", jerr.text);
	int r = 0;
	json_t *t = json_array_get(a, 0), *ty = json_array_get(a, 1), *d = json_array_get(a, 2);
	double secs = json_number_value(t);
	if (!json_is_array(a) || json_array_size(a) != 3)
		r = field_error_set(err, "event", "must be an array [time, type, data]");
	else if (!json_is_number(t) || !isfinite(secs) || secs < 0 || secs > 1e9)
		r = field_error_set(err, "event[0]", "time must be a number of seconds >= 0");
	else if (!json_is_string(ty) || json_string_length(ty) == 0 ||
		 json_string_length(ty) >= sizeof(ret->type) ||
		 strspn(json_string_value(ty), "abcdefghijklmnopqrstuvwxyz") !=
			 json_string_length(ty))
		r = field_error_set(err, "event[1]", "type must be a short lowercase word");
	else if (!json_is_string(d))
		r = field_error_set(err, "event[2]", "data must be a string");
	if (r < 0) {
		json_decref(a);
		return r;
	}
	struct cast_event e = {.t_us = (uint64_t)llround(secs * 1e6), .len = json_string_length(d)};
	memcpy(e.type, json_string_value(ty), json_string_length(ty) + 1);
	e.data = malloc(e.len + 1);
	if (!e.data) {
		json_decref(a);
		return -ENOMEM;
	}
	memcpy(e.data, json_string_value(d), e.len + 1);
	json_decref(a);
	*ret = e;
	return 0;
}

void cast_event_clear(struct cast_event *e)
{
	free(e->data);
	e->data = NULL;
	e->len = 0;
}
