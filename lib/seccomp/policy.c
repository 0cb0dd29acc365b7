/* Composition, in one place (docs/policy-api.md "Composition"):
 *  - the allowed set is the union of every Enforce section's base and allow names;
 *  - every deny removes its names from it: deny beats allow, whichever policy said what;
 *  - the profile's default action is the strictest of the sections' defaults (RuntimeDefault
 *    counts as Errno EPERM), so a policy can only narrow what another's default forbids;
 *  - when two denies (or two defaults) disagree, the strictest action wins (KillProcess >
 *    KillThread > Trap > Errno > Log) and between two errnos the lower number wins, so the
 *    result never depends on the order policies were listed in;
 *  - Audit: policies in Audit mode are composed on their own (same rules) and only annotate:
 *    a call the Enforce policies let through but the Audit ones would refuse is SCMP_ACT_LOG
 *    instead of allowed. They neither widen enforcement (an Audit allow-list grants nothing)
 *    nor narrow it. Where Enforce policies let every call through by default (none selects
 *    the pod, or all say defaultAction Allow) and an Audit policy would refuse by default,
 *    the profile's default is Log.
 *  - Log never grants: a deny whose action is Log (in an Enforce policy) marks a call that
 *    would otherwise be allowed, keeping its argument conditions; a call refused by the
 *    default, by another deny or by a base errno (clone3 -> ENOSYS) stays refused. */
#include "seccomp/policy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cleanup.h"
#include "seccomp/groups.h"
#include "seccomp/runtime_default.h"
#include "seccomp/syscall_names.h"

#define SYSCALL_NAME_MAX 63

/* A field path ("spec.seccomp.deny[0].errno"); one past the error struct's size is truncated,
 * which only shortens a message. */
__attribute__((format(printf, 3, 4))) static void path_fmt(char *out, size_t size, const char *fmt,
							   ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out, size, fmt, ap);
	va_end(ap);
}

struct verdict {
	enum seccomp_action action;
	int errno_ret; /* with SECCOMP_ACTION_ERRNO, else 0 */
};

/* True when a is stricter than b (see the composition rules above). */
static bool verdict_stricter(struct verdict a, struct verdict b)
{
	if (a.action != b.action)
		return a.action > b.action;
	return a.action == SECCOMP_ACTION_ERRNO && a.errno_ret < b.errno_ret;
}

static bool verdict_equal(struct verdict a, struct verdict b)
{
	return a.action == b.action && a.errno_ret == b.errno_ret;
}

/* One section, parsed. */
struct parsed_section {
	bool runtime_default;
	struct verdict default_verdict;
	json_t *allow; /* name -> true, groups expanded */
	json_t *deny;  /* name -> [action, errno] */
};

static void parsed_section_done(struct parsed_section *p)
{
	json_decref(p->allow);
	json_decref(p->deny);
}

static int check_syscall_name(const char *name, const char *field, struct field_error *err)
{
	size_t len = strlen(name);
	if (len == 0)
		return field_error_set(err, field, "empty syscall name");
	if (len > SYSCALL_NAME_MAX || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != len)
		return field_error_set(err, field, "unknown syscall \"%.*s\"", SYSCALL_NAME_MAX,
				       name);
	int r = seccomp_syscall_check(name);
	if (r == -EXDEV)
		return field_error_set(
			err, field,
			"syscall \"%s\" does not exist on x86-64, x86, x32, arm64 or arm", name);
	if (r < 0)
		return field_error_set(err, field, "unknown syscall \"%s\"", name);
	return 0;
}

/* A syscall name or an @group, added to set (names expanded). */
static int add_name_or_group(const json_t *v, json_t *set, const char *field,
			     struct field_error *err)
{
	if (!json_is_string(v))
		return field_error_set(err, field, "must be a syscall name or @group (a string)");
	const char *name = json_string_value(v);
	if (name[0] == '@') {
		if (strlen(name) > SYSCALL_NAME_MAX)
			return field_error_set(err, field, "unknown syscall group \"%.*s\"",
					       SYSCALL_NAME_MAX, name);
		return syscall_group_expand(name, set, field, err);
	}
	int r = check_syscall_name(name, field, err);
	if (r < 0)
		return r;
	return json_object_set_new(set, name, json_true()) < 0 ? -ENOMEM : 0;
}

