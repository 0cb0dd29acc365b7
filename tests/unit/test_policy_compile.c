/* A pod's compiled policy: which policies take part, that each mechanism's compiler gets the
 * right sections (the real compilers of lib/netpolicy, lib/seccomp and lib/landlock), the
 * execRecording composition, the content-addressed seccomp profile name, the hash, and that
 * the result depends on what the policies say and not on the order they arrive in. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "canonical.h"
#include "policy/policy.h"

static json_t *parse(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &e);
	if (!j)
		fail_msg("bad test JSON: %s: %s", e.text, text);
	return j;
}

/* A BulwarkPolicy in namespace ns; sections is the rest of spec ("\"network\":{...}"). */
static json_t *policy(const char *ns, const char *name, int generation, const char *mode,
		      const char *selector, const char *sections)
{
	char text[8192];
	snprintf(text, sizeof(text),
		 "{\"apiVersion\":\"bulwark.dev/v1alpha1\",\"kind\":\"BulwarkPolicy\","
		 "\"metadata\":{\"namespace\":\"%s\",\"name\":\"%s\",\"generation\":%d},"
		 "\"spec\":{\"mode\":\"%s\",\"podSelector\":%s,%s}}",
		 ns, name, generation, mode, selector, sections);
	json_t *p = parse(text);
	struct field_error err = {0};
	char why[1024];
	if (policy_validate(p, &err) < 0)
		fail_msg("test policy %s/%s is invalid: %s", ns, name,
			 field_error_str(&err, why, sizeof(why)));
	return p;
}

static json_t *web_pod(void)
{
	return parse("{\"metadata\":{\"namespace\":\"shop\",\"name\":\"web-1\",\"uid\":\"u-1\","
		     "\"labels\":{\"app\":\"web\"}},\"spec\":{\"nodeName\":\"node-a\"}}");
}

#define NET_DENY_EGRESS "\"network\":{\"egress\":{\"defaultAction\":\"Deny\"}}"
#define NET_ALLOW_DNS                                                         \
	"\"network\":{\"egress\":{\"rules\":[{\"cidrs\":[\"10.96.0.10/32\"]," \
	"\"protocol\":\"UDP\",\"ports\":[{\"port\":53}]}]}}"
/* mkdir is in RuntimeDefault, so denying it changes the profile. */
#define SECCOMP_DENY_MKDIR "\"seccomp\":{\"deny\":[{\"syscalls\":[\"mkdir\"]}]}"
#define LANDLOCK_RO                                                                   \
	"\"landlock\":{\"filesystem\":[{\"paths\":[\"/\"],\"access\":[\"read_file\"," \
	"\"read_dir\"]}]}"
#define EXEC_RECORD "\"execRecording\":{\"enabled\":true}"
#define EXEC_DENY   "\"execRecording\":{\"allowExec\":false}"

static json_t *compile_ok(const json_t *pod, json_t **policies, size_t n)
{
	json_t *out = (json_t *)0x1;
	struct field_error err = {0};
	char why[1024];
	int r = policy_compile_pod(pod, policies, n, &out, &err);
	if (r < 0)
		fail_msg("compile failed (%d): %s", r, field_error_str(&err, why, sizeof(why)));
	return out;
}

static char *dump(const json_t *j)
{
	char *s = json_canonical_dump(j);
	assert_non_null(s);
	return s;
}

static void free_all(json_t **p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_decref(p[i]);
}

static void no_selecting_policy_means_nothing_to_enforce(void **state)
{
	json_t *pod = web_pod();
	json_t *p[] = {
		policy("bank", "all", 1, "Enforce", "{}", NET_DENY_EGRESS),
		policy("shop", "api", 1, "Enforce", "{\"matchLabels\":{\"app\":\"api\"}}",
		       NET_DENY_EGRESS),
		/* Broken, but in another namespace: it must not fail this pod. */
		parse("{\"metadata\":{\"namespace\":\"bank\",\"name\":\"x\"},"
		      "\"spec\":{\"podSelector\":{\"matchLabels\":[1]}}}"),
	};
	json_t *out = (json_t *)0x1;
	assert_int_equal(policy_compile_pod(pod, p, 3, &out, NULL), 0);
	assert_null(out);
	assert_int_equal(policy_compile_pod(pod, NULL, 0, &out, NULL), 0);
	assert_null(out);
	free_all(p, 3);
	json_decref(pod);
}

