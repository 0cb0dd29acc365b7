/* The three endpoints every daemon serves: /healthz (the process answers), /readyz (the
 * component says whether it can do its job, and why not) and /metrics (the Prometheus text of
 * a registry). Liveness and readiness are separate on purpose: a replica that is not the
 * leader, or has not synced, is alive but must not get traffic. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct httpd;
struct httpd_response;
struct metrics_registry;

struct daemon_health {
	struct metrics_registry *registry; /* /metrics; NULL: not served */
	/* /readyz: true for 200 "ok", else 503 with reason (a sentence, no newline). NULL:
	 * always ready. */
	bool (*ready)(void *userdata, char *reason, size_t reason_size);
	/* /healthz body for a component that reports more than "ok" (status 200 unless it
	 * sets another). NULL: "ok". */
	int (*health)(void *userdata, struct httpd_response *resp);
	void *userdata;
};

/* Routes GET /healthz, /readyz and /metrics on h. health is borrowed until h is freed. */
int daemon_health_routes(struct httpd *h, const struct daemon_health *health);