static int parse_errno(const json_t *v, const char *field, int *ret, struct field_error *err)
{
	if (json_is_integer(v)) {
		json_int_t e = json_integer_value(v);
		if (e < 1 || e > SECCOMP_ERRNO_MAX)
			return field_error_set(err, field, "errno must be 1..%d, not %lld",
					       SECCOMP_ERRNO_MAX, (long long)e);
		*ret = (int)e;
		return 0;
	}
	if (!json_is_string(v))
		return field_error_set(err, field, "must be an errno name (EPERM) or number");
	if (seccomp_errno_from_name(json_string_value(v), ret) < 0)
		return field_error_set(err, field, "unknown errno \"%.64s\"", json_string_value(v));
	return 0;
}

static int parse_action(const json_t *v, const char *field, bool allow_ok, enum seccomp_action *ret,
			struct field_error *err)
{
	const char *choices = allow_ok ? "Allow, Errno, KillProcess, KillThread, Trap, Log"
				       : "Errno, KillProcess, KillThread, Trap, Log";
	if (!json_is_string(v))
		return field_error_set(err, field, "must be one of %s", choices);
	enum seccomp_action a;
	if (seccomp_action_from_name(json_string_value(v), &a) < 0 ||
	    (!allow_ok && a == SECCOMP_ACTION_ALLOW))
		return field_error_set(err, field, "unknown action \"%.64s\": must be one of %s",
				       json_string_value(v), choices);
	*ret = a;
	return 0;
}

static int check_keys(const json_t *obj, const char *const *known, const char *field,
		      struct field_error *err)
{
	const char *key;
	json_t *v;
	json_object_foreach ((json_t *)obj, key, v) {
		bool ok = false;
		for (const char *const *k = known; *k; k++)
			ok = ok || strcmp(key, *k) == 0;
		if (!ok) {
			char f[256];
			path_fmt(f, sizeof(f), "%s.%.64s", field, key);
			return field_error_set(err, f, "unknown field");
		}
	}
	return 0;
}

/* Records name -> verdict in deny, keeping the stricter verdict if it is already there. */
static int deny_merge(json_t *deny, const char *name, struct verdict v)
{
	json_t *old = json_object_get(deny, name);
	if (old) {
		struct verdict o = {json_integer_value(json_array_get(old, 0)),
				    json_integer_value(json_array_get(old, 1))};
		if (!verdict_stricter(v, o))
			return 0;
	}
	return json_object_set_new(deny, name, json_pack("[ii]", v.action, v.errno_ret)) < 0
		       ? -ENOMEM
		       : 0;
}

static int parse_deny_entry(const json_t *entry, const char *field, json_t *deny,
			    struct field_error *err)
{
	static const char *const keys[] = {"syscalls", "action", "errno", NULL};
	char f[256];
	int r;

	if (!json_is_object(entry))
		return field_error_set(err, field, "must be an object {syscalls, action, errno}");
	r = check_keys(entry, keys, field, err);
	if (r < 0)
		return r;

	struct verdict v = {SECCOMP_ACTION_ERRNO, EPERM};
	const json_t *action = json_object_get(entry, "action");
	if (action) {
		path_fmt(f, sizeof(f), "%s.action", field);
		r = parse_action(action, f, false, &v.action, err);
		if (r < 0)
			return r;
	}
	const json_t *errnum = json_object_get(entry, "errno");
	if (errnum) {
		path_fmt(f, sizeof(f), "%s.errno", field);
		if (v.action != SECCOMP_ACTION_ERRNO)
			return field_error_set(err, f, "only allowed with action Errno");
		r = parse_errno(errnum, f, &v.errno_ret, err);
		if (r < 0)
			return r;
	}
	if (v.action != SECCOMP_ACTION_ERRNO)
		v.errno_ret = 0;

	const json_t *syscalls = json_object_get(entry, "syscalls");
	path_fmt(f, sizeof(f), "%s.syscalls", field);
	if (!json_is_array(syscalls) || json_array_size(syscalls) == 0)
		return field_error_set(err, f,
				       "must be a non-empty list of syscall names or @groups");
	if (json_array_size(syscalls) > SECCOMP_POLICY_DENY_SYSCALLS_MAX)
		return field_error_set(err, f, "at most %d entries",
				       SECCOMP_POLICY_DENY_SYSCALLS_MAX);

