#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

int log_verbosity = 0;
static FILE *log_stream;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void log_set_verbosity(int v)
{
	log_verbosity = v;
}
int log_get_verbosity(void)
{
	return log_verbosity;
}
void log_set_stream(FILE *f)
{
	log_stream = f;
}

const char *log_fmt_int(char out[24], long long x)
{
	snprintf(out, 24, "%lld", x);
	return out;
}

static void put_json_string(FILE *f, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		default:
			if (*p < 0x20) {
				fputs("\\u00", f);
				fputc(hex[*p >> 4], f);
				fputc(hex[*p & 15], f);
			} else {
				fputc(*p, f);
			}
		}
	}
	fputc('"', f);
}

void log_emit(const char *file, int line, int v, int err, const char *msg, ...)
{
	int saved_errno = errno;
	FILE *f = log_stream ? log_stream : stderr;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	const char *base = strrchr(file, '/');
	base = base ? base + 1 : file;

	pthread_mutex_lock(&log_lock);
	fprintf(f,
		"{\"ts\":%lld.%03ld,\"caller\":\"%s:%d\",\"v\":%d,\"msg\":", (long long)ts.tv_sec,
		ts.tv_nsec / 1000000, base, line, v);
	put_json_string(f, msg);
	if (err) {
		fputs(",\"err\":", f);
		put_json_string(f, strerror(err < 0 ? -err : err));
	}
	va_list ap;
	va_start(ap, msg);
	for (;;) {
		const char *key = va_arg(ap, const char *);
		if (!key)
			break;
		const char *value = va_arg(ap, const char *);
		fputc(',', f);
		put_json_string(f, key);
		fputc(':', f);
		put_json_string(f, value ? value : "");
	}
	va_end(ap);
	fputs("}\n", f);
	fflush(f);
	pthread_mutex_unlock(&log_lock);
	errno = saved_errno;
}