static void provenance_is_sorted_and_complete(void **state)
{
	json_t *pod = web_pod();
	json_t *p[] = {
		policy("shop", "c-audit", 7, "Audit", "{}", EXEC_RECORD),
		policy("shop", "a-first", 3, "Enforce", "{\"matchLabels\":{\"app\":\"web\"}}",
		       NET_DENY_EGRESS),
		policy("shop", "b-second", 1, "Enforce", "{}", SECCOMP_DENY_MKDIR),
		policy("shop", "z-other", 1, "Enforce", "{\"matchLabels\":{\"app\":\"db\"}}",
		       NET_DENY_EGRESS),
		/* The same name in another namespace is another policy, and not this pod's. */
		policy("bank", "a-first", 1, "Enforce", "{}", EXEC_DENY),
	};
	json_t *out = compile_ok(pod, p, 5);
	json_t *want = parse("[{\"namespace\":\"shop\",\"name\":\"a-first\",\"generation\":3,"
			     "\"mode\":\"Enforce\"},"
			     "{\"namespace\":\"shop\",\"name\":\"b-second\",\"generation\":1,"
			     "\"mode\":\"Enforce\"},"
			     "{\"namespace\":\"shop\",\"name\":\"c-audit\",\"generation\":7,"
			     "\"mode\":\"Audit\"}]");
	assert_true(json_equal(json_object_get(out, "policies"), want));
	json_t *want_pod = parse("{\"namespace\":\"shop\",\"name\":\"web-1\",\"uid\":\"u-1\","
				 "\"nodeName\":\"node-a\"}");
	assert_true(json_equal(json_object_get(out, "pod"), want_pod));
	json_decref(want);
	json_decref(want_pod);
	json_decref(out);

	/* A pod under admission: no name, uid or node yet. */
	json_t *fresh = parse("{\"metadata\":{\"namespace\":\"shop\",\"generateName\":\"web-\","
			      "\"labels\":{\"app\":\"web\"}}}");
	out = compile_ok(fresh, p, 5);
	want_pod = parse("{\"namespace\":\"shop\"}");
	assert_true(json_equal(json_object_get(out, "pod"), want_pod));
	json_decref(want_pod);
	json_decref(out);
	json_decref(fresh);
	free_all(p, 5);
	json_decref(pod);
}

/* Whether the profile gives syscall this action. */
static bool profile_has(const json_t *profile, const char *syscall, const char *action)
{
	size_t i, j;
	json_t *rule, *name;
	json_array_foreach (json_object_get(profile, "syscalls"), i, rule) {
		if (strcmp(json_string_value(json_object_get(rule, "action")) ?: "", action) != 0)
			continue;
		json_array_foreach (json_object_get(rule, "names"), j, name)
			if (strcmp(json_string_value(name), syscall) == 0)
				return true;
	}
	return false;
}