	json_auto_t *names = json_object();
	if (!names)
		return -ENOMEM;
	size_t i;
	json_t *s;
	json_array_foreach (syscalls, i, s) {
		path_fmt(f, sizeof(f), "%s.syscalls[%zu]", field, i);
		r = add_name_or_group(s, names, f, err);
		if (r < 0)
			return r;
	}
	const char *name;
	json_object_foreach (names, name, s) {
		r = deny_merge(deny, name, v);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Validates section and, when out is not NULL, fills it. */
static int parse_section(const json_t *section, const char *field, struct parsed_section *out,
			 struct field_error *err)
{
	static const char *const keys[] = {"base",  "defaultAction", "defaultErrno",
					   "allow", "deny",	     NULL};
	char f[256];
	int r;

	if (!json_is_object(section))
		return field_error_set(err, field, "must be an object");
	r = check_keys(section, keys, field, err);
	if (r < 0)
		return r;

	struct parsed_section p = {
		.runtime_default = true,
		.default_verdict = {SECCOMP_ACTION_ERRNO, EPERM},
		.allow = json_object(),
		.deny = json_object(),
	};
	if (!p.allow || !p.deny) {
		r = -ENOMEM;
		goto fail;
	}

	const json_t *base = json_object_get(section, "base");
	if (base) {
		path_fmt(f, sizeof(f), "%s.base", field);
		if (json_is_string(base) && strcmp(json_string_value(base), "None") == 0)
			p.runtime_default = false;
		else if (!json_is_string(base) ||
			 strcmp(json_string_value(base), "RuntimeDefault") != 0) {
			r = field_error_set(err, f, "must be RuntimeDefault or None");
			goto fail;
		}
	}

	const json_t *def = json_object_get(section, "defaultAction");
	if (def) {
		path_fmt(f, sizeof(f), "%s.defaultAction", field);
		if (p.runtime_default) {
			r = field_error_set(
				err, f,
				"only allowed with base None (RuntimeDefault brings its "
				"own default: Errno EPERM)");
			goto fail;
		}
		r = parse_action(def, f, true, &p.default_verdict.action, err);
		if (r < 0)
			goto fail;
	}
	const json_t *def_errno = json_object_get(section, "defaultErrno");
	if (def_errno) {
		path_fmt(f, sizeof(f), "%s.defaultErrno", field);
		if (p.runtime_default || p.default_verdict.action != SECCOMP_ACTION_ERRNO) {
			r = field_error_set(err, f,
					    "only allowed with base None and defaultAction Errno");
			goto fail;
		}
		r = parse_errno(def_errno, f, &p.default_verdict.errno_ret, err);
		if (r < 0)
			goto fail;
	}
	if (p.default_verdict.action != SECCOMP_ACTION_ERRNO)
		p.default_verdict.errno_ret = 0;

	const json_t *allow = json_object_get(section, "allow");
	if (allow) {
		path_fmt(f, sizeof(f), "%s.allow", field);
		if (!json_is_array(allow)) {
			r = field_error_set(err, f, "must be a list of syscall names or @groups");
			goto fail;
		}
		if (json_array_size(allow) > SECCOMP_POLICY_ALLOW_MAX) {
			r = field_error_set(err, f, "at most %d entries", SECCOMP_POLICY_ALLOW_MAX);
			goto fail;
		}
		size_t i;
		json_t *v;
		json_array_foreach (allow, i, v) {
			path_fmt(f, sizeof(f), "%s.allow[%zu]", field, i);
			r = add_name_or_group(v, p.allow, f, err);
			if (r < 0)
				goto fail;
		}
	}

	const json_t *deny = json_object_get(section, "deny");
	if (deny) {
		path_fmt(f, sizeof(f), "%s.deny", field);
		if (!json_is_array(deny)) {
			r = field_error_set(err, f, "must be a list of {syscalls, action, errno}");
			goto fail;
		}
		if (json_array_size(deny) > SECCOMP_POLICY_DENY_MAX) {
			r = field_error_set(err, f, "at most %d entries", SECCOMP_POLICY_DENY_MAX);
			goto fail;
		}
		size_t i;
		json_t *v;
		json_array_foreach (deny, i, v) {
			path_fmt(f, sizeof(f), "%s.deny[%zu]", field, i);
			r = parse_deny_entry(v, f, p.deny, err);
			if (r < 0)
				goto fail;
		}
	}

	if (out)
		*out = p;
	else
		parsed_section_done(&p);
	return 0;
fail:
	parsed_section_done(&p);
	return r;
}

int seccomp_policy_validate(const json_t *section, const char *field, struct field_error *err)
{
	return parse_section(section, field, NULL, err);
}

/* The composed state: what every name gets before it becomes profile entries. */
struct composition {
	struct verdict default_verdict;
	json_t *allowed;    /* name -> true (unconditional) or [args, …] (allowed only when one
			       of the argument conditions holds) */
	json_t *base_errno; /* name -> errno: RuntimeDefault's fixed errnos (clone3 -> ENOSYS) */
	json_t *denied;	    /* name -> [action, errno] */
};

static json_t *arg_cmp_json(const struct seccomp_arg_cmp *a)
{
	return json_pack("[{s:i, s:I, s:I, s:s}]", "index", (int)a->index, "value",
			 (json_int_t)a->value, "valueTwo", (json_int_t)a->value_two, "op", a->op);
}

static int allow_unconditionally(json_t *allowed, const char *name)
{
	return json_object_set_new(allowed, name, json_true()) < 0 ? -ENOMEM : 0;
}

static int allow_with_args(json_t *allowed, const char *name, json_t *args)
{
	json_t *cur = json_object_get(allowed, name);
	if (json_is_true(cur)) {
		json_decref(args);
		return 0;
	}
	if (!cur) {
		cur = json_array();
		if (!cur || json_object_set_new(allowed, name, cur) < 0) {
			json_decref(args);
			return -ENOMEM;
		}
	}
	/* The same condition from two RuntimeDefault sections is one rule. */
	size_t i;
	json_t *have;
	json_array_foreach (cur, i, have)
		if (json_equal(have, args)) {
			json_decref(args);
			return 0;
		}
	return json_array_append_new(cur, args) < 0 ? -ENOMEM : 0;
}

static int add_runtime_default(struct composition *c)
{
	int r;
	for (const char *p = seccomp_runtime_default_allow; *p;) {
		p += strspn(p, " ");
		size_t len = strcspn(p, " ");
		if (len == 0)
			break;
		char name[SYSCALL_NAME_MAX + 1];
		snprintf(name, sizeof(name), "%.*s", (int)len, p);
		p += len;
		r = allow_unconditionally(c->allowed, name);
		if (r < 0)
			return r;
	}
	for (unsigned i = 0; i < seccomp_runtime_default_n_rules; i++) {
		const struct seccomp_base_rule *b = &seccomp_runtime_default_rules[i];
		if (b->action == SECCOMP_ACTION_ERRNO) {
			if (json_object_set_new(c->base_errno, b->name,
						json_integer(b->errno_ret)) < 0)
				return -ENOMEM;
			continue;
		}
		json_t *args = arg_cmp_json(&b->arg);
		if (!args)
			return -ENOMEM;
		r = allow_with_args(c->allowed, b->name, args);
		if (r < 0)
			return r;
	}
	return 0;
}

static int compose_section(struct composition *c, const struct policy_section *s,
			   struct field_error *err)
{
	struct parsed_section p;
	int r = parse_section(s->section, "spec.seccomp", &p, err);
	if (r < 0) {
		if (r == -EINVAL && err) {
			char reason[sizeof(err->reason)];
			path_fmt(reason, sizeof(reason), "%s (BulwarkPolicy %s)", err->reason,
				 s->policy);
			memcpy(err->reason, reason, sizeof(reason));
		}
		return r;
	}

	if (verdict_stricter(p.default_verdict, c->default_verdict))
		c->default_verdict = p.default_verdict;
	if (p.runtime_default) {
		r = add_runtime_default(c);
		if (r < 0)
			goto out;
	}
	const char *name;
	json_t *v;
	json_object_foreach (p.allow, name, v) {
		r = allow_unconditionally(c->allowed, name);
		if (r < 0)
			goto out;
	}
	json_object_foreach (p.deny, name, v) {
		struct verdict dv = {json_integer_value(json_array_get(v, 0)),
				     json_integer_value(json_array_get(v, 1))};
		r = deny_merge(c->denied, name, dv);
		if (r < 0)
			goto out;
	}
	r = 0;
out:
	parsed_section_done(&p);
	return r;
}

/* Profile entries are collected under a key (verdict and conditions) that also orders them,
 * then each key's names are sorted: the output depends on nothing but the set of rules. */
static int add_entry(json_t *entries, const char *name, struct verdict v, const json_t *args)
{
	_cleanup_free_ char *args_text =
		args ? json_dumps(args, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	if (args && !args_text)
		return -ENOMEM;
	/* The whole condition is part of the key: two rules never share an entry by truncation. */
	_cleanup_buf_ struct buf key = BUF_INIT(64 * 1024);
	int r = buf_printf(&key, "%d/%04d/%s", v.action, v.errno_ret, args_text ? args_text : "");
	if (r < 0)
		return r;

	json_t *e = json_object_get(entries, buf_str(&key));
	if (!e) {
		e = json_pack("{s:[], s:s}", "names", "action", seccomp_action_oci(v.action));
		if (!e || json_object_set_new(entries, buf_str(&key), e) < 0)
			return -ENOMEM;
		if (v.action == SECCOMP_ACTION_ERRNO &&
		    json_object_set_new(e, "errnoRet", json_integer(v.errno_ret)) < 0)
			return -ENOMEM;
		if (args && json_object_set_new(e, "args", json_deep_copy(args)) < 0)
			return -ENOMEM;
	}
	return json_array_append_new(json_object_get(e, "names"), json_string(name)) < 0 ? -ENOMEM
											 : 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys of obj, sorted, into *ret (free() it; the strings belong to obj). */
static int sorted_keys(const json_t *obj, const char ***ret, size_t *ret_n)
{
	size_t n = json_object_size(obj), i = 0;
	const char **keys = calloc(n ? n : 1, sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)obj, k, v)
		keys[i++] = k;
	qsort(keys, n, sizeof(*keys), cmp_str);
	*ret = keys;
	*ret_n = n;
	return 0;
}

static bool refuses(struct verdict v)
{
	return v.action != SECCOMP_ACTION_ALLOW && v.action != SECCOMP_ACTION_LOG;
}

/* What the Audit policies would do to name, at name granularity: an argument-conditioned
 * allow counts as allowed, so audit never reports a call it might have let through. */
static bool audit_refuses(const struct composition *a, const char *name)
{
	const json_t *d = json_object_get(a->denied, name);
	if (d)
		return true;
	if (json_object_get(a->allowed, name))
		return false;
	if (json_object_get(a->base_errno, name))
		return true;
	return refuses(a->default_verdict);
}

struct profile_build {
	const struct composition *enforce, *audit;
	struct verdict default_verdict;
	json_t *entries;
};

static int emit(struct profile_build *b, const char *name, struct verdict v, const json_t *args)
{
	if (!args && verdict_equal(v, b->default_verdict))
		return 0;
	/* A conditional allow under an Allow default changes nothing. */
	if (args && v.action == SECCOMP_ACTION_ALLOW &&
	    b->default_verdict.action == SECCOMP_ACTION_ALLOW)
		return 0;
	return add_entry(b->entries, name, v, args);
}

static int emit_name(struct profile_build *b, const char *name)
{
	const struct composition *e = b->enforce;
	const json_t *allowed = json_object_get(e->allowed, name);
	const json_t *denied = json_object_get(e->denied, name);
	const json_t *base_errno = json_object_get(e->base_errno, name);
	struct verdict deny = {0, 0};
	if (denied)
		deny = (struct verdict){json_integer_value(json_array_get(denied, 0)),
					json_integer_value(json_array_get(denied, 1))};

	/* Enforced refusals are final. */
	if (denied && deny.action != SECCOMP_ACTION_LOG)
		return emit(b, name, deny, NULL);

	/* Whatever Enforce lets through is logged if a Log deny or an Audit policy would refuse
	 * it; Log never turns a refusal into a grant. */
	bool annotate = denied || audit_refuses(b->audit, name);
	struct verdict through = {annotate ? SECCOMP_ACTION_LOG : SECCOMP_ACTION_ALLOW, 0};

	if (json_is_true(allowed))
		return emit(b, name, through, NULL);
	if (allowed) {
		size_t i;
		json_t *args;
		json_array_foreach (allowed, i, args) {
			int r = emit(b, name, through, args);
			if (r < 0)
				return r;
		}
	}
	if (base_errno)
		return emit(b, name,
			    (struct verdict){SECCOMP_ACTION_ERRNO, json_integer_value(base_errno)},
			    NULL);
	if (allowed || refuses(e->default_verdict))
		return 0; /* the default refuses what no condition allowed */
	/* Not named by Enforce, whose default lets it through (Allow, or Log which stays Log). */
	if (e->default_verdict.action == SECCOMP_ACTION_LOG)
		through = e->default_verdict;
	return emit(b, name, through, NULL);
}

static int build_profile(const struct composition *enforce, const struct composition *audit,
			 json_t **ret)
{
	json_auto_t *names = json_object();
	json_auto_t *entries = json_object();
	if (!names || !entries)
		return -ENOMEM;
	const struct composition *both[] = {enforce, audit};
	for (size_t i = 0; i < 2; i++)
		if (json_object_update(names, both[i]->allowed) < 0 ||
		    json_object_update(names, both[i]->denied) < 0 ||
		    json_object_update(names, both[i]->base_errno) < 0)
			return -ENOMEM;

	/* Enforce's default decides; where it lets everything through, Audit policies that
	 * would refuse by default make it Log. */
	struct profile_build b = {.enforce = enforce, .audit = audit, .entries = entries};
	b.default_verdict = enforce->default_verdict;
	if (!refuses(b.default_verdict) && refuses(audit->default_verdict))
		b.default_verdict = (struct verdict){SECCOMP_ACTION_LOG, 0};

	_cleanup_free_ const char **keys = NULL;
	size_t n;
	int r = sorted_keys(names, &keys, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		r = emit_name(&b, keys[i]);
		if (r < 0)
			return r;
	}

	json_auto_t *profile = json_pack("{s:s, s:[], s:[]}", "defaultAction",
					 seccomp_action_oci(b.default_verdict.action),
					 "architectures", "syscalls");
	if (!profile)
		return -ENOMEM;
	if (b.default_verdict.action == SECCOMP_ACTION_ERRNO &&
	    json_object_set_new(profile, "defaultErrnoRet",
				json_integer(b.default_verdict.errno_ret)) < 0)
		return -ENOMEM;
	json_t *arches = json_object_get(profile, "architectures");
	for (unsigned i = 0; i < seccomp_profile_n_arches; i++)
		if (json_array_append_new(arches, json_string(seccomp_profile_arches[i])) < 0)
			return -ENOMEM;

	_cleanup_free_ const char **entry_keys = NULL;
	r = sorted_keys(entries, &entry_keys, &n);
	if (r < 0)
		return r;
	json_t *syscalls = json_object_get(profile, "syscalls");
	for (size_t i = 0; i < n; i++)
		if (json_array_append(syscalls, json_object_get(entries, entry_keys[i])) < 0)
			return -ENOMEM;

	*ret = TAKE_PTR(profile);
	return 0;
}

static void composition_done(struct composition *c)
{
	json_decref(c->allowed);
	json_decref(c->base_errno);
	json_decref(c->denied);
}

static int composition_init(struct composition *c)
{
	/* Start from the most permissive default; every section can only make it stricter. */
	*c = (struct composition){
		.default_verdict = {SECCOMP_ACTION_ALLOW, 0},
		.allowed = json_object(),
		.base_errno = json_object(),
		.denied = json_object(),
	};
	return c->allowed && c->base_errno && c->denied ? 0 : -ENOMEM;
}

int seccomp_policy_compile(const struct policy_section *sections, size_t n, json_t **ret_profile,
			   struct field_error *err)
{
	if (n == 0)
		return field_error_set(err, "spec.seccomp", "no policy with a seccomp section");

	/* Enforce and Audit policies are composed apart: Audit ones only annotate (Log) what the
	 * Enforce ones let through, so they can neither widen nor narrow enforcement. */
	struct composition enforce = {0}, audit = {0};
	int r = composition_init(&enforce);
	if (r == 0)
		r = composition_init(&audit);
	for (size_t i = 0; r == 0 && i < n; i++)
		r = compose_section(sections[i].audit ? &audit : &enforce, &sections[i], err);
	if (r == 0)
		r = build_profile(&enforce, &audit, ret_profile);
	composition_done(&enforce);
	composition_done(&audit);
	return r;
}
