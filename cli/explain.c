#include "explain.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark_resources.h"
#include "cleanup.h"
#include "kube/client.h"
#include "kube/config.h"
#include "policy/policy.h"
#include "seccomp/groups.h"
#include "seccomp/runtime_default.h"

static const char *str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static int strcmp_ptr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char *mode_name(const json_t *policy)
{
	enum policy_mode m = POLICY_MODE_ENFORCE;
	policy_mode(policy, &m);
	return m == POLICY_MODE_AUDIT ? "Audit" : "Enforce";
}

/* provenance[syscall] gets one more line of explanation. */
static void note(json_t *provenance, const char *syscall, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void note(json_t *provenance, const char *syscall, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	json_t *lines = json_object_get(provenance, syscall);
	if (!lines) {
		lines = json_array();
		json_object_set_new(provenance, syscall, lines);
	}
	json_array_append_new(lines, json_string(line));
}

/* Every syscall an entry stands for: the name itself, or a group's members. */
static int expand(const char *entry, json_t *set, const char *field, struct field_error *err)
{
	if (entry[0] == '@')
		return syscall_group_expand(entry, set, field, err);
	return json_object_set_new(set, entry, json_true()) < 0 ? -ENOMEM : 0;
}

static int collect_seccomp_provenance(const json_t *policy, json_t *provenance,
				      struct field_error *err)
{
	char key[POLICY_KEY_MAX];
	policy_key(policy, key);
	const json_t *sec = json_object_get(json_object_get(policy, "spec"), "seccomp");
	bool audit = strcmp(mode_name(policy), "Audit") == 0;
	size_t i, j;
	json_t *entry, *name;
	json_array_foreach (json_object_get(sec, "allow"), i, entry) {
		json_auto_t *set = json_object();
		int r = expand(json_string_value(entry), set, "spec.seccomp.allow", err);
		if (r < 0)
			return r;
		const char *sc;
		json_t *v;
		json_object_foreach (set, sc, v)
			note(provenance, sc, "allowed by %s%s (allow: %s)", key,
			     audit ? " [Audit: grants nothing]" : "", json_string_value(entry));
	}
	json_array_foreach (json_object_get(sec, "deny"), i, entry) {
		const char *action = str(entry, "action") ? str(entry, "action") : "Errno";
		const json_t *errno_v = json_object_get(entry, "errno");
		char how[64];
		if (strcmp(action, "Errno") == 0)
			snprintf(how, sizeof(how), "Errno %s",
				 json_is_string(errno_v) ? json_string_value(errno_v)
				 : errno_v		 ? "(number)"
							 : "EPERM");
		else
			snprintf(how, sizeof(how), "%s", action);
		json_array_foreach (json_object_get(entry, "syscalls"), j, name) {
			json_auto_t *set = json_object();
			int r = expand(json_string_value(name), set, "spec.seccomp.deny", err);
			if (r < 0)
				return r;
			const char *sc;
			json_t *v;
			json_object_foreach (set, sc, v)
				note(provenance, sc, "%s by %s (deny[%zu]: %s%s%s)",
				     audit ? "logged, not denied," : "denied", key, i, how,
				     json_string_value(name)[0] == '@' ? ", via " : "",
				     json_string_value(name)[0] == '@' ? json_string_value(name)
								       : "");
		}
	}
	return 0;
}

/* True when the policy's seccomp section builds on RuntimeDefault (the default base). */
static bool uses_runtime_default(const json_t *policy)
{
	const json_t *sec = json_object_get(json_object_get(policy, "spec"), "seccomp");
	const char *base = str(sec, "base");
	return sec && (!base || strcmp(base, "RuntimeDefault") == 0);
}

/* The syscalls the base decides beyond a plain allow: its argument conditions, its fixed
 * errnos and the calls it refuses on purpose although the reference allows them. They are
 * explained even when no policy names them. */
static void note_base_rules(json_t *provenance)
{
	for (unsigned i = 0; i < seccomp_runtime_default_n_rules; i++)
		if (!json_object_get(provenance, seccomp_runtime_default_rules[i].name))
			json_object_set_new(provenance, seccomp_runtime_default_rules[i].name,
					    json_array());
	for (unsigned i = 0; i < seccomp_runtime_default_n_differences; i++)
		if (!json_object_get(provenance, seccomp_runtime_default_differences[i].name))
			json_object_set_new(provenance, seccomp_runtime_default_differences[i].name,
					    json_array());
}

/* One line per syscall: what the RuntimeDefault base alone does with it, and after which
 * upstream version. audit_only: only Audit policies build on the base. */
static void note_base(json_t *provenance, bool audit_only)
{
	const char *who = audit_only ? "the RuntimeDefault base of the Audit policies [grants "
				       "nothing]"
				     : "the RuntimeDefault base";
	const char *sc;
	json_t *lines;
	json_object_foreach (provenance, sc, lines) {
		int e = 0;
		const struct seccomp_base_difference *d = seccomp_runtime_default_difference(sc);
		if (d) {
			note(provenance, sc, "refused by %s: a deliberate difference from %s (%s)",
			     who, seccomp_runtime_default_reference, d->reason);
			continue;
		}
		switch (seccomp_runtime_default_verdict(sc, &e)) {
		case SECCOMP_BASE_ALLOW:
			note(provenance, sc, "allowed by %s (follows %s)", who,
			     seccomp_runtime_default_reference);
			break;
		case SECCOMP_BASE_ALLOW_IF_ARGS:
			note(provenance, sc,
			     "allowed for some argument values only by %s (follows %s)", who,
			     seccomp_runtime_default_reference);
			break;
		case SECCOMP_BASE_ERRNO:
			note(provenance, sc, "Errno %s by %s (follows %s)",
			     seccomp_errno_to_name(e) ?: "(number)", who,
			     seccomp_runtime_default_reference);
			break;
		case SECCOMP_BASE_DEFAULT:
			note(provenance, sc, "not allowed by %s (follows %s): its default, EPERM",
			     who, seccomp_runtime_default_reference);
			break;
		}
	}
}

/* What the compiled profile does with one syscall. */
static void effective_action(const json_t *profile, const char *syscall, char *out, size_t size)
{
	size_t i, j;
	json_t *rule, *name;
	json_array_foreach (json_object_get(profile, "syscalls"), i, rule) {
		json_array_foreach (json_object_get(rule, "names"), j, name) {
			if (strcmp(json_string_value(name), syscall) != 0)
				continue;
			const char *action = str(rule, "action");
			bool conditional = json_array_size(json_object_get(rule, "args")) > 0;
			if (json_is_integer(json_object_get(rule, "errnoRet")))
				snprintf(out, size, "%s(%lld)%s", action,
					 json_integer_value(json_object_get(rule, "errnoRet")),
					 conditional ? " with argument conditions" : "");
			else
				snprintf(out, size, "%s%s", action,
					 conditional ? " with argument conditions" : "");
			return;
		}
	}
	const json_t *e = json_object_get(profile, "defaultErrnoRet");
	if (json_is_integer(e))
		snprintf(out, size, "%s(%lld) (default)", str(profile, "defaultAction"),
			 json_integer_value(e));
	else
		snprintf(out, size, "%s (default)", str(profile, "defaultAction"));
}

static void print_containers(const json_t *pod, FILE *out)
{
	static const char *const kinds[] = {"initContainers", "containers"};
	const json_t *spec = json_object_get(pod, "spec");
	fprintf(out, "  containers:");
	for (size_t k = 0; k < 2; k++) {
		size_t i;
		json_t *c;
		json_array_foreach (json_object_get(spec, kinds[k]), i, c)
			fprintf(out, " %s%s", str(c, "name"), k == 0 ? " (init)" : "");
	}
	fputc('\n', out);
}

static void print_network(const json_t *network, FILE *out)
{
	static const char *const dirs[] = {"egress", "ingress"};
	if (!network) {
		fprintf(out,
			"\nNetwork: no selecting policy sets network; traffic is not filtered.\n");
		return;
	}
	fprintf(out, "\nNetwork (cgroup-skb BPF on the node):\n");
	for (size_t d = 0; d < 2; d++) {
		const json_t *dir = json_object_get(network, dirs[d]);
		if (!dir)
			continue;
		fprintf(out, "  %-8s default %s%s, %zu rule(s)\n", dirs[d],
			str(dir, "defaultAction") ? str(dir, "defaultAction") : "Allow",
			str(dir, "auditDefaultAction") &&
					strcmp(str(dir, "auditDefaultAction"), "Deny") == 0 &&
					strcmp(str(dir, "defaultAction") ?: "Allow", "Deny") != 0
				? " (an Audit policy would deny)"
				: "",
			json_array_size(json_object_get(dir, "rules")));
	}
}

int explain_pod(const json_t *pod, json_t *const *policies, size_t n, FILE *out,
		struct field_error *err)
{
	const json_t *meta = json_object_get(pod, "metadata");
	fprintf(out, "Pod %s/%s (uid %s) on node %s\n", str(meta, "namespace"), str(meta, "name"),
		str(meta, "uid") ?: "-", str(json_object_get(pod, "spec"), "nodeName") ?: "-");

	json_t **selecting = calloc(n ? n : 1, sizeof(*selecting));
	if (!selecting)
		return -ENOMEM;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		int r = policy_selects_pod(policies[i], pod);
		char key[POLICY_KEY_MAX];
		policy_key(policies[i], key);
		if (r < 0)
			fprintf(out, "  (policy %s has an invalid selector and selects nothing)\n",
				key);
		if (r > 0)
			selecting[k++] = policies[i];
	}
	if (!k) {
		fprintf(out, "\nNo BulwarkPolicy selects this pod: nothing is enforced on it.\n");
		free(selecting);
		return 0;
	}
	fprintf(out, "\nSelected by:\n");
	for (size_t i = 0; i < k; i++) {
		char key[POLICY_KEY_MAX];
		policy_key(selecting[i], key);
		const json_t *spec = json_object_get(selecting[i], "spec");
		fprintf(out, "  %-40s %-7s generation %lld:", key, mode_name(selecting[i]),
			json_integer_value(json_object_get(
				json_object_get(selecting[i], "metadata"), "generation")));
		static const char *const sections[] = {"network", "seccomp", "landlock",
						       "execRecording"};
		for (size_t s = 0; s < 4; s++)
			if (json_object_get(spec, sections[s]))
				fprintf(out, " %s", sections[s]);
		fputc('\n', out);
	}

	json_t *compiled = NULL;
	int r = policy_compile_pod(pod, selecting, k, &compiled, err);
	if (r < 0)
		goto out;

	const json_t *sec = json_object_get(compiled, "seccomp");
	if (!sec) {
		fprintf(out,
			"\nSeccomp: no selecting policy sets seccomp; the pod keeps what it asked "
			"for.\n");
	} else {
		const json_t *profile = json_object_get(sec, "profile");
		fprintf(out, "\nSeccomp: Localhost profile %s\n", str(sec, "profileName"));
		print_containers(pod, out);
		char def[96];
		effective_action(profile, "\x01none", def, sizeof(def));
		fprintf(out, "  every syscall not allowed: %s\n", def);
		json_auto_t *provenance = json_object();
		bool base_enforce = false, base_audit = false;
		for (size_t i = 0; i < k && r == 0; i++) {
			if (!json_object_get(json_object_get(selecting[i], "spec"), "seccomp"))
				continue;
			r = collect_seccomp_provenance(selecting[i], provenance, err);
			bool audit = strcmp(mode_name(selecting[i]), "Audit") == 0;
			if (uses_runtime_default(selecting[i]) && audit)
				base_audit = true;
			else if (uses_runtime_default(selecting[i]))
				base_enforce = true;
		}
		if (r < 0)
			goto out;
		if (base_enforce || base_audit) {
			fprintf(out,
				"  base: RuntimeDefault, following %s (deliberate differences:",
				seccomp_runtime_default_reference);
			for (unsigned i = 0; i < seccomp_runtime_default_n_differences; i++)
				fprintf(out, " %s", seccomp_runtime_default_differences[i].name);
			fprintf(out, ")%s\n", base_enforce ? "" : " [Audit policies only]");
			note_base_rules(provenance);
			note_base(provenance, !base_enforce);
		}
		/* Sorted by syscall name: json objects keep insertion order. */
		size_t m = json_object_size(provenance), idx = 0;
		const char **names = calloc(m ? m : 1, sizeof(char *));
		const char *sc;
		json_t *lines;
		json_object_foreach (provenance, sc, lines)
			names[idx++] = sc;
		qsort(names, m, sizeof(char *), strcmp_ptr);
		if (m)
			fprintf(out, "  syscalls the policies name or the base decides:\n");
		for (size_t i = 0; i < m; i++) {
			char act[128];
			effective_action(profile, names[i], act, sizeof(act));
			fprintf(out, "    %-22s %s\n", names[i], act);
			size_t j;
			json_t *line;
			json_array_foreach (json_object_get(provenance, names[i]), j, line)
				fprintf(out, "      %s\n", json_string_value(line));
		}
		free(names);
	}

	print_network(json_object_get(compiled, "network"), out);

	const json_t *ll = json_object_get(compiled, "landlock");
	if (ll)
		fprintf(out,
			"\nLandlock: %zu layer(s), %s (applied by bulwark-launch in each "
			"container)\n",
			json_array_size(json_object_get(ll, "layers")),
			str(ll, "compatibility") ?: "BestEffort");
	const json_t *ex = json_object_get(compiled, "execRecording");
	if (ex) {
		fprintf(out, "\nExec: recording %s, exec %s",
			json_is_true(json_object_get(ex, "enabled")) ? "on" : "off",
			json_is_false(json_object_get(ex, "allowExec")) ? "denied by" : "allowed");
		size_t i;
		json_t *p;
		json_array_foreach (json_object_get(ex, "deniedBy"), i, p)
			fprintf(out, " %s", json_string_value(p));
		fputc('\n', out);
	}
	fprintf(out, "\nCompiled policy hash: %s\n", str(compiled, "hash"));
out:
	json_decref(compiled);
	free(selecting);
	return r;
}