static void each_section_reaches_its_compiler(void **state)
{
	json_t *pod = web_pod();
	json_t *p[] = {
		policy("shop", "net", 1, "Enforce", "{}", NET_DENY_EGRESS),
		policy("shop", "sys", 1, "Enforce", "{}", SECCOMP_DENY_MKDIR),
		policy("shop", "fs", 1, "Audit", "{}", LANDLOCK_RO),
	};
	json_t *out = compile_ok(pod, p, 3);

	const json_t *egress = json_object_get(json_object_get(out, "network"), "egress");
	assert_string_equal(json_string_value(json_object_get(egress, "defaultAction")), "Deny");

	const json_t *profile = json_object_get(json_object_get(out, "seccomp"), "profile");
	assert_true(profile_has(profile, "read", "SCMP_ACT_ALLOW"));
	assert_false(profile_has(profile, "mkdir", "SCMP_ACT_ALLOW"));

	/* One layer, from the one policy with a landlock section, with its provenance. */
	const json_t *landlock = json_object_get(out, "landlock");
	assert_int_equal(json_array_size(json_object_get(landlock, "layers")), 1);
	json_t *want = parse("[{\"name\":\"shop/fs\",\"mode\":\"Audit\"}]");
	assert_true(json_equal(json_object_get(landlock, "policies"), want));
	json_decref(want);

	assert_null(json_object_get(out, "execRecording"));
	json_decref(out);

	/* Sections nobody selecting the pod sets are absent keys: their compilers are not
	 * called, whatever policies that do not select the pod say. */
	json_t *two[] = {
		policy("shop", "rec", 1, "Enforce", "{}", EXEC_RECORD),
		policy("shop", "db", 1, "Enforce", "{\"matchLabels\":{\"app\":\"db\"}}",
		       NET_DENY_EGRESS "," SECCOMP_DENY_MKDIR "," LANDLOCK_RO),
	};
	out = compile_ok(pod, two, 2);
	assert_null(json_object_get(out, "network"));
	assert_null(json_object_get(out, "seccomp"));
	assert_null(json_object_get(out, "landlock"));
	assert_non_null(json_object_get(out, "execRecording"));
	json_decref(out);
	free_all(two, 2);
	free_all(p, 3);
	json_decref(pod);
}

static void audit_mode_reaches_the_compilers(void **state)
{
	json_t *pod = web_pod();
	json_t *enforce = policy("shop", "e", 1, "Enforce", "{}", SECCOMP_DENY_MKDIR);
	json_t *audit = policy("shop", "a", 1, "Audit", "{}",
			       "\"seccomp\":{\"deny\":[{\"syscalls\":[\"mkdirat\"]}]},"
			       "\"network\":{\"egress\":{\"rules\":[{\"action\":\"Deny\","
			       "\"cidrs\":[\"192.0.2.0/24\"]}]}}");
	json_t *p[] = {enforce, audit};
	json_t *out = compile_ok(pod, p, 2);
	const json_t *profile = json_object_get(json_object_get(out, "seccomp"), "profile");
	assert_false(profile_has(profile, "mkdir", "SCMP_ACT_ALLOW"));
	/* The Audit policy's deny is logged, not enforced. */
	assert_true(profile_has(profile, "mkdirat", "SCMP_ACT_LOG"));
	assert_false(profile_has(profile, "mkdirat", "SCMP_ACT_ALLOW"));

	const json_t *rules = json_object_get(
		json_object_get(json_object_get(out, "network"), "egress"), "rules");
	assert_int_equal(json_array_size(rules), 1);
	assert_true(json_is_true(json_object_get(json_array_get(rules, 0), "audit")));
	json_decref(out);
	free_all(p, 2);
	json_decref(pod);
}

static void seccomp_profile_is_named_by_its_content(void **state)
{
	char name[POLICY_PROFILE_NAME_MAX];
	json_t *empty = json_object();
	assert_int_equal(policy_seccomp_profile_name(empty, name), 0);
	/* sha256("{}") */
	assert_string_equal(name, "bulwark/44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f6"
				  "1caaff8a.json");
	json_decref(empty);

	json_t *pod = web_pod();
	json_t *p = policy("shop", "sys", 1, "Enforce", "{}", SECCOMP_DENY_MKDIR);
	json_t *out = compile_ok(pod, &p, 1);
	const json_t *seccomp = json_object_get(out, "seccomp");
	char *bytes = dump(json_object_get(seccomp, "profile"));
	char hex[65], want[POLICY_PROFILE_NAME_MAX];
	assert_int_equal(sha256_hex(bytes, strlen(bytes), hex), 0);
	snprintf(want, sizeof(want), "bulwark/%s.json", hex);
	assert_string_equal(json_string_value(json_object_get(seccomp, "profileName")), want);
	free(bytes);
	json_decref(out);
	json_decref(p);
	json_decref(pod);
}

