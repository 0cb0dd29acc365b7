/* Stop signals (signals.h). */
#include "daemon/signals.h"

#include <errno.h>
#include <time.h>

static volatile sig_atomic_t stop, stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
	stop = 1;
}

int daemon_signals_init(void)
{
	struct sigaction sa = {.sa_handler = on_signal};
	struct sigaction ignore = {.sa_handler = SIG_IGN};
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0 ||
	    sigaction(SIGPIPE, &ignore, NULL) < 0)
		return -errno;
	return 0;
}

volatile sig_atomic_t *daemon_stop_flag(void)
{
	return &stop;
}

bool daemon_wait(unsigned ms)
{
	while (!stop && ms > 0) {
		unsigned slice = ms < 100 ? ms : 100;
		struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)slice * 1000000L};
		nanosleep(&ts, NULL);
		ms -= slice;
	}
	return stop;
}

int daemon_stop_signal(void)
{
	return stop_signal;
}
