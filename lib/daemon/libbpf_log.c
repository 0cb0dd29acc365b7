/* libbpf messages into the log (libbpf_log.h). */
#include "daemon/libbpf_log.h"

#include <bpf/libbpf.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

__attribute__((format(printf, 2, 0))) static int libbpf_to_log(enum libbpf_print_level level,
							       const char *fmt, va_list ap)
{
	int v = level == LIBBPF_WARN ? 4 : 6;
	if (!log_enabled(v))
		return 0;
	char line[1024];
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	log_info(v, "libbpf", "detail", line);
	return 0;
}

static void route(void)
{
	libbpf_set_print(libbpf_to_log);
}

void libbpf_log_route(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, route);
}
