/* lib/seccomp: groups, validation messages, composition of several policies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "canonical.h"
#include "seccomp/groups.h"
#include "seccomp/policy.h"
#include "seccomp/runtime_default.h"
#include "seccomp/syscall_names.h"

static json_t *parse(const char *text)
{
	json_error_t jerr;
	json_t *j = json_loads(text, 0, &jerr);
	if (!j)
		fail_msg("bad test JSON %s: %s", text, jerr.text);
	return j;
}

/* "field: reason" of validating text, or "" when it is valid. */
static const char *validate_msg(const char *text, char *out, size_t size)
{
	json_t *j = parse(text);
	struct field_error err = {0};
	int r = seccomp_policy_validate(j, "spec.seccomp", &err);
	json_decref(j);
	if (r == 0)
		return strcpy(out, "");
	assert_int_equal(r, -EINVAL);
	return field_error_str(&err, out, size);
}

#define assert_invalid(text, msg)                                                 \
	do {                                                                      \
		char _m[800];                                                     \
		assert_string_equal(validate_msg((text), _m, sizeof(_m)), (msg)); \
	} while (0)

static json_t *compile_modes(const char *const *texts, const bool *audit, size_t n)
{
	json_t *docs[16];
	struct policy_section s[16];
	assert_true(n <= 16);
	for (size_t i = 0; i < n; i++) {
		docs[i] = parse(texts[i]);
		s[i] = (struct policy_section){
			.policy = "ns/p", .audit = audit && audit[i], .section = docs[i]};
	}
	json_t *profile = NULL;
	struct field_error err = {0};
	int r = seccomp_policy_compile(s, n, &profile, &err);
	if (r < 0)
		fail_msg("compile: %d %s: %s", r, err.field, err.reason);
	for (size_t i = 0; i < n; i++)
		json_decref(docs[i]);
	return profile;
}

static json_t *compile1(const char *text)
{
	return compile_modes(&text, NULL, 1);
}

/* The entry that names syscall (first match, in profile order), or NULL. */
static const json_t *entry_for(const json_t *profile, const char *syscall)
{
	size_t i, j;
	json_t *e, *n;
	json_array_foreach (json_object_get(profile, "syscalls"), i, e)
		json_array_foreach (json_object_get(e, "names"), j, n)
			if (strcmp(json_string_value(n), syscall) == 0)
				return e;
	return NULL;
}

static const char *action_for(const json_t *profile, const char *syscall)
{
	const json_t *e = entry_for(profile, syscall);
	return e ? json_string_value(json_object_get(e, "action")) : NULL;
}

static int errno_for(const json_t *profile, const char *syscall)
{
	return (int)json_integer_value(json_object_get(entry_for(profile, syscall), "errnoRet"));
}

/* ---- groups ---------------------------------------------------------------------------- */

static void every_group_member_is_a_syscall_or_group(void **state)
{
	for (size_t i = 0; i < syscall_groups_count; i++) {
		const struct syscall_group *g = &syscall_groups[i];
		assert_true(g->name[0] == '@');
		assert_true(strlen(g->description) > 0);
		json_t *set = json_object();
		struct field_error err = {0};
		assert_int_equal(syscall_group_expand(g->name, set, "f", &err), 0);
		assert_true(json_object_size(set) > 0);
		const char *name;
		json_t *v;
		json_object_foreach (set, name, v)
			if (seccomp_syscall_check(name) != 0)
				fail_msg("%s: \"%s\" is not a syscall on our architectures",
					 g->name, name);
		json_decref(set);
	}
}

