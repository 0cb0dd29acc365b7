/* Bulwark's compiled RuntimeDefault (`seccomp: {}`) against the reference it follows, read
 * from the upstream module itself: tests/seccomp-reference/build.sh builds the pinned
 * github.com/moby/profiles/seccomp into a small program that prints the reference resolved for
 * the default capability set on x86_64 and aarch64. For each architecture every syscall either
 * profile names is compared: unconditional allows, argument conditions (clone's flag mask,
 * personality values, socket families) and errno rules (clone3), and the default action. A
 * difference not in seccomp_runtime_default_differences fails and names the syscall; so does a
 * listed difference that no longer differs, and a version mismatch between the pin and the
 * version the tables say they encode. */
#include <errno.h>
#include <seccomp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "buf.h"
#include "cleanup.h"
#include "seccomp/policy.h"
#include "seccomp/runtime_default.h"
#include "seccomp/syscall_names.h"

#define REFERENCE_MAX_BYTES (4 * 1024 * 1024)

/* Names the reference lists for every architecture that exist on none Bulwark covers and that
 * libseccomp 2.5.4 does not know at all (names it knows elsewhere are recognised as such). */
static const char *const other_arch_only[] = {"riscv_hwprobe"};

static json_t *reference;

static int load_reference(void **state)
{
	const char *root = getenv("BULWARK_ROOT") ?: ".";
	char cmd[4096];
	snprintf(cmd, sizeof(cmd), "'%s/tests/seccomp-reference/build.sh' json", root);
	FILE *p = popen(cmd, "r");
	if (!p) {
		fprintf(stderr, "cannot run %s: %m\n", cmd);
		return -1;
	}
	_cleanup_buf_ struct buf out = BUF_INIT(REFERENCE_MAX_BYTES);
	char chunk[65536];
	size_t k;
	while ((k = fread(chunk, 1, sizeof(chunk), p)) > 0)
		if (buf_append(&out, chunk, k) < 0) {
			fprintf(stderr, "the reference is larger than %d bytes\n",
				REFERENCE_MAX_BYTES);
			pclose(p);
			return -1;
		}
	int status = pclose(p);
	if (status != 0) {
		fprintf(stderr, "%s failed (status %d): the reference could not be built\n", cmd,
			WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return -1;
	}
	json_error_t jerr;
	reference = json_loadb(buf_str(&out), out.len, 0, &jerr);
	if (!reference) {
		fprintf(stderr, "the reference is not JSON: line %d: %s\n", jerr.line, jerr.text);
		return -1;
	}
	return 0;
}

static int free_reference(void **state)
{
	json_decref(reference);
	return 0;
}

static void reference_version_is_the_encoded_one(void **state)
{
	char pinned[256];
	snprintf(pinned, sizeof(pinned), "%s %s",
		 json_string_value(json_object_get(reference, "module")),
		 json_string_value(json_object_get(reference, "version")));
	if (strcmp(pinned, seccomp_runtime_default_reference) != 0)
		fail_msg(
			"tests/seccomp-reference/go.mod pins %s, but lib/seccomp/runtime_default.c "
			"encodes %s: re-derive the tables from the new reference (the differences "
			"below say what changed), then update seccomp_runtime_default_reference",
			pinned, seccomp_runtime_default_reference);
}

/* "SCMP_ACT_ERRNO(38)", "SCMP_ACT_ALLOW if arg0 SCMP_CMP_EQ 8/0": one rule, as text. */
static int rule_text(const json_t *entry, struct buf *out)
{
	const char *action = json_string_value(json_object_get(entry, "action"));
	int r = buf_printf(out, "%s", action ?: "(no action)");
	if (r == 0 && action && strcmp(action, "SCMP_ACT_ERRNO") == 0) {
		/* An errno rule without errnoRet returns EPERM in runc. */
		const json_t *e = json_object_get(entry, "errnoRet");
		r = buf_printf(out, "(%lld)", e ? json_integer_value(e) : (json_int_t)EPERM);
	}
	size_t i;
	const json_t *a;
	json_array_foreach (json_object_get(entry, "args"), i, a) {
		if (r < 0)
			break;
		r = buf_printf(
			out, "%s arg%lld %s %llu/%llu", i ? " and" : " if",
			json_integer_value(json_object_get(a, "index")),
			json_string_value(json_object_get(a, "op")),
			(unsigned long long)json_integer_value(json_object_get(a, "value")),
			(unsigned long long)json_integer_value(json_object_get(a, "valueTwo")));
	}
	return r;
}

static int cmp_json_str(const void *a, const void *b)
{
	return strcmp(json_string_value(*(json_t *const *)a),
		      json_string_value(*(json_t *const *)b));
}

/* name -> "rule | rule | ..." (sorted) for every name profile lists, leaving out rules that
 * repeat the default (runc drops them); *ret_default gets the default as text. */
static json_t *verdicts(const json_t *profile, char *ret_default, size_t size)
{
	const char *def = json_string_value(json_object_get(profile, "defaultAction"));
	const json_t *def_errno = json_object_get(profile, "defaultErrnoRet");
	json_t *def_entry = json_pack("{s:s}", "action", def ?: "");
	assert_non_null(def_entry);
	if (def_errno)
		json_object_set(def_entry, "errnoRet", (json_t *)def_errno);
	_cleanup_buf_ struct buf d = BUF_INIT(256);
	assert_int_equal(rule_text(def_entry, &d), 0);
	snprintf(ret_default, size, "%s", buf_str(&d));
	json_decref(def_entry);

	json_t *lists = json_object();
	assert_non_null(lists);
	size_t i, j;
	const json_t *e, *n;
	json_array_foreach (json_object_get(profile, "syscalls"), i, e) {
		_cleanup_buf_ struct buf t = BUF_INIT(4096);
		assert_int_equal(rule_text(e, &t), 0);
		if (strcmp(buf_str(&t), ret_default) == 0)
			continue;
		json_array_foreach (json_object_get(e, "names"), j, n) {
			const char *name = json_string_value(n);
			json_t *l = json_object_get(lists, name);
			if (!l) {
				l = json_array();
				json_object_set_new(lists, name, l);
			}
			json_array_append_new(l, json_string(buf_str(&t)));
		}
	}
	json_t *out = json_object();
	assert_non_null(out);
	const char *name;
	json_t *l;
	json_object_foreach (lists, name, l) {
		json_t **items = calloc(json_array_size(l) + 1, sizeof(*items));
		assert_non_null(items);
		json_array_foreach (l, i, e)
			items[i] = (json_t *)e;
		qsort(items, json_array_size(l), sizeof(*items), cmp_json_str);
		_cleanup_buf_ struct buf t = BUF_INIT(64 * 1024);
		for (i = 0; i < json_array_size(l); i++)
			assert_int_equal(
				buf_printf(&t, "%s%s", i ? " | " : "", json_string_value(items[i])),
				0);
		free(items);
		json_object_set_new(out, name, json_string(buf_str(&t)));
	}
	json_decref(lists);
	return out;
}

enum relevance { RELEVANT, OTHER_ARCH, UNKNOWN };

static bool known_on(const char *name, const uint32_t *abis, size_t n_abis)
{
	for (size_t i = 0; i < n_abis; i++)
		if (seccomp_syscall_resolve_name_arch(abis[i], name) >= 0)
			return true;
	return false;
}

/* Whether name is a syscall on one of abis: libseccomp knows it there, or it is newer than
 * libseccomp and on the list lib/seccomp accepts (those exist on x86 and arm alike). */
static enum relevance relevance(const char *name, const uint32_t *abis, size_t n_abis)
{
	static const uint32_t covered[] = {SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32,
					   SCMP_ARCH_AARCH64, SCMP_ARCH_ARM};
	if (known_on(name, abis, n_abis))
		return RELEVANT;
	for (size_t i = 0; i < ARRAY_SIZE(other_arch_only); i++)
		if (strcmp(name, other_arch_only[i]) == 0)
			return OTHER_ARCH;
	int r = seccomp_syscall_check(name);
	if (r == -ENOENT)
		return UNKNOWN;
	/* Accepted but known on no covered architecture: one of the newer syscalls. */
	if (r == 0 && !known_on(name, covered, ARRAY_SIZE(covered)))
		return RELEVANT;
	return OTHER_ARCH;
}

static void compare(const char *arch, const uint32_t *abis, size_t n_abis)
{
	const json_t *ref = json_object_get(json_object_get(reference, "profiles"), arch);
	if (!ref)
		fail_msg("the reference has no profile for %s", arch);

	json_t *section = json_object();
	struct policy_section s = {.policy = "test/runtime-default", .section = section};
	json_t *ours = NULL;
	struct field_error err = {0};
	if (seccomp_policy_compile(&s, 1, &ours, &err) < 0)
		fail_msg("compile: %s: %s", err.field, err.reason);

	char ref_default[256], our_default[256];
	json_t *rv = verdicts(ref, ref_default, sizeof(ref_default));
	json_t *ov = verdicts(ours, our_default, sizeof(our_default));

	_cleanup_buf_ struct buf failures = BUF_INIT(1024 * 1024);
	_cleanup_buf_ struct buf skipped = BUF_INIT(64 * 1024);
	unsigned n_failures = 0, compared = 0;
	if (strcmp(ref_default, our_default) != 0) {
		buf_printf(&failures, "  default action: reference %s, Bulwark %s\n", ref_default,
			   our_default);
		n_failures++;
	}

	json_auto_t *names = json_object();
	json_object_update(names, rv);
	json_object_update(names, ov);
	const char *name;
	json_t *v;
	json_object_foreach (names, name, v) {
		const char *r = json_string_value(json_object_get(rv, name));
		const char *o = json_string_value(json_object_get(ov, name));
		char rtext[16 * 1024], otext[16 * 1024];
		snprintf(rtext, sizeof(rtext), "%s", r ?: ref_default);
		snprintf(otext, sizeof(otext), "%s", o ?: our_default);
		switch (relevance(name, abis, n_abis)) {
		case OTHER_ARCH: buf_printf(&skipped, " %s", name); continue;
		case UNKNOWN:
			buf_printf(
				&failures,
				"  %s: reference %s, but neither libseccomp nor "
				"lib/seccomp/syscall_names.c's newer syscalls know the name (add "
				"it there if it exists on x86 or arm, else to other_arch_only "
				"here)\n",
				name, rtext);
			n_failures++;
			continue;
		case RELEVANT: break;
		}
		compared++;
		bool same = strcmp(rtext, otext) == 0;
		const struct seccomp_base_difference *d = seccomp_runtime_default_difference(name);
		if (d && same) {
			buf_printf(
				&failures,
				"  %s: listed as a deliberate difference, but both say %s: drop it "
				"from seccomp_runtime_default_differences\n",
				name, rtext);
			n_failures++;
		} else if (!d && !same) {
			buf_printf(&failures, "  %s: reference %s, Bulwark %s\n", name, rtext,
				   otext);
			n_failures++;
		}
	}
	printf("# %s: %u syscalls compared with %s %s; other architectures' names left out:%s\n",
	       arch, compared, json_string_value(json_object_get(reference, "module")),
	       json_string_value(json_object_get(reference, "version")),
	       skipped.len ? buf_str(&skipped) : " none");
	for (unsigned i = 0; i < seccomp_runtime_default_n_differences; i++)
		printf("# %s: deliberate difference %s: %s\n", arch,
		       seccomp_runtime_default_differences[i].name,
		       seccomp_runtime_default_differences[i].reason);
	json_decref(rv);
	json_decref(ov);
	json_decref(ours);
	json_decref(section);
	if (n_failures) {
		fprintf(stderr,
			"%s: %u difference(s) from the reference not on the documented list "
			"(lib/seccomp/runtime_default.c):\n%s",
			arch, n_failures, buf_str(&failures));
		fail_msg("%s: RuntimeDefault differs from %s %s in %u place(s), listed above", arch,
			 json_string_value(json_object_get(reference, "module")),
			 json_string_value(json_object_get(reference, "version")), n_failures);
	}
}

static void x86_64_matches_the_reference(void **state)
{
	static const uint32_t abis[] = {SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32};
	compare("SCMP_ARCH_X86_64", abis, ARRAY_SIZE(abis));
}

static void aarch64_matches_the_reference(void **state)
{
	static const uint32_t abis[] = {SCMP_ARCH_AARCH64, SCMP_ARCH_ARM};
	compare("SCMP_ARCH_AARCH64", abis, ARRAY_SIZE(abis));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reference_version_is_the_encoded_one),
		cmocka_unit_test(x86_64_matches_the_reference),
		cmocka_unit_test(aarch64_matches_the_reference),
	};
	return cmocka_run_group_tests(tests, load_reference, free_reference);
}
