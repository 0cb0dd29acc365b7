/* Fuzzes the recording parsers: the input is split into lines; the first is parsed as a cast
 * header, the rest as events. Neither may crash, leak or accept something malformed silently. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "recording/cast.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	int line = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		struct field_error err = {0};
		if (line++ == 0) {
			json_t *h = NULL;
			if (cast_parse_header(p, len, &h, &err) == 0)
				json_decref(h);
		} else {
			struct cast_event e;
			if (cast_parse_event(p, len, &e, &err) == 0) {
				/* What parses must re-serialize and parse back to the same event.
				 */
				struct buf b = BUF_INIT(4 * CAST_LINE_MAX);
				struct buf text = BUF_INIT(4 * CAST_LINE_MAX);
				struct utf8_carry c = {0};
				if (utf8_sanitize(&c, e.data, e.len, true, &text, NULL) == 0 &&
				    cast_event_line(&b, e.t_us, e.type, text.data ? text.data : "",
						    text.len) == 0) {
					struct cast_event back;
					if (cast_parse_event(b.data, b.len, &back, &err) != 0)
						__builtin_trap();
					if (back.len != text.len ||
					    memcmp(back.data, text.data ? text.data : "", text.len))
						__builtin_trap();
					cast_event_clear(&back);
				}
				buf_free(&b);
				buf_free(&text);
				cast_event_clear(&e);
			}
		}
		p += len + 1;
	}
	return 0;
}
