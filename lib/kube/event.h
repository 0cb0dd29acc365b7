/* The kinds of change a Kubernetes watch reports. Shared by the watch-stream parser, the
 * reflector and the informer cache so a parsed event reaches the cache without translation. */
#pragma once

enum kube_event_type {
	KUBE_EVENT_ADDED,
	KUBE_EVENT_MODIFIED,
	KUBE_EVENT_DELETED,
	KUBE_EVENT_BOOKMARK, /* only advances the resourceVersion; the object is a stub */
	KUBE_EVENT_ERROR,    /* the object is a metav1.Status (410 Gone means relist) */
};

/* "ADDED", ... as they appear on the wire. */
static inline const char *kube_event_type_name(enum kube_event_type t)
{
	static const char *const names[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"};
	return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "UNKNOWN";
}
