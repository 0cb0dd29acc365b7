#include "error.h"

#include <stdarg.h>
#include <stdio.h>

int field_error_set(struct field_error *err, const char *field, const char *fmt, ...)
{
	if (!err || err->field[0] || err->reason[0])
		return -EINVAL;
	snprintf(err->field, sizeof(err->field), "%s", field);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->reason, sizeof(err->reason), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

const char *field_error_str(const struct field_error *err, char *out, unsigned long size)
{
	if (err->field[0])
		snprintf(out, size, "%s: %s", err->field, err->reason);
	else
		snprintf(out, size, "%s", err->reason);
	return out;
}