static void hash_covers_everything_else(void **state)
{
	json_t *pod = web_pod();
	json_t *p[] = {
		policy("shop", "a", 1, "Enforce", "{}", NET_ALLOW_DNS "," SECCOMP_DENY_MKDIR),
		policy("shop", "b", 1, "Enforce", "{}", LANDLOCK_RO "," EXEC_RECORD),
	};
	json_t *out = compile_ok(pod, p, 2);
	char *hash = strdup(json_string_value(json_object_get(out, "hash")));
	assert_int_equal(strlen(hash), 64);
	json_object_del(out, "hash");
	char recomputed[65];
	assert_int_equal(json_canonical_sha256(out, recomputed), 0);
	assert_string_equal(hash, recomputed);
	free(hash);
	json_decref(out);
	free_all(p, 2);
	json_decref(pod);
}

struct exec_case {
	const char *a_mode, *a_exec; /* policy a */
	const char *b_mode, *b_exec; /* policy b, NULL for none */
	const char *want;	     /* execRecording, or NULL for absent */
};

static void exec_recording_composition(void **state)
{
	static const struct exec_case cases[] = {
		{"Enforce", NET_DENY_EGRESS, NULL, NULL, NULL},
		{"Enforce", "\"execRecording\":{}", NULL, NULL,
		 "{\"enabled\":false,\"allowExec\":true}"},
		{"Enforce", EXEC_RECORD, NULL, NULL, "{\"enabled\":true,\"allowExec\":true}"},
		/* Recording only observes: an Audit policy turns it on too. */
		{"Audit", EXEC_RECORD, "Enforce", NET_DENY_EGRESS,
		 "{\"enabled\":true,\"allowExec\":true}"},
		{"Enforce", "\"execRecording\":{\"enabled\":false}", "Enforce", EXEC_RECORD,
		 "{\"enabled\":true,\"allowExec\":true}"},
		{"Enforce", EXEC_DENY, NULL, NULL,
		 "{\"enabled\":false,\"allowExec\":false,\"deniedBy\":[\"shop/a\"]}"},
		/* An Enforce ban wins over another policy's allowExec: true. */
		{"Enforce", EXEC_DENY, "Enforce",
		 "\"execRecording\":{\"enabled\":true,\"allowExec\":true}",
		 "{\"enabled\":true,\"allowExec\":false,\"deniedBy\":[\"shop/a\"]}"},
		/* An Audit ban only reports. */
		{"Audit", EXEC_DENY, NULL, NULL,
		 "{\"enabled\":false,\"allowExec\":true,\"auditDeniedBy\":[\"shop/a\"]}"},
		{"Audit", EXEC_DENY, "Enforce", EXEC_DENY,
		 "{\"enabled\":false,\"allowExec\":false,\"deniedBy\":[\"shop/b\"],"
		 "\"auditDeniedBy\":[\"shop/a\"]}"},
		{"Enforce", EXEC_DENY, "Enforce", EXEC_DENY,
		 "{\"enabled\":false,\"allowExec\":false,\"deniedBy\":[\"shop/a\",\"shop/b\"]}"},
	};
	json_t *pod = web_pod();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct exec_case *c = &cases[i];
		json_t *p[2];
		size_t n = 0;
		/* b first: the composition must not depend on the order either. */
		if (c->b_mode)
			p[n++] = policy("shop", "b", 1, c->b_mode, "{}", c->b_exec);
		p[n++] = policy("shop", "a", 1, c->a_mode, "{}", c->a_exec);

		json_t *out = compile_ok(pod, p, n);
		json_t *exec = NULL;
		assert_int_equal(policy_compose_exec(pod, p, n, &exec, NULL), 0);
		if (!c->want) {
			assert_null(json_object_get(out, "execRecording"));
			assert_null(exec);
		} else {
			json_t *want = parse(c->want);
			if (!json_equal(json_object_get(out, "execRecording"), want) ||
			    !json_equal(exec, want)) {
				char *got = dump(json_object_get(out, "execRecording"));
				fail_msg("case %zu: want %s, got %s", i, c->want, got);
			}
			json_decref(want);
		}
		json_decref(exec);
		json_decref(out);
		free_all(p, n);
	}
	json_decref(pod);
}

