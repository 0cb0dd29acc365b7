/* What the controller's caches keep of each watched object: only the fields it reads. A pod as
 * the apiserver returns it is ~3 KiB of JSON (defaulted spec, managedFields) and ~15 KiB once
 * parsed; selection and placement need its name, uid, labels, node and phase. Used as the
 * reflectors' transform (kube/reflector.h), so the objects are trimmed before anything else
 * sees them. Each returns 0 (never skips an object). */
#pragma once

#include <jansson.h>

int cache_trim_pod(json_t *pod, void *userdata);
/* Drops managedFields and kubectl's last-applied-configuration (a second copy of the spec);
 * spec and status stay whole. */
int cache_trim_policy(json_t *policy, void *userdata);
int cache_trim_namespace(json_t *ns, void *userdata);