static void nested_groups_expand(void **state)
{
	json_t *set = json_object();
	assert_int_equal(syscall_group_expand("@system-service", set, "f", NULL), 0);
	/* from @file-system, @network-io, @default, @sandbox and @process, through nesting */
	assert_non_null(json_object_get(set, "openat"));
	assert_non_null(json_object_get(set, "connect"));
	assert_non_null(json_object_get(set, "exit_group"));
	assert_non_null(json_object_get(set, "landlock_restrict_self"));
	assert_non_null(json_object_get(set, "clone"));
	/* @privileged, @mount, @debug and @module stay out */
	assert_null(json_object_get(set, "mount"));
	assert_null(json_object_get(set, "ptrace"));
	assert_null(json_object_get(set, "init_module"));
	assert_null(json_object_get(set, "reboot"));
	json_decref(set);

	/* @known: everything libseccomp knows on our architectures, including arch-only names */
	set = json_object();
	assert_int_equal(syscall_group_expand("@known", set, "f", NULL), 0);
	assert_true(json_object_size(set) > 400);
	assert_non_null(json_object_get(set, "openat"));
	assert_non_null(json_object_get(set, "set_tls"));	/* arm */
	assert_non_null(json_object_get(set, "vm86"));		/* x86 */
	assert_non_null(json_object_get(set, "epoll_ctl_old")); /* x86-64 */
	assert_null(json_object_get(set, "sync_file_range2"));	/* ppc */
	json_decref(set);

	set = json_object();
	assert_int_equal(syscall_group_expand("@privileged", set, "f", NULL), 0);
	assert_non_null(json_object_get(set, "fchownat"));   /* via @chown */
	assert_non_null(json_object_get(set, "kexec_load")); /* via @reboot */
	assert_non_null(json_object_get(set, "bpf"));
	json_decref(set);
}

static void group_cycles_and_unknown_members_are_reported(void **state)
{
	static const struct syscall_group table[] = {
		{"@a", "a", "read @b"},
		{"@b", "b", "write @c"},
		{"@c", "c", "close @a"},
		{"@d", "d", "read @nope"},
	};
	struct field_error err = {0};
	json_t *set = json_object();
	assert_int_equal(
		syscall_group_expand_in(table, 4, "@a", set, "spec.seccomp.allow[0]", &err),
		-EINVAL);
	assert_string_equal(err.field, "spec.seccomp.allow[0]");
	assert_string_equal(err.reason, "syscall group cycle: @a -> @b -> @c -> @a");

	memset(&err, 0, sizeof(err));
	assert_int_equal(syscall_group_expand_in(table, 4, "@d", set, "f", &err), -EINVAL);
	assert_string_equal(err.reason, "unknown syscall group \"@nope\" (inside \"@d\")");
	json_decref(set);
}

/* ---- validation ------------------------------------------------------------------------ */

static void valid_sections(void **state)
{
	assert_invalid("{}", "");
	assert_invalid("{\"base\":\"None\",\"defaultAction\":\"Errno\",\"defaultErrno\":\"EACCES\","
		       "\"allow\":[\"@system-service\",\"io_uring_setup\"],"
		       "\"deny\":[{\"syscalls\":[\"mkdir\",\"@mount\"],\"action\":\"Errno\","
		       "\"errno\":13},{\"syscalls\":[\"ptrace\"],\"action\":\"KillProcess\"}]}",
		       "");
	/* known on arm only, or newer than our libseccomp: fine */
	assert_invalid("{\"allow\":[\"set_tls\",\"arch_prctl\",\"mseal\"]}", "");
}

