#include "seccomp_profile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "buf.h"
#include "cleanup.h"
#include "error.h"
#include "fileio.h"

static const char *const actions[] = {
	"SCMP_ACT_KILL",  "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
	"SCMP_ACT_TRAP",  "SCMP_ACT_ERRNO",	   "SCMP_ACT_TRACE",
	"SCMP_ACT_ALLOW", "SCMP_ACT_LOG",	   "SCMP_ACT_NOTIFY",
};
static const char *const operators[] = {
	"SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE",	    "SCMP_CMP_EQ",
	"SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ",
};
static const char *const known_flags[] = {
	"SECCOMP_FILTER_FLAG_TSYNC",
	"SECCOMP_FILTER_FLAG_LOG",
	"SECCOMP_FILTER_FLAG_SPEC_ALLOW",
	"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
};

static bool in_list(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; s && i < n; i++)
		if (!strcmp(s, list[i]))
			return true;
	return false;
}

#if defined(__x86_64__)
#define HOST_SCMP_ARCH	    "SCMP_ARCH_X86_64"
#define HOST_SCMP_SUBARCH_1 "SCMP_ARCH_X86"
#define HOST_SCMP_SUBARCH_2 "SCMP_ARCH_X32"
#define HOST_GO_ARCH	    "amd64"
#elif defined(__aarch64__)
#define HOST_SCMP_ARCH	    "SCMP_ARCH_AARCH64"
#define HOST_SCMP_SUBARCH_1 "SCMP_ARCH_ARM"
#define HOST_SCMP_SUBARCH_2 "SCMP_ARCH_ARM"
#define HOST_GO_ARCH	    "arm64"
#else
#error "the node harness knows the seccomp architecture names of x86_64 and aarch64 only"
#endif

static bool json_array_has(const json_t *arr, const char *s)
{
	size_t i;
	const json_t *v;
	json_array_foreach (arr, i, v)
		if (json_is_string(v) && !strcmp(json_string_value(v), s))
			return true;
	return false;
}

static bool kernel_at_least(const char *want)
{
	unsigned wmaj = 0, wmin = 0, hmaj = 0, hmin = 0;
	struct utsname u;
	if (sscanf(want, "%u.%u", &wmaj, &wmin) < 1 || uname(&u) < 0 ||
	    sscanf(u.release, "%u.%u", &hmaj, &hmin) < 1)
		return false;
	return hmaj > wmaj || (hmaj == wmaj && hmin >= wmin);
}

/* includes: every listed condition must hold; excludes: none of them may. */
static bool filter_matches(const json_t *f, const json_t *caps, bool all)
{
	const json_t *arches = json_object_get(f, "arches");
	const json_t *fcaps = json_object_get(f, "caps");
	const char *min_kernel = json_string_value(json_object_get(f, "minKernel"));
	bool any = false;
	if (json_array_size(arches)) {
		bool m = json_array_has(arches, HOST_GO_ARCH);
		if (all && !m)
			return false;
		any |= m;
	}
	if (json_array_size(fcaps)) {
		size_t i;
		const json_t *c;
		json_array_foreach (fcaps, i, c) {
			bool m = json_is_string(c) && json_array_has(caps, json_string_value(c));
			if (all && !m)
				return false;
			any |= m;
		}
	}
	if (min_kernel) {
		bool m = kernel_at_least(min_kernel);
		if (all && !m)
			return false;
		any |= m;
	}
	return all ? true : any;
}

