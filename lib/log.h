/* JSON-lines structured logging on stderr with Kubernetes' structured-log fields:
 *   {"ts":1732189200.123,"caller":"watch.c:88","v":2,"msg":"relisting","err":"...","kind":"Pod"}
 * A message is emitted when its verbosity v is at most the level set with -v N.
 * Key/value pairs follow the message as (const char *key, const char *value) pairs; the
 * macros add the terminating NULL. LOG_INT() formats a number for a value slot.
 *
 * Library code logs at v >= 4 at most; callers log failures once with the errno. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

void log_set_verbosity(int v);
int log_get_verbosity(void);
static inline bool log_enabled(int v)
{
	extern int log_verbosity;
	return v <= log_verbosity;
}
/* For tests: send log lines somewhere other than stderr (NULL restores stderr). */
void log_set_stream(FILE *f);

/* err is 0 or a negative errno; it becomes the "err" field. */
void log_emit(const char *file, int line, int v, int err, const char *msg, ...)
	__attribute__((sentinel));

#define log_info(v, msg, ...)                                                                     \
	do {                                                                                      \
		if (log_enabled(v))                                                               \
			log_emit(__FILE__, __LINE__, (v), 0, (msg), ##__VA_ARGS__, (char *)NULL); \
	} while (0)
#define log_error(err, msg, ...) \
	log_emit(__FILE__, __LINE__, 0, (err), (msg), ##__VA_ARGS__, (char *)NULL)
/* Something was skipped or degraded, but we carry on. */
#define log_warn(msg, ...) log_emit(__FILE__, __LINE__, 0, 0, (msg), ##__VA_ARGS__, (char *)NULL)

#define LOG_INT(x)	   log_fmt_int((char[24]){0}, (long long)(x))
const char *log_fmt_int(char out[24], long long x);
