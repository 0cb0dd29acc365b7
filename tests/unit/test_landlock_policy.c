/* spec.landlock: validation messages, and compilation into one layer per policy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "canonical.h"
#include "landlock/landlock_policy.h"
#include "landlock/ruleset.h"

static json_t *load(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	if (!j)
		fail_msg("bad test JSON: %s: %s", text, e.text);
	return j;
}

static void validate_accepts_the_documented_example(void **state)
{
	json_t *s = load(
		"{\"compatibility\": \"BestEffort\","
		" \"filesystem\": [{\"paths\": [\"/usr\", \"/lib\", \"/bin\"],"
		"                  \"access\": [\"execute\", \"read_file\", \"read_dir\"]},"
		"                 {\"paths\": [\"/tmp\"], \"access\": [\"read_file\","
		"                  \"write_file\", \"read_dir\", \"remove_dir\", \"remove_file\","
		"                  \"make_dir\", \"make_reg\", \"truncate\"]}],"
		" \"network\": [{\"ports\": [8080], \"access\": [\"bind_tcp\"]},"
		"               {\"ports\": [5432], \"access\": [\"connect_tcp\"]}],"
		" \"scope\": [\"abstract_unix_socket\", \"signal\"]}");
	struct field_error err = {0};
	assert_int_equal(landlock_policy_validate(s, "spec.landlock", &err), 0);
	assert_string_equal(err.field, "");
	json_decref(s);
}

static void validate_names_field_and_reason(void **state)
{
	static const struct {
		const char *section;
		const char *message;
	} cases[] = {
		{"[]", "spec.landlock: must be an object"},
		{"{\"filesytem\": []}", "spec.landlock.filesytem: unknown field"},
		{"{\"compatibility\": \"Strict\"}",
		 "spec.landlock.compatibility: must be BestEffort or HardRequirement, not "
		 "\"Strict\""},
		{"{\"compatibility\": 3}", "spec.landlock.compatibility: must be BestEffort or "
					   "HardRequirement, not a non-string"},
		{"{\"filesystem\": {}}", "spec.landlock.filesystem: must be an array"},
		{"{\"filesystem\": [{\"paths\": [\"/usr\"], \"access\": [\"read_file\"]},"
		 " {\"paths\": [\"tmp\"], \"access\": [\"read_file\"]}]}",
		 "spec.landlock.filesystem[1].paths[0]: must be an absolute path, not \"tmp\""},
		{"{\"filesystem\": [{\"paths\": [\"/a//b/\"], \"access\": [\"read_file\"]}]}",
		 "spec.landlock.filesystem[0].paths[0]: must be normalized: \"/a/b\", not "
		 "\"/a//b/\""},
		{"{\"filesystem\": [{\"paths\": [\"/a/../etc\"], \"access\": [\"read_file\"]}]}",
		 "spec.landlock.filesystem[0].paths[0]: must not contain \"..\": \"/a/../etc\""},
		{"{\"filesystem\": [{\"paths\": [\"/usr\", 7], \"access\": [\"read_file\"]}]}",
		 "spec.landlock.filesystem[0].paths[1]: must be a string"},
		{"{\"filesystem\": [{\"paths\": [], \"access\": [\"read_file\"]}]}",
		 "spec.landlock.filesystem[0].paths: must not be empty"},
		{"{\"filesystem\": [{\"paths\": [\"/usr\"]}]}",
		 "spec.landlock.filesystem[0].access: is required"},
		{"{\"filesystem\": [{\"paths\": [\"/usr\"], \"access\": [\"read_file\", "
		 "\"exec\"]}]}",
		 "spec.landlock.filesystem[0].access[1]: unknown filesystem access right \"exec\"; "
		 "known: execute, write_file, read_file, read_dir, remove_dir, remove_file, "
		 "make_char, make_dir, make_reg, make_sock, make_fifo, make_block, make_sym, "
		 "refer, "
		 "truncate, ioctl_dev"},
		{"{\"filesystem\": [{\"paths\": [\"/usr\"], \"access\": [\"bind_tcp\"]}]}",
		 "spec.landlock.filesystem[0].access[0]: unknown filesystem access right "
		 "\"bind_tcp\"; known: execute, write_file, read_file, read_dir, remove_dir, "
		 "remove_file, make_char, make_dir, make_reg, make_sock, make_fifo, make_block, "
		 "make_sym, refer, truncate, ioctl_dev"},
		{"{\"filesystem\": [{\"paths\": [\"/usr\"], \"access\": [\"read_file\"], \"x\": "
		 "1}]}",
		 "spec.landlock.filesystem[0].x: unknown field"},
		{"{\"network\": [{\"ports\": [80, 65536], \"access\": [\"bind_tcp\"]}]}",
		 "spec.landlock.network[0].ports[1]: must be an integer 0..65535"},
		{"{\"network\": [{\"ports\": [-1], \"access\": [\"bind_tcp\"]}]}",
		 "spec.landlock.network[0].ports[0]: must be an integer 0..65535"},
		{"{\"network\": [{\"ports\": [\"80\"], \"access\": [\"bind_tcp\"]}]}",
		 "spec.landlock.network[0].ports[0]: must be an integer 0..65535"},
		{"{\"network\": [{\"ports\": [80], \"access\": [\"connect_udp\"]}]}",
		 "spec.landlock.network[0].access[0]: unknown network access right "
		 "\"connect_udp\"; "
		 "known: bind_tcp, connect_tcp"},
		{"{\"network\": [{\"ports\": [80], \"access\": []}]}",
		 "spec.landlock.network[0].access: must not be empty"},
		{"{\"scope\": [\"signal\", \"ptrace\"]}",
		 "spec.landlock.scope[1]: unknown scope \"ptrace\"; known: abstract_unix_socket, "
		 "signal"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *s = load(cases[i].section);
		struct field_error err = {0};
		char msg[800];
		assert_int_equal(landlock_policy_validate(s, "spec.landlock", &err), -EINVAL);
		assert_string_equal(field_error_str(&err, msg, sizeof(msg)), cases[i].message);
		json_decref(s);
	}
}

static char *compile_dump(const struct policy_section *sections, size_t n)
{
	json_t *out = NULL;
	struct field_error err = {0};
	char msg[800];
	int r = landlock_policy_compile(sections, n, &out, &err);
	if (r < 0)
		fail_msg("compile failed: %d %s", r, field_error_str(&err, msg, sizeof(msg)));
	char *s = json_canonical_dump(out);
	json_decref(out);
	return s;
}

static void compile_one_policy_exactly(void **state)
{
	json_t *s =
		load("{\"compatibility\": \"HardRequirement\","
		     " \"filesystem\": [{\"paths\": [\"/usr\", \"/lib\", \"/usr\"],"
		     "                  \"access\": [\"read_file\", \"execute\", \"read_file\"]}],"
		     " \"network\": [{\"ports\": [443, 80, 443], \"access\": [\"connect_tcp\"]}],"
		     " \"scope\": [\"signal\"]}");
	struct policy_section sec = {.policy = "shop/web", .audit = false, .section = s};
	char *got = compile_dump(&sec, 1);
	assert_string_equal(
		got,
		"{\"compatibility\":\"HardRequirement\",\"layers\":[{\"netPort\":[{"
		"\"allowedAccess\":[\"connect_tcp\"],\"port\":[80,443]}],\"pathBeneath\":[{"
		"\"allowedAccess\":[\"execute\",\"read_file\"],\"parent\":[\"/usr\",\"/lib\"]}],"
		"\"ruleset\":[{\"handledAccessFs\":[\"execute\",\"write_file\",\"read_file\","
		"\"read_dir\",\"remove_dir\",\"remove_file\",\"make_char\",\"make_dir\","
		"\"make_reg\",\"make_sock\",\"make_fifo\",\"make_block\",\"make_sym\",\"refer\","
		"\"truncate\",\"ioctl_dev\"],\"handledAccessNet\":[\"bind_tcp\",\"connect_tcp\"],"
		"\"scoped\":[\"signal\"]}]}],\"policies\":[{\"mode\":\"Enforce\",\"name\":"
		"\"shop/web\"}]}");
	free(got);
	json_decref(s);
}

static void compile_is_independent_of_section_order(void **state)
{
	json_t *a =
		load("{\"filesystem\": [{\"paths\": [\"/data\"], \"access\": [\"read_file\"]}]}");
	json_t *b = load("{\"network\": [{\"ports\": [53], \"access\": [\"connect_tcp\"]}]}");
	json_t *c = load("{\"scope\": [\"abstract_unix_socket\"]}");
	struct policy_section abc[] = {{"ns/a", false, a}, {"ns/b", true, b}, {"ns/c", false, c}};
	struct policy_section cab[] = {{"ns/c", false, c}, {"ns/a", false, a}, {"ns/b", true, b}};
	char *x = compile_dump(abc, 3), *y = compile_dump(cab, 3);
	assert_string_equal(x, y);
	free(x);
	free(y);
	json_decref(a);
	json_decref(b);
	json_decref(c);
}

static void several_policies_become_several_layers(void **state)
{
	json_t *a =
		load("{\"compatibility\": \"HardRequirement\","
		     " \"filesystem\": [{\"paths\": [\"/data\"], \"access\": [\"read_file\"]}]}");
	json_t *b = load("{\"compatibility\": \"BestEffort\","
			 " \"network\": [{\"ports\": [53], \"access\": [\"connect_tcp\"]}]}");
	json_t *c = load("{\"compatibility\": \"HardRequirement\", \"scope\": [\"signal\"]}");
	/* The HardRequirement of an Audit policy does not make the pod's ruleset hard. */
	struct policy_section sections[] = {{"ns/b", false, b}, {"ns/c", true, c}};
	json_t *out = NULL;
	struct field_error err = {0};
	assert_int_equal(landlock_policy_compile(sections, 2, &out, &err), 0);
	assert_string_equal(json_string_value(json_object_get(out, "compatibility")), "BestEffort");

	struct landlock_ruleset *rs = NULL;
	assert_int_equal(landlock_ruleset_from_json(out, &rs, &err), 0);
	assert_int_equal(rs->n_layers, 2);
	assert_string_equal(rs->layers[0].policy, "ns/b");
	assert_false(rs->layers[0].audit);
	assert_int_equal(rs->layers[0].handled.fs, 0);
	assert_int_equal(rs->layers[0].handled.net, 3);
	assert_int_equal(rs->layers[0].n_port_rules, 1);
	assert_int_equal(rs->layers[0].port_rules[0].ports[0], 53);
	assert_string_equal(rs->layers[1].policy, "ns/c");
	assert_true(rs->layers[1].audit);
	assert_int_equal(rs->layers[1].handled.scope, 2);
	assert_false(rs->hard_requirement);
	landlock_ruleset_free(rs);
	json_decref(out);

	struct policy_section three[] = {{"ns/c", true, c}, {"ns/b", false, b}, {"ns/a", false, a}};
	assert_int_equal(landlock_policy_compile(three, 3, &out, &err), 0);
	assert_string_equal(json_string_value(json_object_get(out, "compatibility")),
			    "HardRequirement");
	assert_int_equal(json_array_size(json_object_get(out, "layers")), 3);
	/* Layers follow policy names, not the order the sections came in. */
	json_t *layer0 = json_array_get(json_object_get(out, "layers"), 0);
	assert_non_null(json_object_get(layer0, "pathBeneath"));
	json_decref(out);
	json_decref(a);
	json_decref(b);
	json_decref(c);
}

