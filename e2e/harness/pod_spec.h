/* Reading a v1 Pod the way the kubelet does: identity, QoS class, a container's argv and
 * environment, and which seccomp profile applies. Pods are jansson objects shared
 * read-only; nothing here modifies them. */
#pragma once

#include <jansson.h>
#include <stddef.h>

struct field_error;

#define POD_MAX_CONTAINERS 32
#define POD_MAX_ARGS	   256
#define POD_MAX_ENV	   256

struct pod_meta {
	const char *uid;
	const char *name;
	const char *namespace;
	const char *node_name; /* NULL when unbound */
};

/* Borrowed pointers into pod. -EINVAL naming the field when uid/name are missing or when
 * the uid contains anything but [0-9a-zA-Z-] (it becomes a path component). */
int podspec_meta(const json_t *pod, struct pod_meta *ret, struct field_error *err);

/* "Guaranteed", "Burstable" or "BestEffort": status.qosClass when the apiserver set it,
 * else computed from requests and limits like the kubelet's GetPodQOS. */
const char *podspec_qos_class(const json_t *pod);

/* A Kubernetes quantity ("500m", "1.5Gi", "2e3") as a number; -EINVAL when malformed. */
int podspec_quantity_parse(const char *s, long double *ret);

/* The process argv under Kubernetes' command/args rules over the image's entrypoint and
 * cmd, with $(VAR) references expanded from env like the kubelet. Free with harness_strv_free(). */
int podspec_container_argv(const json_t *container, const char *const *image_entrypoint,
			   const char *const *image_cmd, char *const *env, char ***ret,
			   struct field_error *err);

/* "K=V" strings: image_env first, then the container's env in order (value or fieldRef to
 * metadata.name/namespace/uid, spec.nodeName, status.podIP, spec.serviceAccountName). */
int podspec_container_env(const json_t *pod, const json_t *container, const char *pod_ip,
			  const char *const *image_env, char ***ret, struct field_error *err);

enum seccomp_kind {
	SECCOMP_UNCONFINED,
	SECCOMP_RUNTIME_DEFAULT,
	SECCOMP_LOCALHOST,
};
/* The container's securityContext.seccompProfile wins over the pod's; with neither it is
 * Unconfined (the kubelet's default without --seccomp-default). ret_localhost is borrowed. */
int podspec_container_seccomp(const json_t *pod, const json_t *container,
			      enum seccomp_kind *ret_kind, const char **ret_localhost,
			      struct field_error *err);

/* A field of the container's securityContext, falling back to the pod's for the fields the
 * pod level has (runAsUser, runAsGroup, runAsNonRoot, ...). Borrowed; NULL when unset. */
const json_t *podspec_security_field(const json_t *pod, const json_t *container, const char *field);

/* A fieldRef's value for env and downwardAPI: metadata.name, metadata.namespace,
 * metadata.uid, metadata.labels['k'], metadata.annotations['k'], spec.nodeName,
 * spec.serviceAccountName, status.podIP. ret is malloc'ed. -ENOENT for an unknown path. */
int podspec_field_value(const json_t *pod, const char *pod_ip, const char *path, char **ret);
/* labels or annotations in the downwardAPI file format: sorted `key="escaped value"` lines. */
int podspec_map_format(const json_t *map, char **ret);

void harness_strv_free(char **v);
size_t harness_strv_len(char *const *v);