/* Four policies touching every mechanism, in all 24 orders: one canonical output. */
static void output_does_not_depend_on_policy_order(void **state)
{
	json_t *pod = web_pod();
	json_t *base[] = {
		policy("shop", "d", 2, "Enforce", "{}", NET_ALLOW_DNS "," EXEC_DENY),
		policy("shop", "b", 5, "Audit", "{}",
		       SECCOMP_DENY_MKDIR "," LANDLOCK_RO "," EXEC_RECORD),
		policy("shop", "a", 1, "Enforce", "{\"matchLabels\":{\"app\":\"web\"}}",
		       NET_DENY_EGRESS ",\"seccomp\":{\"allow\":[\"io_uring_setup\"]}"),
		policy("shop", "c", 1, "Enforce", "{}",
		       "\"landlock\":{\"network\":[{\"ports\":[8080],\"access\":[\"bind_tcp\"]}]}"),
	};
	json_t *first = compile_ok(pod, base, 4);
	char *want = dump(first);
	static const int perms[][4] = {
		{0, 1, 2, 3}, {0, 1, 3, 2}, {0, 2, 1, 3}, {0, 2, 3, 1}, {0, 3, 1, 2}, {0, 3, 2, 1},
		{1, 0, 2, 3}, {1, 0, 3, 2}, {1, 2, 0, 3}, {1, 2, 3, 0}, {1, 3, 0, 2}, {1, 3, 2, 0},
		{2, 0, 1, 3}, {2, 0, 3, 1}, {2, 1, 0, 3}, {2, 1, 3, 0}, {2, 3, 0, 1}, {2, 3, 1, 0},
		{3, 0, 1, 2}, {3, 0, 2, 1}, {3, 1, 0, 2}, {3, 1, 2, 0}, {3, 2, 0, 1}, {3, 2, 1, 0},
	};
	for (size_t i = 0; i < sizeof(perms) / sizeof(perms[0]); i++) {
		json_t *p[4];
		for (int j = 0; j < 4; j++)
			p[j] = base[perms[i][j]];
		json_t *out = compile_ok(pod, p, 4);
		char *got = dump(out);
		assert_string_equal(got, want);
		free(got);
		json_decref(out);
	}
	/* Every mechanism took part, so the comparison covered all of them. */
	assert_non_null(json_object_get(first, "network"));
	assert_non_null(json_object_get(first, "seccomp"));
	assert_int_equal(
		json_array_size(json_object_get(json_object_get(first, "landlock"), "layers")), 2);
	assert_non_null(json_object_get(first, "execRecording"));
	free(want);
	json_decref(first);
	free_all(base, 4);
	json_decref(pod);
}

/* The same objects written with their keys in another order compile to the same bytes. */
static void output_does_not_depend_on_key_order(void **state)
{
	json_t *a = parse(
		"{\"apiVersion\":\"bulwark.dev/v1alpha1\",\"kind\":\"BulwarkPolicy\","
		"\"metadata\":{\"namespace\":\"shop\",\"name\":\"p\",\"generation\":2},"
		"\"spec\":{\"podSelector\":{},\"mode\":\"Enforce\","
		"\"network\":{\"egress\":{\"defaultAction\":\"Deny\",\"rules\":[{\"protocol\":"
		"\"TCP\",\"cidrs\":[\"10.0.0.0/8\"],\"ports\":[{\"port\":443}]}]}},"
		"\"seccomp\":{\"base\":\"RuntimeDefault\",\"deny\":[{\"syscalls\":[\"ptrace\"],"
		"\"action\":\"Errno\"}]},\"execRecording\":{\"enabled\":true,\"allowExec\":true}}"
		"}");
	json_t *b =
		parse("{\"spec\":{\"execRecording\":{\"allowExec\":true,\"enabled\":true},"
		      "\"seccomp\":{\"deny\":[{\"action\":\"Errno\",\"syscalls\":[\"ptrace\"]}],"
		      "\"base\":\"RuntimeDefault\"},\"network\":{\"egress\":{\"rules\":[{\"ports\":"
		      "[{\"port\":443}],\"cidrs\":[\"10.0.0.0/8\"],\"protocol\":\"TCP\"}],"
		      "\"defaultAction\":\"Deny\"}},\"mode\":\"Enforce\",\"podSelector\":{}},"
		      "\"metadata\":{\"generation\":2,\"name\":\"p\",\"namespace\":\"shop\"},"
		      "\"kind\":\"BulwarkPolicy\",\"apiVersion\":\"bulwark.dev/v1alpha1\"}");
	json_t *pod_a = web_pod();
	json_t *pod_b = parse("{\"spec\":{\"nodeName\":\"node-a\"},\"metadata\":{\"labels\":"
			      "{\"app\":\"web\"},\"uid\":\"u-1\",\"name\":\"web-1\","
			      "\"namespace\":\"shop\"}}");
	json_t *oa = compile_ok(pod_a, &a, 1), *ob = compile_ok(pod_b, &b, 1);
	char *da = dump(oa), *db = dump(ob);
	assert_string_equal(da, db);
	free(da);
	free(db);
	json_decref(oa);
	json_decref(ob);
	json_decref(a);
	json_decref(b);
	json_decref(pod_a);
	json_decref(pod_b);
}

