/* Running bulwark-controller: the wiring of its parts (controller.h). */
#pragma once

#include <signal.h>

#include "controller/controller.h"

/* Runs until *stop becomes non-zero (checked at least every 200 ms). 0, or a negative errno
 * for a start-up failure (logged). */
int controller_run(const struct controller_config *cfg, volatile sig_atomic_t *stop);