static void invalid_sections_name_the_field(void **state)
{
	assert_invalid("{\"deny\":[{\"syscalls\":[\"mkdir\",\"mkdirat\",\"mkdri\"]}]}",
		       "spec.seccomp.deny[0].syscalls[2]: unknown syscall \"mkdri\"");
	assert_invalid("{\"allow\":[\"read\",\"@nope\"]}",
		       "spec.seccomp.allow[1]: unknown syscall group \"@nope\"");
	assert_invalid("{\"deny\":[{\"syscalls\":[\"mkdir\"],\"errno\":\"EFOO\"}]}",
		       "spec.seccomp.deny[0].errno: unknown errno \"EFOO\"");
	assert_invalid("{\"deny\":[{\"syscalls\":[\"mkdir\"],\"errno\":0}]}",
		       "spec.seccomp.deny[0].errno: errno must be 1..4095, not 0");
	assert_invalid(
		"{\"deny\":[{\"syscalls\":[\"mkdir\"],\"action\":\"Allow\"}]}",
		"spec.seccomp.deny[0].action: unknown action \"Allow\": must be one of Errno, "
		"KillProcess, KillThread, Trap, Log");
	assert_invalid(
		"{\"deny\":[{\"syscalls\":[\"mkdir\"],\"action\":\"Kill\"}]}",
		"spec.seccomp.deny[0].action: unknown action \"Kill\": must be one of Errno, "
		"KillProcess, KillThread, Trap, Log");
	assert_invalid("{\"deny\":[{\"syscalls\":[\"mkdir\"],\"action\":\"Trap\",\"errno\":1}]}",
		       "spec.seccomp.deny[0].errno: only allowed with action Errno");
	assert_invalid(
		"{\"deny\":[{\"syscalls\":[]}]}",
		"spec.seccomp.deny[0].syscalls: must be a non-empty list of syscall names or "
		"@groups");
	assert_invalid("{\"base\":\"Unconfined\"}",
		       "spec.seccomp.base: must be RuntimeDefault or None");
	assert_invalid("{\"defaultAction\":\"Allow\"}",
		       "spec.seccomp.defaultAction: only allowed with base None (RuntimeDefault "
		       "brings its own default: Errno EPERM)");
	assert_invalid("{\"base\":\"None\",\"defaultAction\":\"Deny\"}",
		       "spec.seccomp.defaultAction: unknown action \"Deny\": must be one of Allow, "
		       "Errno, KillProcess, KillThread, Trap, Log");
	assert_invalid("{\"base\":\"None\",\"defaultAction\":\"Log\",\"defaultErrno\":\"EPERM\"}",
		       "spec.seccomp.defaultErrno: only allowed with base None and defaultAction "
		       "Errno");
	assert_invalid(
		"{\"allow\":[\"sync_file_range2\"]}",
		"spec.seccomp.allow[0]: syscall \"sync_file_range2\" does not exist on x86-64, "
		"x86, x32, arm64 or arm");
	assert_invalid("{\"allow\":[\"Read\"]}", "spec.seccomp.allow[0]: unknown syscall \"Read\"");
	assert_invalid("{\"allow\":[42]}",
		       "spec.seccomp.allow[0]: must be a syscall name or @group (a string)");
	assert_invalid("{\"allow\":\"read\"}",
		       "spec.seccomp.allow: must be a list of syscall names or @groups");
	assert_invalid("{\"alow\":[]}", "spec.seccomp.alow: unknown field");
	assert_invalid("[]", "spec.seccomp: must be an object");
}

static void oversized_lists_are_rejected(void **state)
{
	json_t *allow = json_array();
	for (int i = 0; i <= SECCOMP_POLICY_ALLOW_MAX; i++)
		json_array_append_new(allow, json_string("read"));
	json_t *s = json_pack("{s:o}", "allow", allow);
	struct field_error err = {0};
	assert_int_equal(seccomp_policy_validate(s, "spec.seccomp", &err), -EINVAL);
	assert_string_equal(err.field, "spec.seccomp.allow");
	assert_string_equal(err.reason, "at most 1024 entries");
	json_decref(s);
}

/* ---- composition ----------------------------------------------------------------------- */

static void runtime_default_profile(void **state)
{
	json_t *p = compile1("{}");
	assert_string_equal(json_string_value(json_object_get(p, "defaultAction")),
			    "SCMP_ACT_ERRNO");
	assert_int_equal(json_integer_value(json_object_get(p, "defaultErrnoRet")), 1);
	assert_int_equal(json_array_size(json_object_get(p, "architectures")), 5);
	assert_string_equal(action_for(p, "read"), "SCMP_ACT_ALLOW");
	assert_null(action_for(p, "unshare"));
	assert_null(action_for(p, "keyctl"));
	assert_null(action_for(p, "ptrace"));
	assert_null(action_for(p, "mount"));
	assert_string_equal(action_for(p, "clone3"), "SCMP_ACT_ERRNO");
	assert_int_equal(errno_for(p, "clone3"), 38);
	const json_t *clone = entry_for(p, "clone");
	json_t *want = parse("[{\"index\":0,\"value\":2114060288,\"valueTwo\":0,"
			     "\"op\":\"SCMP_CMP_MASKED_EQ\"}]");
	assert_true(json_equal(json_object_get(clone, "args"), want));
	json_decref(want);
	/* five personality rules; socket is an allow-list of families (one "below 3" rule,
	 * then one rule per family), without AF_ALG (38) or AF_VSOCK (40). An entry holds
	 * every name with the same condition (personality and socket share "arg0 == 8"). */
	size_t i, j, personality = 0, socket = 0;
	json_t *e, *n;
	json_array_foreach (json_object_get(p, "syscalls"), i, e) {
		const json_t *arg = json_array_get(json_object_get(e, "args"), 0);
		json_array_foreach (json_object_get(e, "names"), j, n) {
			if (strcmp(json_string_value(n), "personality") == 0)
				personality++;
			if (strcmp(json_string_value(n), "socket") != 0)
				continue;
			socket++;
			assert_non_null(arg);
			json_int_t v = json_integer_value(json_object_get(arg, "value"));
			assert_true(v != 38 && v != 40);
		}
	}
	assert_int_equal(personality, 5);
	assert_int_equal(socket, 30);
	/* io_uring is blocked, the 6.x calls the reference allows are allowed */
	assert_null(action_for(p, "io_uring_setup"));
	assert_string_equal(action_for(p, "fchmodat2"), "SCMP_ACT_ALLOW");
	assert_string_equal(action_for(p, "statmount"), "SCMP_ACT_ALLOW");
	json_decref(p);
}

