/* One pod's life on the harness node, as a state machine the caller drives:
 *   pod_run_new → pod_run_start (network, volumes, first init container or all containers)
 *   → pod_run_on_exit for every reaped container process (next init container, or the
 *   pod's phase) → pod_run_teardown.
 * Containers are never restarted: every restartPolicy behaves as Never, so a pod ends
 * Succeeded when all its containers exit 0 and Failed otherwise. The pod's status (the v1
 * PodStatus the apiserver takes) and a record of what was created are kept in
 * <state>/pods/<uid>/ so `--cleanup` and `exec` work from another process. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "harness.h"
#include "podnet.h"

struct field_error;

enum container_state {
	CONTAINER_WAITING,
	CONTAINER_RUNNING,
	CONTAINER_TERMINATED,
};

struct container_run {
	char name[254];
	char id[65];
	bool init;
	bool created; /* runc knows it: teardown must delete it */
	pid_t pid;
	enum container_state state;
	int exit_code;
	char reason[64];
	char message[1024];
	char started_at[32];
	char finished_at[32];
};

enum pod_phase {
	POD_PENDING,
	POD_RUNNING,
	POD_SUCCEEDED,
	POD_FAILED,
};

struct pod_run {
	json_t *pod; /* owned reference */
	char uid[65];
	char namespace[254];
	char name[254];
	char dir[700];
	char cgroup_pod[512]; /* relative to the cgroup root */
	struct podnet net;
	bool has_net;
	struct container_run *containers; /* init containers first */
	size_t n_init, n_containers;
	size_t next_init;
	enum pod_phase phase;
	char reason[64];
	char message[1024];
	char start_time[32];
	bool torn_down;
};

int pod_run_new(const struct harness_config *cfg, json_t *pod, struct pod_run **ret,
		struct field_error *err);
void pod_run_free(struct pod_run *p);

/* Sets the pod up and starts it. Problems the pod causes (unknown image, bad volume...)
 * end in its status, not in an error; a negative errno means the node itself failed. */
int pod_run_start(const struct harness_config *cfg, struct pod_run *p);
/* Feeds a reaped pid; true when it was one of this pod's containers. */
bool pod_run_on_exit(const struct harness_config *cfg, struct pod_run *p, pid_t pid, int wstatus);
bool pod_run_finished(const struct pod_run *p);
/* Containers running now: 0 with the pod not finished means it is stuck (a waiting reason
 * such as ErrImagePull) until something changes from outside. */
size_t pod_run_running(const struct pod_run *p);
/* A signal ("TERM", "KILL") to every running container's init (runc kill); their exits
 * arrive through pod_run_on_exit. */
void pod_run_signal(const struct harness_config *cfg, struct pod_run *p, const char *sig);
/* Kills what still runs, waits for it, deletes runc state, cgroups, netns and files. */
int pod_run_teardown(const struct harness_config *cfg, struct pod_run *p);

/* The v1 PodStatus: phase, podIP(s), hostIP, startTime, conditions, (init)containerStatuses. */
json_t *pod_run_status(const struct pod_run *p);

/* Removes every pod recorded under the state dir, then the cgroup tree and runc root. */
int harness_cleanup(const struct harness_config *cfg);
/* Finds a recorded pod by "namespace/name", "name" (namespace default) or uid: the record's
 * JSON ({uid, namespace, name, containers:[{name,id,pid}]}). */
int harness_find_pod(const struct harness_config *cfg, const char *ref, json_t **ret);