static char *hash_of(const json_t *pod, json_t **p, size_t n)
{
	json_t *out = compile_ok(pod, p, n);
	char *h = strdup(json_string_value(json_object_get(out, "hash")));
	json_decref(out);
	return h;
}

/* Any input that changes what is enforced, or for whom, changes the hash. */
static void hash_changes_with_every_input(void **state)
{
	json_t *pod = web_pod();
	char *hashes[8];
	size_t n = 0;
	const char *sections = NET_ALLOW_DNS "," SECCOMP_DENY_MKDIR "," EXEC_RECORD;

	json_t *p = policy("shop", "a", 1, "Enforce", "{}", sections);
	hashes[n++] = hash_of(pod, &p, 1);
	json_decref(p);

	p = policy("shop", "a", 2, "Enforce", "{}", sections); /* generation */
	hashes[n++] = hash_of(pod, &p, 1);
	json_decref(p);

	p = policy("shop", "a", 1, "Audit", "{}", sections); /* mode */
	hashes[n++] = hash_of(pod, &p, 1);
	json_decref(p);

	p = policy("shop", "a", 1, "Enforce", "{}", /* one CIDR */
		   "\"network\":{\"egress\":{\"rules\":[{\"cidrs\":[\"10.96.0.11/32\"],"
		   "\"protocol\":\"UDP\",\"ports\":[{\"port\":53}]}]}}," SECCOMP_DENY_MKDIR
		   "," EXEC_RECORD);
	hashes[n++] = hash_of(pod, &p, 1);
	json_decref(p);

	p = policy("shop", "a", 1, "Enforce", "{}", /* one syscall */
		   NET_ALLOW_DNS
		   ",\"seccomp\":{\"deny\":[{\"syscalls\":[\"mkdirat\"]}]}," EXEC_RECORD);
	hashes[n++] = hash_of(pod, &p, 1);
	json_decref(p);

	p = policy("shop", "a", 1, "Enforce", "{}", sections);
	json_object_set_new(json_object_get(pod, "spec"), "nodeName", json_string("node-b"));
	hashes[n++] = hash_of(pod, &p, 1); /* the pod moved */

	json_t *two[] = {p, policy("shop", "b", 1, "Enforce", "{}", EXEC_RECORD)};
	hashes[n++] = hash_of(pod, two, 2); /* one more policy */
	json_decref(two[1]);
	json_decref(p);

	p = policy("shop", "b", 1, "Enforce", "{}", sections); /* another policy's name */
	hashes[n++] = hash_of(pod, &p, 1);
	json_decref(p);

	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (strcmp(hashes[i], hashes[j]) == 0)
				fail_msg("inputs %zu and %zu have the same hash %s", i, j,
					 hashes[i]);
	for (size_t i = 0; i < n; i++)
		free(hashes[i]);
	json_decref(pod);
}

