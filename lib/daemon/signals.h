/* How a daemon learns it should stop: SIGTERM (the kubelet, at pod deletion) and SIGINT set one
 * process-wide flag that the daemon's loops poll; SIGPIPE is ignored, so a peer that hung up
 * is an EPIPE where we write, not the end of the process. No SA_RESTART: a blocked poll()
 * returns at once with EINTR and its loop sees the flag. */
#pragma once

#include <signal.h>
#include <stdbool.h>

/* Installs the handlers. Call before starting threads. 0 or a negative errno. */
int daemon_signals_init(void);

/* The flag the handlers set, for code that polls a volatile sig_atomic_t. */
volatile sig_atomic_t *daemon_stop_flag(void);

/* Sleeps until a stop signal came or ms passed (any ms ≥ 0; checks every 100 ms). true when
 * asked to stop. */
bool daemon_wait(unsigned ms);

/* The signal that asked to stop (SIGTERM, SIGINT), 0 before one came. */
int daemon_stop_signal(void);