static void every_runtime_default_name_is_known(void **state)
{
	json_t *p = compile1("{}");
	size_t i, j;
	json_t *e, *n;
	json_array_foreach (json_object_get(p, "syscalls"), i, e)
		json_array_foreach (json_object_get(e, "names"), j, n)
			if (seccomp_syscall_check(json_string_value(n)) != 0)
				fail_msg("RuntimeDefault names unknown syscall %s",
					 json_string_value(n));
	json_decref(p);
}

static void deny_wins_over_allow_across_policies(void **state)
{
	const char *texts[] = {
		"{\"allow\":[\"unshare\",\"ptrace\",\"@mount\"]}",
		"{\"deny\":[{\"syscalls\":[\"mkdir\",\"unshare\"],\"errno\":\"EACCES\"}]}",
	};
	json_t *p = compile_modes(texts, NULL, 2);
	assert_string_equal(action_for(p, "unshare"), "SCMP_ACT_ERRNO");
	assert_int_equal(errno_for(p, "unshare"), EACCES);
	assert_int_equal(errno_for(p, "mkdir"), EACCES);
	assert_string_equal(action_for(p, "ptrace"), "SCMP_ACT_ALLOW");
	assert_string_equal(action_for(p, "mount"), "SCMP_ACT_ALLOW");
	/* allowing clone lifts RuntimeDefault's argument condition, no other policy objects */
	json_decref(p);

	const char *t2[] = {"{\"allow\":[\"clone\",\"clone3\"]}"};
	p = compile_modes(t2, NULL, 1);
	assert_null(json_object_get(entry_for(p, "clone"), "args"));
	assert_string_equal(action_for(p, "clone3"), "SCMP_ACT_ALLOW");
	json_decref(p);
}

static void deny_equal_to_default_is_left_to_the_default(void **state)
{
	json_t *p = compile1("{\"deny\":[{\"syscalls\":[\"mkdir\"]}]}");
	assert_null(entry_for(p, "mkdir")); /* default Errno EPERM already says it */
	json_decref(p);
}