static void compile_errors_name_the_policy(void **state)
{
	json_t *pod = web_pod();
	struct field_error err = {0};
	json_t *out = (json_t *)0x1;

	/* The same policy twice would make the result depend on which copy wins. */
	json_t *twice[] = {policy("shop", "a", 1, "Enforce", "{}", EXEC_RECORD),
			   policy("shop", "a", 2, "Enforce", "{}", EXEC_DENY)};
	assert_int_equal(policy_compile_pod(pod, twice, 2, &out, &err), -EINVAL);
	assert_string_equal(err.field, "metadata.name");
	assert_non_null(strstr(err.reason, "shop/a is listed twice"));
	assert_ptr_equal(out, (json_t *)0x1);
	free_all(twice, 2);

	/* A broken selector in the pod's namespace. */
	json_t *bad = policy("shop", "sel", 1, "Enforce", "{}", EXEC_RECORD);
	json_object_set_new(json_object_get(bad, "spec"), "podSelector",
			    parse("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Bad\"}]}"));
	memset(&err, 0, sizeof(err));
	assert_int_equal(policy_compile_pod(pod, &bad, 1, &out, &err), -EINVAL);
	assert_string_equal(err.field, "spec.podSelector");
	assert_non_null(strstr(err.reason, "shop/sel"));
	json_decref(bad);

	/* A bad mode. */
	bad = policy("shop", "mode", 1, "Enforce", "{}", EXEC_RECORD);
	json_object_set_new(json_object_get(bad, "spec"), "mode", json_string("Sometimes"));
	memset(&err, 0, sizeof(err));
	assert_int_equal(policy_compile_pod(pod, &bad, 1, &out, &err), -EINVAL);
	assert_string_equal(err.field, "spec.mode");
	assert_non_null(strstr(err.reason, "shop/mode"));
	json_decref(bad);

	/* A section a compiler refuses: its error comes back, and nothing is returned. */
	bad = policy("shop", "cidr", 1, "Enforce", "{}", NET_ALLOW_DNS);
	json_t *rule = json_array_get(
		json_object_get(
			json_object_get(json_object_get(json_object_get(bad, "spec"), "network"),
					"egress"),
			"rules"),
		0);
	json_object_set_new(rule, "cidrs", parse("[\"10.0.0.0/33\"]"));
	memset(&err, 0, sizeof(err));
	assert_int_equal(policy_compile_pod(pod, &bad, 1, &out, &err), -EINVAL);
	assert_true(err.field[0] || err.reason[0]);
	assert_ptr_equal(out, (json_t *)0x1);
	json_decref(bad);

	/* A section that is not an object. */
	bad = policy("shop", "null", 1, "Enforce", "{}", EXEC_RECORD);
	json_object_set_new(json_object_get(bad, "spec"), "landlock", json_null());
	memset(&err, 0, sizeof(err));
	assert_int_equal(policy_compile_pod(pod, &bad, 1, &out, &err), -EINVAL);
	assert_string_equal(err.field, "spec.landlock");
	assert_string_equal(err.reason, "policy shop/null: must be an object");
	json_decref(bad);

	/* A pod without a namespace cannot be matched to anything. */
	json_t *nameless = parse("{\"metadata\":{\"name\":\"x\"}}");
	json_t *ok = policy("shop", "a", 1, "Enforce", "{}", EXEC_RECORD);
	memset(&err, 0, sizeof(err));
	assert_int_equal(policy_compile_pod(nameless, &ok, 1, &out, &err), -EINVAL);
	assert_string_equal(err.field, "pod.metadata.namespace");
	json_decref(ok);
	json_decref(nameless);
	json_decref(pod);
}

static json_t *pod_named(const char *name, const char *app)
{
	json_t *pod = json_pack("{s:{s:s, s:s, s:{s:s}}}", "metadata", "namespace", "shop", "name",
				name, "labels", "app", app);
	assert_non_null(pod);
	return pod;
}

static json_t *compile_cached_ok(struct policy_cache *cache, const json_t *pod, json_t **p,
				 size_t n)
{
	json_t *out = NULL;
	struct field_error err = {0};
	char why[1024];
	int r = policy_compile_pod_cached(cache, pod, p, n, &out, &err);
	if (r < 0)
		fail_msg("cached compile failed (%d): %s", r,
			 field_error_str(&err, why, sizeof(why)));
	return out;
}

