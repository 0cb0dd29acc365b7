/* Standard base64 with padding (see base64.h). */
#include "base64.h"

#include <errno.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_append(struct buf *out, const unsigned char *data, size_t len)
{
	char chunk[4];
	int r;
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)data[i] << 16;
		if (i + 1 < len)
			v |= (unsigned)data[i + 1] << 8;
		if (i + 2 < len)
			v |= data[i + 2];
		chunk[0] = alphabet[(v >> 18) & 63];
		chunk[1] = alphabet[(v >> 12) & 63];
		chunk[2] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
		chunk[3] = i + 2 < len ? alphabet[v & 63] : '=';
		if ((r = buf_append(out, chunk, 4)) < 0)
			return r;
	}
	/* An empty input still leaves a valid (empty) string behind. */
	return len ? 0 : buf_append(out, "", 0);
}

static int sextet(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int base64_decode_append(struct buf *out, const char *text, size_t len)
{
	if (len % 4)
		return -EINVAL;
	for (size_t i = 0; i < len; i += 4) {
		int s[4], pad = 0;
		for (int k = 0; k < 4; k++) {
			char c = text[i + k];
			if (c == '=' && i + 4 == len && k >= 2) {
				s[k] = 0;
				pad++;
				continue;
			}
			if (pad || (s[k] = sextet(c)) < 0)
				return -EINVAL;
		}
		unsigned v = (unsigned)s[0] << 18 | (unsigned)s[1] << 12 | (unsigned)s[2] << 6 |
			     (unsigned)s[3];
		unsigned char bytes[3] = {(unsigned char)(v >> 16), (unsigned char)(v >> 8),
					  (unsigned char)v};
		int r = buf_append(out, bytes, (size_t)(3 - pad));
		if (r < 0)
			return r;
	}
	return len ? 0 : buf_append(out, "", 0);
}

int base64_decode_lenient_append(struct buf *out, const char *text, size_t len)
{
	struct buf clean = BUF_INIT(len + 3);
	int r = 0;
	for (size_t i = 0; i < len && r == 0; i++)
		if (text[i] != '\n' && text[i] != '\r')
			r = buf_append(&clean, &text[i], 1);
	size_t digits = clean.len;
	while (digits && buf_str(&clean)[digits - 1] == '=')
		digits--;
	/* Padding is optional, but padding that is there must complete the last quantum. */
	if (r == 0 && (digits % 4 == 1 || (clean.len != digits && clean.len % 4)))
		r = -EINVAL;
	while (r == 0 && clean.len % 4)
		r = buf_append(&clean, "=", 1);
	r = r ?: base64_decode_append(out, buf_str(&clean), clean.len);
	buf_free(&clean);
	return r;
}