static void audit_denies_become_log_and_never_grant(void **state)
{
	const char *texts[] = {
		"{\"base\":\"None\",\"defaultAction\":\"Errno\",\"allow\":[\"read\",\"write\"]}",
		"{\"deny\":[{\"syscalls\":[\"write\",\"mkdir\",\"clone3\"],\"action\":"
		"\"KillProcess\"}]}",
	};
	const bool audit[] = {false, true};
	json_t *p = compile_modes(texts, audit, 2);
	assert_string_equal(action_for(p, "write"), "SCMP_ACT_LOG");
	assert_string_equal(action_for(p, "read"), "SCMP_ACT_ALLOW");
	/* the Audit policy's RuntimeDefault base grants nothing the Enforce policy refuses */
	assert_null(entry_for(p, "mkdir"));
	assert_null(entry_for(p, "clone3"));
	assert_null(entry_for(p, "openat"));
	assert_string_equal(json_string_value(json_object_get(p, "defaultAction")),
			    "SCMP_ACT_ERRNO");
	assert_int_equal(json_array_size(json_object_get(p, "syscalls")), 2);
	json_decref(p);

	/* An Audit allow-list does not narrow an Enforce RuntimeDefault either: what it would
	 * refuse is logged. */
	const char *t3[] = {"{}", "{\"base\":\"None\",\"allow\":[\"@basic-io\",\"@default\"]}"};
	p = compile_modes(t3, audit, 2);
	assert_string_equal(action_for(p, "read"), "SCMP_ACT_ALLOW");
	assert_string_equal(action_for(p, "openat"), "SCMP_ACT_LOG");
	assert_string_equal(action_for(p, "clone"), "SCMP_ACT_LOG");
	assert_non_null(json_object_get(entry_for(p, "clone"), "args")); /* condition kept */
	assert_int_equal(errno_for(p, "clone3"), ENOSYS);
	json_decref(p);

	/* only Audit policies: nothing is refused; what they allow stays quiet */
	const char *t2[] = {"{\"base\":\"None\",\"defaultAction\":\"KillProcess\","
			    "\"allow\":[\"read\",\"write\"],\"deny\":[{\"syscalls\":[\"read\"]}]}"};
	const bool a2[] = {true};
	p = compile_modes(t2, a2, 1);
	assert_string_equal(json_string_value(json_object_get(p, "defaultAction")), "SCMP_ACT_LOG");
	assert_null(entry_for(p, "read")); /* Log, like the default */
	assert_string_equal(action_for(p, "write"), "SCMP_ACT_ALLOW");
	json_decref(p);

	/* an Enforce Log default stays Log for names only an Audit policy allows */
	const char *t4[] = {"{\"base\":\"None\",\"defaultAction\":\"Log\"}",
			    "{\"base\":\"None\",\"allow\":[\"read\"]}"};
	p = compile_modes(t4, audit, 2);
	assert_string_equal(json_string_value(json_object_get(p, "defaultAction")), "SCMP_ACT_LOG");
	assert_null(entry_for(p, "read"));
	json_decref(p);

	/* a Log deny in an Enforce policy marks an allowed call and grants nothing */
	p = compile1("{\"deny\":[{\"syscalls\":[\"write\",\"keyctl\"],\"action\":\"Log\"}]}");
	assert_string_equal(action_for(p, "write"), "SCMP_ACT_LOG");
	assert_null(entry_for(p, "keyctl"));
	json_decref(p);
}

static void base_none_default_action(void **state)
{
	json_t *p = compile1("{\"base\":\"None\",\"defaultAction\":\"Allow\","
			     "\"deny\":[{\"syscalls\":[\"mkdir\"]},"
			     "{\"syscalls\":[\"ptrace\"],\"action\":\"KillThread\"}]}");
	assert_string_equal(json_string_value(json_object_get(p, "defaultAction")),
			    "SCMP_ACT_ALLOW");
	assert_null(json_object_get(p, "defaultErrnoRet"));
	assert_int_equal(json_array_size(json_object_get(p, "syscalls")), 2);
	assert_string_equal(action_for(p, "ptrace"), "SCMP_ACT_KILL_THREAD");
	assert_int_equal(errno_for(p, "mkdir"), EPERM);
	json_decref(p);

	p = compile1("{\"base\":\"None\",\"defaultErrno\":\"ENOSYS\",\"allow\":[\"@basic-io\"]}");
	assert_int_equal(json_integer_value(json_object_get(p, "defaultErrnoRet")), ENOSYS);
	assert_string_equal(action_for(p, "read"), "SCMP_ACT_ALLOW");
	assert_null(entry_for(p, "openat"));
	json_decref(p);
}

static void conflicting_rules_pick_the_strictest(void **state)
{
	/* Two Enforce denies with different errnos: the lower errno wins, in either order. */
	const char *a = "{\"deny\":[{\"syscalls\":[\"unlink\"],\"errno\":\"EACCES\"}]}";
	const char *b = "{\"deny\":[{\"syscalls\":[\"unlink\"],\"errno\":\"EROFS\"}]}";
	const char *c = "{\"deny\":[{\"syscalls\":[\"rmdir\"],\"action\":\"Trap\"}]}";
	const char *d = "{\"deny\":[{\"syscalls\":[\"rmdir\"],\"errno\":\"EIO\"}]}";
	const char *ab[] = {a, b, c, d}, *ba[] = {d, b, c, a};
	json_t *p = compile_modes(ab, NULL, 4), *q = compile_modes(ba, NULL, 4);
	assert_int_equal(errno_for(p, "unlink"), EACCES);
	assert_string_equal(action_for(p, "rmdir"), "SCMP_ACT_TRAP");
	assert_true(json_equal(p, q));
	json_decref(p);
	json_decref(q);

	/* Defaults: the strictest wins. */
	const char *e = "{\"base\":\"None\",\"defaultAction\":\"Allow\"}";
	const char *f = "{\"base\":\"None\",\"defaultAction\":\"Trap\",\"allow\":[\"read\"]}";
	const char *ef[] = {e, f};
	p = compile_modes(ef, NULL, 2);
	assert_string_equal(json_string_value(json_object_get(p, "defaultAction")),
			    "SCMP_ACT_TRAP");
	json_decref(p);
}

