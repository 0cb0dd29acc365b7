/* Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection:
 * one of several replicas holds the Lease and renews it; the others take over when it stops.
 *
 *   - Expiry is judged by the local monotonic clock: a Lease held by someone else counts as
 *     expired lease_duration after the moment WE last saw its resourceVersion change, never
 *     by comparing the holder's renewTime with our wall clock (clocks skew).
 *   - Acquire and renew are updates carrying the resourceVersion we read, so two candidates
 *     cannot both win: the loser gets 409 and stays a follower.
 *   - The leader renews every retry_period. If it has not renewed for renew_deadline, it calls
 *     on_stopped_leading at once, before the Lease can expire for the others (renew_deadline
 *     < lease_duration), so two leaders never act at the same time as long as clocks run at
 *     the same rate. Every request is bounded by retry_period, so the call is at most one
 *     retry_period late.
 *   - kube_leader_stop() releases the Lease (holderIdentity cleared, duration 1 s) when held,
 *     so a successor takes over within one retry_period instead of a lease duration.
 *
 * Threading: the election runs on its own thread; callbacks run on it and should be quick
 * (start or stop work elsewhere). kube_leader_is_leader() may be called from any thread. */
#pragma once

#include <stdbool.h>

#include "kube/client.h"

struct kube_leader_options {
	const char *namespace;	    /* of the Lease */
	const char *name;	    /* of the Lease */
	const char *identity;	    /* unique per candidate: pod name + a random suffix */
	unsigned lease_duration_ms; /* default 15000 */
	unsigned renew_deadline_ms; /* default 10000 */
	unsigned retry_period_ms;   /* default 2000 */
	void (*on_started_leading)(void *userdata);
	void (*on_stopped_leading)(void *userdata);
	/* The observed holder changed (NULL or "" when nobody holds it). */
	void (*on_new_leader)(const char *identity, void *userdata);
	void *userdata;
};

struct kube_leader;

/* Starts the election thread. Strings are copied; client must outlive the election.
 * 0, -EINVAL (missing names, or not lease > deadline > retry), -ENOMEM, or pthread's error. */
int kube_leader_start(struct kube_client *client, const struct kube_leader_options *opts,
		      struct kube_leader **ret);

bool kube_leader_is_leader(struct kube_leader *l);

/* Stops the election: releases the Lease if held (on_stopped_leading is called first), joins
 * the thread, frees. Accepts NULL; returns NULL. */
struct kube_leader *kube_leader_stop(struct kube_leader *l);
