/* Keeping the front-proxy trust (requestheader.h) current while the recordings API serves, as
 * k8s.io/apiserver's ConfigMap CA controller does for every aggregated API server: the
 * ConfigMap kube-system/extension-apiserver-authentication is re-read every interval_s, and
 * sooner (at most once per min_interval_s) when a client certificate was refused, since that
 * is what a rotated front-proxy CA looks like from here.
 *
 * - A changed ConfigMap becomes a new trust generation, swapped in atomically: a request in
 *   flight keeps the generation it started with, the next one sees the new one. The API
 *   server lists the old and the new CA in one PEM bundle while it rotates, so certificates of
 *   either are accepted until it drops the old one.
 * - A ConfigMap that cannot be read or parsed keeps the current generation; the reason
 *   (field and why) is logged once per distinct failure, not once per attempt.
 * - A deleted ConfigMap removes the trust (every request is refused) rather than keeping a CA
 *   the API server no longer publishes, as k8s.io/apiserver does.
 * Every attempt is counted in the reloads metric, {result="ok"} (changed or not) or "error". */
#pragma once

#include <jansson.h>

#include "controller/recordings/requestheader.h"
#include "metrics.h"

/* Reads the ConfigMap: 0 with the object, -ENOENT when it does not exist, another negative
 * errno with err saying why. */
typedef int (*requestheader_fetch_fn)(void *userdata, json_t **ret, struct field_error *err);

struct requestheader_reload_options {
	requestheader_fetch_fn fetch;
	void *userdata;
	unsigned interval_s;	 /* default 60 */
	unsigned min_interval_s; /* between re-reads a refused certificate asks for; default 10 */
	struct metric *reloads;	 /* counter {result}, may be NULL */
};

struct requestheader_reload;

/* Reads the ConfigMap once, synchronously: a server without a first trust cannot serve. 0, or
 * a negative errno with err naming the field and the reason. No thread runs yet. */
int requestheader_reload_new(const struct requestheader_reload_options *opts,
			     struct requestheader_reload **ret, struct field_error *err);
/* Starts the thread that re-reads it. 0 or a negative errno. */
int requestheader_reload_start(struct requestheader_reload *rl);
/* Stops the thread (waiting for a read in progress) and frees. NULL-safe; returns NULL. */
struct requestheader_reload *requestheader_reload_free(struct requestheader_reload *rl);

/* The current generation, referenced (requestheader_trust_unref() it), or NULL when the
 * ConfigMap was deleted. */
struct requestheader_trust *requestheader_reload_current(struct requestheader_reload *rl);

/* One re-read now, on the calling thread: 1 a new generation is current, 0 unchanged, or a
 * negative errno (the current generation is kept; -ENOENT: the ConfigMap is gone and the
 * trust with it). */
int requestheader_reload_once(struct requestheader_reload *rl);

/* A client certificate was refused: wake the thread for a re-read, unless one ran within
 * min_interval_s (then it runs when that has passed). Never blocks. */
void requestheader_reload_trigger(struct requestheader_reload *rl);
