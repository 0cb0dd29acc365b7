/* BulwarkPolicy as a whole: semantic validation of an object, which pods a policy selects, and
 * the composition of every policy selecting a pod into that pod's compiled policy — the one
 * place the composition rules of docs/policy-api.md are implemented. The controller, the
 * webhook and kubectl-bulwark all call these, so they agree on every pod's policy and on every
 * content-addressed seccomp profile name. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define POLICY_API_VERSION "bulwark.dev/v1alpha1"
#define POLICY_KIND	   "BulwarkPolicy"

/* "namespace/name": a DNS-1123 label (63), '/', a DNS-1123 subdomain (253), NUL. */
#define POLICY_KEY_MAX 318
/* "bulwark/" + 64 hex digits + ".json" + NUL. */
#define POLICY_PROFILE_NAME_MAX 78

enum policy_mode {
	POLICY_MODE_ENFORCE,
	POLICY_MODE_AUDIT,
};

/* Semantic validation of a whole BulwarkPolicy object: apiVersion and kind, metadata.name
 * (or generateName) and namespace, unknown fields at the top of the object and of spec (named,
 * with a suggestion for a likely typo), spec.podSelector, spec.mode, at least one section,
 * and each section through its mechanism's validator with the field "spec.<section>".
 * 0, or -EINVAL with err naming the first offending field. */
int policy_validate(const json_t *policy, struct field_error *err);

/* spec.mode, Enforce when absent. -EINVAL for anything other than Enforce or Audit. */
int policy_mode(const json_t *policy, enum policy_mode *ret_mode);

/* "namespace/name" of a policy (or of any object with metadata) into ret_key.
 * -EINVAL when metadata.namespace or metadata.name is missing or too long. */
int policy_key(const json_t *object, char ret_key[POLICY_KEY_MAX]);

/* 1 when the policy selects the pod (same namespace and spec.podSelector matches the pod's
 * labels; an empty selector selects every pod of the namespace), 0 when it does not, -EINVAL
 * when the policy's selector is invalid (such a policy selects nothing; say so in its status)
 * or either object lacks metadata.namespace. */
int policy_selects_pod(const json_t *policy, const json_t *pod);

/* The name a seccomp profile is stored under on every node and referenced by from a pod's
 * securityContext (localhostProfile): "bulwark/" + SHA-256 of the profile's canonical JSON +
 * ".json". The file holds exactly those canonical bytes, so anyone can check it. */
int policy_seccomp_profile_name(const json_t *profile, char ret_name[POLICY_PROFILE_NAME_MAX]);

/* The execRecording composition of the policies among policies[0..n) that select pod:
 * {"enabled": any policy enables recording (Audit ones too, recording only observes),
 *  "allowExec": false when any Enforce policy says allowExec: false,
 *  "deniedBy": ["ns/name", ...] those Enforce policies (only when allowExec is false),
 *  "auditDeniedBy": ["ns/name", ...] Audit policies that would deny exec (only when any)}.
 * *ret is NULL when no selecting policy has an execRecording section. This is the part of
 * policy_compile_pod() the webhook needs on every pods/exec CONNECT, without compiling the
 * other mechanisms. 0 or negative errno (-EINVAL with err filled). */
int policy_compose_exec(const json_t *pod, json_t *const *policies, size_t n, json_t **ret,
			struct field_error *err);

/* The compiled policy of one pod (docs/policy-api.md, "The compiled pod policy") from every
 * policy in policies[0..n) that selects it (others, from any namespace, are ignored):
 * provenance sorted by namespace/name, each mechanism compiled from the sections of the
 * selecting policies in that order, the seccomp profile under its content-addressed name, the
 * execRecording composition, and "hash", the SHA-256 of the canonical JSON of all the rest.
 * The same pod and policies in any order give canonically identical output.
 *
 * Pass policies that passed policy_validate(): an invalid one, or the same namespace/name
 * twice, fails the whole compile with err naming the policy ("ns/name: ...") so the caller can
 * report it. On success *ret_compiled is the new object, or NULL when no policy selects the
 * pod (nothing to enforce). 0 or negative errno. */
int policy_compile_pod(const json_t *pod, json_t *const *policies, size_t n, json_t **ret_compiled,
		       struct field_error *err);

/* The policies among policies[0..n) that select pod, in composition order (namespace/name):
 * what policy_compile_pod() composes, made once so a caller that also needs the list (the
 * controller's status counts every selected pod, compiled or not) does not select twice.
 * It borrows the policies, which must outlive it. 0, or -EINVAL with err (an invalid
 * selector, a policy listed twice, a pod without a namespace), -ENOMEM. */
struct policy_selection;
int policy_select(const json_t *pod, json_t *const *policies, size_t n,
		  struct policy_selection **ret, struct field_error *err);
/* Accepts NULL; returns NULL. */
struct policy_selection *policy_selection_free(struct policy_selection *s);
size_t policy_selection_count(const struct policy_selection *s);
/* "namespace/name" of the i-th selected policy, or NULL past the end. */
const char *policy_selection_key(const struct policy_selection *s, size_t i);

/* Pods of one workload are selected by the same policies and so get the same network, seccomp
 * and landlock sections; compiling them (seccomp above all) costs far more than the rest. A
 * policy_cache remembers compiled sections by the SHA-256 of what the selecting policies say
 * (name, mode, sections), so a controller recompiling thousands of pods compiles each distinct
 * combination once, and their compiled policies share one copy of each section in memory.
 * Direct-mapped, with a fixed number of slots: bounded memory, O(1) lookups. Not thread-safe;
 * one per thread. */
#define POLICY_CACHE_MAX_SLOTS 65536
/* The canonical bytes of one compiled policy that the cache hashes piece by piece. */
#define POLICY_COMPILED_MAX_BYTES (64u << 20)

struct policy_cache;

/* 0, -EINVAL for slots outside 1..POLICY_CACHE_MAX_SLOTS, or -ENOMEM. */
int policy_cache_new(size_t slots, struct policy_cache **ret);
/* Accepts NULL; returns NULL. Compiled policies it produced stay valid. */
struct policy_cache *policy_cache_free(struct policy_cache *cache);
/* Lookups that found compiled sections, and those that had to compile. */
void policy_cache_stats(const struct policy_cache *cache, unsigned long *ret_hits,
			unsigned long *ret_misses);

/* policy_compile_pod() through cache (NULL: no cache). The output is canonically identical
 * to policy_compile_pod()'s; its network, seccomp and landlock values may be shared with the
 * cache and with other pods' outputs, so treat them as read-only (copy before modifying). */
int policy_compile_pod_cached(struct policy_cache *cache, const json_t *pod,
			      json_t *const *policies, size_t n, json_t **ret_compiled,
			      struct field_error *err);
/* The same for a selection policy_select() made for this pod. */
int policy_compile_selection(struct policy_cache *cache, const json_t *pod,
			     const struct policy_selection *s, json_t **ret_compiled,
			     struct field_error *err);
