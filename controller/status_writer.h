/* The leader's status writer: folds the agents' acknowledgements (push state) and the pod
 * records into each BulwarkPolicy's status, writes only what changed, at a bounded rate, and
 * records a Warning Event when a policy becomes Degraded or Invalid. It runs on its own
 * thread, woken by status_writer_changed() and every 30 s anyway (a status someone else
 * overwrote is put back). */
#pragma once

#include <stdbool.h>

struct kube_client;
struct kube_informer;
struct metrics_registry;
struct pod_records;
struct policy_store;
struct push_state;

struct status_writer_config {
	struct kube_client *client;
	const char *server; /* the apiserver's URL, for the /status subresource */
	struct kube_informer *policies;
	struct policy_store *store; /* why a policy is invalid */
	struct pod_records *records;
	struct push_state *state;
	struct metrics_registry *registry; /* bulwark_controller_status_writes_total */
	const char *identity;		   /* the Events' reportingInstance */
	double qps;			   /* writes per second */
	/* Only the leader writes, and only once its caches synced. */
	bool (*serving)(void *userdata);
	void *userdata;
};

struct status_writer;

/* Starts the writer's thread. 0 or a negative errno. */
int status_writer_start(const struct status_writer_config *cfg, struct status_writer **ret);
/* Stops and joins the thread. Accepts NULL; returns NULL. */
struct status_writer *status_writer_free(struct status_writer *w);

/* Something a status is made of changed: a pass runs soon. Any thread. */
void status_writer_changed(struct status_writer *w);
/* Policy key is gone: forget the status written for it. */
void status_writer_forget(struct status_writer *w, const char *key);