int cli_explain_api(const char *kubeconfig, const char *context, const char *ns,
		    const char *pod_name, FILE *out)
{
	struct field_error err = {0};
	struct kube_config *cfg = NULL;
	struct kube_client *c = NULL;
	json_t *pod = NULL, *items = NULL;
	int r = kube_config_load_default(kubeconfig, context, &cfg, &err);
	r = r ?: kube_client_new(cfg, NULL, &c);
	if (r == 0 && !ns)
		ns = cfg->namespace;
	r = r ?: kube_get(c, &KUBE_RES_PODS, ns, pod_name, &pod, NULL);
	r = r ?: kube_list(c, &BULWARK_RES_POLICIES, ns, NULL, &items, NULL, NULL);
	if (r == 0) {
		size_t n = json_array_size(items);
		json_t **policies = calloc(n ? n : 1, sizeof(*policies));
		for (size_t i = 0; policies && i < n; i++)
			policies[i] = json_array_get(items, i);
		r = policies ? explain_pod(pod, policies, n, out, &err) : -ENOMEM;
		free(policies);
	}
	if (r < 0 && err.reason[0])
		fprintf(stderr, "kubectl-bulwark: %s: %s\n", err.field, err.reason);
	json_decref(pod);
	json_decref(items);
	kube_client_free(c);
	kube_config_free(cfg);
	return r;
}
