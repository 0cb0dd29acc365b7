/* Standard base64 (RFC 4648): an admission response's patch, a Secret's data, a webhook
 * configuration's caBundle and a kubeconfig's inline certificates are all carried in it. */
#pragma once

#include <stddef.h>

#include "buf.h"

/* Appends the encoding of data[0..len) to out. 0, -EMSGSIZE, -ENOMEM. */
int base64_append(struct buf *out, const unsigned char *data, size_t len);

/* Appends the decoding of text[0..len) to out (NUL-terminated there, as every buf). Padding is
 * required, whitespace is not allowed. 0, -EINVAL for anything that is not base64, -EMSGSIZE,
 * -ENOMEM. */
int base64_decode_append(struct buf *out, const char *text, size_t len);

/* The same, as kubeconfig writers produce it: line breaks are ignored and padding is optional;
 * but padding that is present must complete the last quantum, and a lone trailing digit
 * (which cannot encode a byte) is an error. */
int base64_decode_lenient_append(struct buf *out, const char *text, size_t len);