static void empty_filesystem_list_denies_everything(void **state)
{
	json_t *s = load("{\"filesystem\": []}");
	struct policy_section sec = {"ns/x", false, s};
	char *got = compile_dump(&sec, 1);
	assert_non_null(strstr(got, "\"handledAccessFs\":[\"execute\""));
	assert_null(strstr(got, "pathBeneath"));
	free(got);
	json_decref(s);
}

static void compile_error_names_the_policy(void **state)
{
	json_t *good = load("{\"scope\": [\"signal\"]}");
	json_t *bad =
		load("{\"filesystem\": [{\"paths\": [\"tmp\"], \"access\": [\"read_file\"]}]}");
	struct policy_section sections[] = {{"ns/good", false, good}, {"ns/bad", false, bad}};
	json_t *out = NULL;
	struct field_error err = {0};
	char msg[800];
	assert_int_equal(landlock_policy_compile(sections, 2, &out, &err), -EINVAL);
	assert_null(out);
	assert_string_equal(field_error_str(&err, msg, sizeof(msg)),
			    "ns/bad: spec.landlock.filesystem[0].paths[0]: must be an absolute "
			    "path, not \"tmp\"");
	json_decref(good);
	json_decref(bad);
}

static void more_policies_than_layers_is_an_error(void **state)
{
	json_t *s = load("{\"scope\": [\"signal\"]}");
	struct policy_section sections[17];
	char names[17][16];
	for (int i = 0; i < 17; i++) {
		snprintf(names[i], sizeof(names[i]), "ns/p%02d", i);
		sections[i] = (struct policy_section){names[i], false, s};
	}
	json_t *out = NULL;
	struct field_error err = {0};
	char msg[800];
	assert_int_equal(landlock_policy_compile(sections, 16, &out, &err), 0);
	json_decref(out);
	out = NULL;
	assert_int_equal(landlock_policy_compile(sections, 17, &out, &err), -EINVAL);
	assert_string_equal(field_error_str(&err, msg, sizeof(msg)),
			    "spec.landlock: 17 policies with a landlock section select this pod; "
			    "Landlock stacks at most 16 layers");
	json_decref(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(validate_accepts_the_documented_example),
		cmocka_unit_test(validate_names_field_and_reason),
		cmocka_unit_test(compile_one_policy_exactly),
		cmocka_unit_test(compile_is_independent_of_section_order),
		cmocka_unit_test(several_policies_become_several_layers),
		cmocka_unit_test(empty_filesystem_list_denies_everything),
		cmocka_unit_test(compile_error_names_the_policy),
		cmocka_unit_test(more_policies_than_layers_is_an_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