/* The cache changes nothing but the cost: outputs are canonically identical to uncached
 * ones, pods selected by the same policies share one copy of each section, a changed policy
 * misses, and an evicted entry is simply compiled again. */
static void cache_is_transparent(void **state)
{
	struct policy_cache *cache = NULL;
	assert_int_equal(policy_cache_new(0, &cache), -EINVAL);
	assert_int_equal(policy_cache_new(POLICY_CACHE_MAX_SLOTS + 1, &cache), -EINVAL);
	assert_int_equal(policy_cache_new(1, &cache), 0); /* one slot: every new key evicts */

	json_t *p[] = {
		policy("shop", "web", 1, "Enforce", "{\"matchLabels\":{\"app\":\"web\"}}",
		       NET_ALLOW_DNS "," SECCOMP_DENY_MKDIR "," LANDLOCK_RO),
		policy("shop", "db", 1, "Enforce", "{\"matchLabels\":{\"app\":\"db\"}}",
		       NET_DENY_EGRESS "," SECCOMP_DENY_MKDIR),
		policy("shop", "all", 1, "Audit", "{}", EXEC_RECORD),
	};
	const char *pods[][2] = {{"web-1", "web"}, {"web-2", "web"}, {"db-1", "db"},
				 {"web-3", "web"}, {"db-2", "db"},   {"db-3", "db"}};
	json_t *first_web = NULL;
	for (size_t i = 0; i < sizeof(pods) / sizeof(pods[0]); i++) {
		json_t *pod = pod_named(pods[i][0], pods[i][1]);
		json_t *cached = compile_cached_ok(cache, pod, p, 3);
		json_t *plain = compile_ok(pod, p, 3);
		char *a = dump(cached), *b = dump(plain);
		assert_string_equal(a, b);
		free(a);
		free(b);
		if (i == 0)
			first_web = json_incref(cached);
		if (i == 1) /* web-2 right after web-1: the same sections, shared */
			assert_ptr_equal(json_object_get(cached, "seccomp"),
					 json_object_get(first_web, "seccomp"));
		json_decref(plain);
		json_decref(cached);
		json_decref(pod);
	}
	unsigned long hits, misses;
	policy_cache_stats(cache, &hits, &misses);
	/* web-1 miss, web-2 hit, db-1 miss (evicts), web-3 miss, db-2 miss, db-3 hit */
	assert_int_equal(hits, 2);
	assert_int_equal(misses, 4);

	/* A changed policy is a different key. */
	json_t *pod = pod_named("db-4", "db");
	json_t *before = compile_cached_ok(cache, pod, p, 3);
	json_decref(p[1]);
	p[1] = policy("shop", "db", 2, "Enforce", "{\"matchLabels\":{\"app\":\"db\"}}",
		      NET_ALLOW_DNS);
	json_t *after = compile_cached_ok(cache, pod, p, 3);
	json_t *plain = compile_ok(pod, p, 3);
	assert_false(
		json_equal(json_object_get(before, "network"), json_object_get(after, "network")));
	assert_true(json_equal(after, plain));
	assert_null(json_object_get(after, "seccomp"));

	/* Outputs outlive the cache. */
	cache = policy_cache_free(cache);
	assert_null(cache);
	assert_non_null(json_object_get(json_object_get(first_web, "seccomp"), "profileName"));
	json_decref(first_web);
	json_decref(before);
	json_decref(after);
	json_decref(plain);
	json_decref(pod);
	free_all(p, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(no_selecting_policy_means_nothing_to_enforce),
		cmocka_unit_test(provenance_is_sorted_and_complete),
		cmocka_unit_test(each_section_reaches_its_compiler),
		cmocka_unit_test(audit_mode_reaches_the_compilers),
		cmocka_unit_test(seccomp_profile_is_named_by_its_content),
		cmocka_unit_test(hash_covers_everything_else),
		cmocka_unit_test(exec_recording_composition),
		cmocka_unit_test(output_does_not_depend_on_policy_order),
		cmocka_unit_test(output_does_not_depend_on_key_order),
		cmocka_unit_test(hash_changes_with_every_input),
		cmocka_unit_test(compile_errors_name_the_policy),
		cmocka_unit_test(cache_is_transparent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