static void output_is_deterministic_under_permutation(void **state)
{
	const char *texts[] = {
		"{\"allow\":[\"@keyring\",\"ptrace\"]}",
		"{\"deny\":[{\"syscalls\":[\"mkdir\",\"@mount\"],\"errno\":\"EACCES\"}]}",
		"{\"base\":\"None\",\"defaultAction\":\"Errno\",\"allow\":[\"@system-service\"]}",
		"{\"deny\":[{\"syscalls\":[\"keyctl\",\"unlink\"],\"action\":\"Log\"}]}",
	};
	const bool audit[] = {false, false, false, true};
	char first[65] = "";
	static const int perms[][4] = {{0, 1, 2, 3}, {3, 2, 1, 0}, {1, 3, 0, 2}, {2, 0, 3, 1}};
	for (size_t k = 0; k < 4; k++) {
		const char *t[4];
		bool au[4];
		for (int i = 0; i < 4; i++) {
			t[i] = texts[perms[k][i]];
			au[i] = audit[perms[k][i]];
		}
		json_t *p = compile_modes(t, au, 4);
		char h[65];
		assert_int_equal(json_canonical_sha256(p, h), 0);
		if (k == 0)
			memcpy(first, h, sizeof(h));
		assert_string_equal(h, first);
		/* names inside each entry are sorted */
		size_t i, j;
		json_t *e, *n;
		json_array_foreach (json_object_get(p, "syscalls"), i, e) {
			const char *prev = "";
			json_array_foreach (json_object_get(e, "names"), j, n) {
				assert_true(strcmp(prev, json_string_value(n)) < 0);
				prev = json_string_value(n);
			}
		}
		json_decref(p);
	}
}

static void compile_reports_the_policy(void **state)
{
	json_t *bad = parse("{\"allow\":[\"nope_call\"]}");
	struct policy_section s = {.policy = "shop/web", .section = bad};
	json_t *p = NULL;
	struct field_error err = {0};
	assert_int_equal(seccomp_policy_compile(&s, 1, &p, &err), -EINVAL);
	assert_null(p);
	assert_string_equal(err.field, "spec.seccomp.allow[0]");
	assert_string_equal(err.reason, "unknown syscall \"nope_call\" (BulwarkPolicy shop/web)");
	json_decref(bad);
	memset(&err, 0, sizeof(err));
	assert_int_equal(seccomp_policy_compile(NULL, 0, &p, &err), -EINVAL);
}

static void names_errnos_actions(void **state)
{
	int e;
	assert_int_equal(seccomp_errno_from_name("ENOSYS", &e), 0);
	assert_int_equal(e, ENOSYS);
	assert_int_equal(seccomp_errno_from_name("EWHAT", &e), -ENOENT);
	assert_string_equal(seccomp_errno_to_name(EACCES), "EACCES");
	enum seccomp_action a;
	assert_int_equal(seccomp_action_from_oci("SCMP_ACT_KILL", &a), 0);
	assert_int_equal(a, SECCOMP_ACTION_KILL_THREAD);
	assert_int_equal(seccomp_syscall_check("mkdri"), -ENOENT);
	assert_int_equal(seccomp_syscall_check("openat"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_group_member_is_a_syscall_or_group),
		cmocka_unit_test(nested_groups_expand),
		cmocka_unit_test(group_cycles_and_unknown_members_are_reported),
		cmocka_unit_test(valid_sections),
		cmocka_unit_test(invalid_sections_name_the_field),
		cmocka_unit_test(oversized_lists_are_rejected),
		cmocka_unit_test(runtime_default_profile),
		cmocka_unit_test(every_runtime_default_name_is_known),
		cmocka_unit_test(deny_wins_over_allow_across_policies),
		cmocka_unit_test(deny_equal_to_default_is_left_to_the_default),
		cmocka_unit_test(audit_denies_become_log_and_never_grant),
		cmocka_unit_test(base_none_default_action),
		cmocka_unit_test(conflicting_rules_pick_the_strictest),
		cmocka_unit_test(output_is_deterministic_under_permutation),
		cmocka_unit_test(compile_reports_the_policy),
		cmocka_unit_test(names_errnos_actions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
