/* Standard base64 (RFC 4648, with padding): an admission response's patch, a Secret's data and
 * a webhook configuration's caBundle are all carried in it. */
#pragma once

#include <stddef.h>

#include "buf.h"

/* Appends the encoding of data[0..len) to out. 0, -EMSGSIZE, -ENOMEM. */
int base64_append(struct buf *out, const unsigned char *data, size_t len);

/* Appends the decoding of text[0..len) to out (NUL-terminated there, as every buf). Padding is
 * required, whitespace is not allowed. 0, -EINVAL for anything that is not base64, -EMSGSIZE,
 * -ENOMEM. */
int base64_decode_append(struct buf *out, const char *text, size_t len);