static int convert_args(const json_t *args, const char *field, json_t *out, struct field_error *err)
{
	size_t i;
	const json_t *a;
	json_array_foreach (args, i, a) {
		char f[128];
		snprintf(f, sizeof(f), "%s.args[%zu]", field, i);
		const json_t *index = json_object_get(a, "index");
		const json_t *value = json_object_get(a, "value");
		const json_t *value2 = json_object_get(a, "valueTwo");
		const char *op = json_string_value(json_object_get(a, "op"));
		if (!json_is_integer(index) || json_integer_value(index) < 0 ||
		    json_integer_value(index) > 5)
			return field_error_set(err, f, "index must be 0..5");
		if (!json_is_integer(value) || (value2 && !json_is_integer(value2)))
			return field_error_set(err, f, "value and valueTwo must be integers");
		if (!in_list(op, operators, ARRAY_SIZE(operators)))
			return field_error_set(err, f, "unknown op %s", op ? op : "(none)");
		json_t *o = json_pack("{s:O,s:O,s:s}", "index", index, "value", value, "op", op);
		if (!o || (value2 && json_object_set(o, "valueTwo", (json_t *)value2) < 0) ||
		    json_array_append_new(out, o) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int convert_syscall(const json_t *sc, size_t idx, const json_t *caps, json_t *out,
			   struct field_error *err)
{
	char field[64];
	snprintf(field, sizeof(field), "syscalls[%zu]", idx);
	if (!json_is_object(sc))
		return field_error_set(err, field, "must be an object");
	const json_t *inc = json_object_get(sc, "includes");
	const json_t *exc = json_object_get(sc, "excludes");
	if ((inc && json_object_size(inc) && !filter_matches(inc, caps, true)) ||
	    (exc && json_object_size(exc) && filter_matches(exc, caps, false)))
		return 0;

	json_auto_t *names = json_array();
	if (!names)
		return -ENOMEM;
	const json_t *name = json_object_get(sc, "name");
	if (json_is_string(name) && json_array_append(names, (json_t *)name) < 0)
		return -ENOMEM;
	size_t i;
	const json_t *n;
	json_array_foreach (json_object_get(sc, "names"), i, n) {
		if (!json_is_string(n) || !json_string_length(n))
			return field_error_set(err, field, "names[%zu] must be a syscall name", i);
		if (json_array_append(names, (json_t *)n) < 0)
			return -ENOMEM;
	}
	if (!json_array_size(names))
		return field_error_set(err, field, "names is required");
	const char *action = json_string_value(json_object_get(sc, "action"));
	if (!in_list(action, actions, ARRAY_SIZE(actions)))
		return field_error_set(err, field, "unknown action %s", action ? action : "(none)");
	json_auto_t *o = json_pack("{s:O,s:s}", "names", names, "action", action);
	if (!o)
		return -ENOMEM;
	const json_t *errno_ret = json_object_get(sc, "errnoRet");
	if (errno_ret) {
		if (!json_is_integer(errno_ret) || json_integer_value(errno_ret) < 0)
			return field_error_set(err, field,
					       "errnoRet must be a non-negative integer");
		if (json_object_set(o, "errnoRet", (json_t *)errno_ret) < 0)
			return -ENOMEM;
	}
	const json_t *args = json_object_get(sc, "args");
	if (json_array_size(args)) {
		json_t *out_args = json_array();
		if (!out_args || json_object_set_new(o, "args", out_args) < 0)
			return -ENOMEM;
		int r = convert_args(args, field, out_args, err);
		if (r < 0)
			return r;
	}
	return json_array_append(out, o) < 0 ? -ENOMEM : 0;
}

static int convert_architectures(const json_t *profile, json_t *out, struct field_error *err)
{
	const json_t *arches = json_object_get(profile, "architectures");
	size_t i;
	const json_t *a;
	if (json_array_size(arches)) {
		json_array_foreach (arches, i, a) {
			if (!json_is_string(a))
				return field_error_set(err, "architectures",
						       "[%zu] must be a string", i);
			if (json_array_append(out, (json_t *)a) < 0)
				return -ENOMEM;
		}
		return 0;
	}
	/* Docker's archMap: the host's architecture and its sub-architectures. */
	json_array_foreach (json_object_get(profile, "archMap"), i, a) {
		const char *arch = json_string_value(json_object_get(a, "architecture"));
		if (!arch || strcmp(arch, HOST_SCMP_ARCH))
			continue;
		if (json_array_append_new(out, json_string(arch)) < 0)
			return -ENOMEM;
		size_t j;
		const json_t *sub;
		json_array_foreach (json_object_get(a, "subArchitectures"), j, sub)
			if (json_is_string(sub) && json_array_append(out, (json_t *)sub) < 0)
				return -ENOMEM;
	}
	return 0;
}

int harness_seccomp_convert(const json_t *profile, const json_t *caps, json_t **ret,
			    struct field_error *err)
{
	if (!json_is_object(profile))
		return field_error_set(err, "", "a seccomp profile must be a JSON object");
	const char *def = json_string_value(json_object_get(profile, "defaultAction"));
	if (!in_list(def, actions, ARRAY_SIZE(actions)))
		return field_error_set(err, "defaultAction", "unknown action %s",
				       def ? def : "(none)");
	json_auto_t *out =
		json_pack("{s:s,s:[],s:[]}", "defaultAction", def, "architectures", "syscalls");
	if (!out)
		return -ENOMEM;
	const json_t *def_errno = json_object_get(profile, "defaultErrnoRet");
	if (def_errno) {
		if (!json_is_integer(def_errno) || json_integer_value(def_errno) < 0)
			return field_error_set(err, "defaultErrnoRet",
					       "must be a non-negative integer");
		if (json_object_set(out, "defaultErrnoRet", (json_t *)def_errno) < 0)
			return -ENOMEM;
	}
	int r = convert_architectures(profile, json_object_get(out, "architectures"), err);
	if (r < 0)
		return r;
	const json_t *flags = json_object_get(profile, "flags");
	if (json_array_size(flags)) {
		size_t i;
		const json_t *f;
		json_array_foreach (flags, i, f)
			if (!in_list(json_string_value(f), known_flags, ARRAY_SIZE(known_flags)))
				return field_error_set(err, "flags",
						       "[%zu] is not a known seccomp flag", i);
		if (json_object_set(out, "flags", (json_t *)flags) < 0)
			return -ENOMEM;
	}
	const json_t *syscalls = json_object_get(profile, "syscalls");
	if (syscalls && !json_is_array(syscalls))
		return field_error_set(err, "syscalls", "must be a list");
	size_t i;
	const json_t *sc;
	json_array_foreach (syscalls, i, sc) {
		r = convert_syscall(sc, i, caps, json_object_get(out, "syscalls"), err);
		if (r < 0)
			return r;
	}
	*ret = TAKE_PTR(out);
	return 0;
}

int harness_seccomp_load(const char *kubelet_root, const char *localhost, const json_t *caps,
			 json_t **ret, struct field_error *err)
{
	char path[1024];
	if ((size_t)snprintf(path, sizeof(path), "%s/seccomp/%s", kubelet_root, localhost) >=
	    sizeof(path))
		return field_error_set(err, "localhostProfile", "path too long");
	_cleanup_buf_ struct buf data = BUF_INIT(SECCOMP_PROFILE_MAX_BYTES);
	int r = read_file_capped(path, &data);
	if (r == -EMSGSIZE)
		return field_error_set(err, "localhostProfile", "%s is larger than %d bytes", path,
				       SECCOMP_PROFILE_MAX_BYTES);
	if (r < 0) {
		field_error_set(err, "localhostProfile", "cannot read %s: %s", path, strerror(-r));
		return r;
	}
	json_error_t jerr;
	json_auto_t *profile = json_loadb(buf_str(&data), data.len, JSON_REJECT_DUPLICATES, &jerr);
	if (!profile)
		return field_error_set(err, "localhostProfile", "%s: line %d: %s", path, jerr.line,
				       jerr.text);
	r = harness_seccomp_convert(profile, caps, ret, err);
	if (r == -EINVAL && err) {
		/* Say which profile: the field alone does not tell a pod's author where to look. */
		char field[sizeof(err->field)];
		snprintf(field, sizeof(field), "%s", err->field);
		if (snprintf(err->field, sizeof(err->field), "seccomp profile %s%s%s", localhost,
			     field[0] ? ", " : "", field) >= (int)sizeof(err->field))
			snprintf(err->field, sizeof(err->field), "seccomp profile %.200s",
				 localhost);
	}
	return r;
}

int harness_seccomp_runtime_default(const json_t *caps, json_t **ret, struct field_error *err)
{
	const char *path = getenv(HARNESS_SECCOMP_REFERENCE_ENV);
	if (!path || !path[0])
		return field_error_set(err, "seccompProfile",
				       "RuntimeDefault needs the reference profile: set "
				       "%s to a file with the output of "
				       "tests/seccomp-reference/build.sh json",
				       HARNESS_SECCOMP_REFERENCE_ENV);
	_cleanup_buf_ struct buf data = BUF_INIT(SECCOMP_PROFILE_MAX_BYTES);
	int r = read_file_capped(path, &data);
	if (r < 0)
		return field_error_set(err, "seccompProfile", "RuntimeDefault: cannot read %s: %s",
				       path, strerror(-r));
	json_error_t jerr;
	json_auto_t *doc = json_loadb(buf_str(&data), data.len, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc)
		return field_error_set(err, "seccompProfile", "RuntimeDefault: %s: line %d: %s",
				       path, jerr.line, jerr.text);
	const json_t *profile = json_object_get(json_object_get(doc, "profiles"), HOST_SCMP_ARCH);
	if (!json_is_object(profile))
		return field_error_set(err, "seccompProfile",
				       "RuntimeDefault: %s has no profile for %s", path,
				       HOST_SCMP_ARCH);
	return harness_seccomp_convert(profile, caps, ret, err);
}
