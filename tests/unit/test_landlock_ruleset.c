/* The ruleset file bulwark-launch reads: parsing, validation messages, the ABI downgrade, and
 * path normalization. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "landlock/access.h"
#include "landlock/path.h"
#include "landlock/ruleset.h"

#define ALL_FS                                                                                   \
	"[\"execute\",\"write_file\",\"read_file\",\"read_dir\",\"remove_dir\",\"remove_file\"," \
	"\"make_char\",\"make_dir\",\"make_reg\",\"make_sock\",\"make_fifo\",\"make_block\","    \
	"\"make_sym\",\"refer\",\"truncate\",\"ioctl_dev\"]"

static const char full[] =
	"{\"compatibility\": \"BestEffort\","
	" \"policies\": [{\"name\": \"ns/a\", \"mode\": \"Enforce\"},"
	"                {\"name\": \"ns/b\", \"mode\": \"Audit\"}],"
	" \"layers\": [{\"ruleset\": [{\"handledAccessFs\": " ALL_FS ","
	"                              \"handledAccessNet\": [\"bind_tcp\", \"connect_tcp\"],"
	"                              \"scoped\": [\"abstract_unix_socket\", \"signal\"]}],"
	"              \"pathBeneath\": [{\"allowedAccess\": [\"read_file\", \"truncate\","
	"                                                     \"ioctl_dev\", \"refer\"],"
	"                                 \"parent\": [\"/usr\", \"/etc\"]}],"
	"              \"netPort\": [{\"allowedAccess\": [\"connect_tcp\"], \"port\": [443, 0]}]},"
	"             {\"ruleset\": [{\"scoped\": [\"signal\"]}]}]}";

static struct landlock_ruleset *parse_ok(const char *text)
{
	struct landlock_ruleset *rs = NULL;
	struct field_error err = {0};
	char msg[800];
	int r = landlock_ruleset_parse(text, strlen(text), &rs, &err);
	if (r < 0)
		fail_msg("parse failed: %s", field_error_str(&err, msg, sizeof(msg)));
	return rs;
}

static void parses_layers_in_order(void **state)
{
	struct landlock_ruleset *rs = parse_ok(full);
	assert_false(rs->hard_requirement);
	assert_int_equal(rs->n_layers, 2);
	const struct landlock_layer *a = &rs->layers[0];
	assert_string_equal(a->policy, "ns/a");
	assert_false(a->audit);
	assert_int_equal(a->handled.fs, 0xffff);
	assert_int_equal(a->handled.net, 3);
	assert_int_equal(a->handled.scope, 3);
	assert_int_equal(a->n_path_rules, 1);
	assert_int_equal(a->path_rules[0].access, (1 << 2) | (1 << 13) | (1 << 14) | (1 << 15));
	assert_int_equal(a->path_rules[0].n_paths, 2);
	assert_string_equal(a->path_rules[0].paths[1], "/etc");
	assert_int_equal(a->n_port_rules, 1);
	assert_int_equal(a->port_rules[0].n_ports, 2);
	assert_int_equal(a->port_rules[0].ports[0], 443);
	assert_int_equal(a->port_rules[0].ports[1], 0);
	assert_true(rs->layers[1].audit);
	assert_int_equal(rs->layers[1].handled.scope, 2);
	landlock_ruleset_free(rs);

	/* Several ruleset entries are unioned, as in landlockconfig. */
	rs = parse_ok("{\"compatibility\": \"HardRequirement\", \"policies\": [{\"name\": \"n/p\","
		      " \"mode\": \"Enforce\"}], \"layers\": [{\"ruleset\": [{\"handledAccessFs\":"
		      " [\"read_file\"]}, {\"handledAccessFs\": [\"write_file\"]}]}]}");
	assert_true(rs->hard_requirement);
	assert_int_equal(rs->layers[0].handled.fs, 6);
	landlock_ruleset_free(rs);
}

static void rejects_with_the_field_and_reason(void **state)
{
	static const struct {
		const char *text;
		const char *message;
	} cases[] = {
		{"", "invalid JSON at line 1 column 0: '[' or '{' expected near end of file"},
		{"[]", "a ruleset must be a JSON object"},
		{"{\"policies\": [], \"layers\": [], \"x\": 1}", "x: unknown field"},
		{"{\"policies\": [], \"layers\": [], \"layers\": []}",
		 "invalid JSON at line 1 column 39: duplicate object key near '\"layers\"'"},
		{"{\"policies\": []}", "layers: must be an array"},
		{"{\"layers\": [{}]}", "policies: must be an array"},
		{"{\"policies\": [], \"layers\": [{}]}",
		 "policies: must have one entry per layer (1), not 0"},
		{"{\"compatibility\": \"Maybe\", \"policies\": [], \"layers\": []}",
		 "compatibility: must be BestEffort or HardRequirement"},
		{"{\"policies\": [{\"name\": \"a/b\", \"mode\": \"Permissive\"}], \"layers\": "
		 "[{}]}",
		 "policies[0].mode: must be Enforce or Audit"},
		{"{\"policies\": [{\"mode\": \"Audit\"}], \"layers\": [{}]}",
		 "policies[0].name: must be a \"namespace/name\" string"},
		{"{\"policies\": [{\"name\": \"a/b\", \"mode\": \"Audit\"}], \"layers\": "
		 "[{\"abi\": 4}]}",
		 "layers[0].abi: unknown field"},
		{"{\"policies\": [{\"name\": \"a/b\", \"mode\": \"Audit\"}],"
		 " \"layers\": [{\"ruleset\": [{}]}]}",
		 "layers[0].ruleset[0]: must handle something"},
		{"{\"policies\": [{\"name\": \"a/b\", \"mode\": \"Audit\"}],"
		 " \"layers\": [{\"ruleset\": [{\"handledAccessFs\": [\"abi.all\"]}]}]}",
		 "layers[0].ruleset[0].handledAccessFs[0]: unknown filesystem access right "
		 "\"abi.all\"; known: execute, write_file, read_file, read_dir, remove_dir, "
		 "remove_file, make_char, make_dir, make_reg, make_sock, make_fifo, make_block, "
		 "make_sym, refer, truncate, ioctl_dev"},
		{"{\"policies\": [{\"name\": \"a/b\", \"mode\": \"Audit\"}],"
		 " \"layers\": [{\"ruleset\": [{\"handledAccessFs\": [\"read_file\"]}],"
		 "              \"pathBeneath\": [{\"allowedAccess\": [\"read_file\"],"
		 "                               \"parent\": [\"/usr\", \"tmp\"]}]}]}",
		 "layers[0].pathBeneath[0].parent[1]: must be an absolute path, not \"tmp\""},
		{"{\"policies\": [{\"name\": \"a/b\", \"mode\": \"Audit\"}],"
		 " \"layers\": [{\"ruleset\": [{\"handledAccessFs\": [\"read_file\"]}],"
		 "              \"pathBeneath\": [{\"allowedAccess\": [\"read_file\", "
		 "\"truncate\"],"
		 "                               \"parent\": [\"/usr\"]}]}]}",
		 "layers[0].pathBeneath[0].allowedAccess[1]: \"truncate\" is not in this layer's "
		 "ruleset handledAccessFs"},
		{"{\"policies\": [{\"name\": \"a/b\", \"mode\": \"Audit\"}],"
		 " \"layers\": [{\"pathBeneath\": [{\"allowedAccess\": [\"read_file\"],"
		 "                               \"parent\": [\"/usr\"]}]}]}",
		 "layers[0].pathBeneath[0].allowedAccess[0]: \"read_file\" is not in this layer's "
		 "ruleset handledAccessFs"},
		{"{\"policies\": [{\"name\": \"a/b\", \"mode\": \"Audit\"}],"
		 " \"layers\": [{\"ruleset\": [{\"handledAccessFs\": [\"read_file\"]}],"
		 "              \"pathBeneath\": [{\"allowedAccess\": [\"read_file\"]}]}]}",
		 "layers[0].pathBeneath[0].parent: is required"},
		{"{\"policies\": [{\"name\": \"a/b\", \"mode\": \"Audit\"}],"
		 " \"layers\": [{\"ruleset\": [{\"handledAccessNet\": [\"bind_tcp\"]}],"
		 "              \"netPort\": [{\"allowedAccess\": [\"bind_tcp\"], \"port\": "
		 "[70000]}]}]}",
		 "layers[0].netPort[0].port[0]: must be an integer 0..65535"},
		{"{\"policies\": [{\"name\": \"a/b\", \"mode\": \"Audit\"}],"
		 " \"layers\": [{\"ruleset\": [{\"handledAccessNet\": [\"bind_tcp\"]}],"
		 "              \"netPort\": [{\"allowedAccess\": [\"connect_tcp\"], \"port\": "
		 "[80]}]}]}",
		 "layers[0].netPort[0].allowedAccess[0]: \"connect_tcp\" is not in this layer's "
		 "ruleset handledAccessNet"},
		{"{\"policies\": [{\"name\": \"a/b\", \"mode\": \"Audit\"}],"
		 " \"layers\": [{\"ruleset\": [{\"scoped\": [\"ptrace\"]}]}]}",
		 "layers[0].ruleset[0].scoped[0]: unknown scope \"ptrace\"; known: "
		 "abstract_unix_socket, signal"},
		{"{\"policies\": [{\"name\": \"a/b\", \"mode\": \"Audit\"}],"
		 " \"layers\": [{\"netPort\": []}]}",
		 "layers[0].netPort: must not be empty"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct landlock_ruleset *rs = NULL;
		struct field_error err = {0};
		char msg[800];
		int r = landlock_ruleset_parse(cases[i].text, strlen(cases[i].text), &rs, &err);
		assert_int_equal(r, -EINVAL);
		assert_null(rs);
		assert_string_equal(field_error_str(&err, msg, sizeof(msg)), cases[i].message);
	}
}

static void rejects_too_many_layers_and_bytes(void **state)
{
	char text[4096] = "{\"policies\": [";
	for (int i = 0; i < 17; i++)
		strcat(text, i ? ",{\"name\":\"a/b\",\"mode\":\"Audit\"}"
			       : "{\"name\":\"a/b\",\"mode\":\"Audit\"}");
	strcat(text, "], \"layers\": [{}");
	for (int i = 1; i < 17; i++)
		strcat(text, ",{}");
	strcat(text, "]}");
	struct landlock_ruleset *rs = NULL;
	struct field_error err = {0};
	char msg[800];
	assert_int_equal(landlock_ruleset_parse(text, strlen(text), &rs, &err), -EINVAL);
	assert_string_equal(
		field_error_str(&err, msg, sizeof(msg)),
		"layers: must have at most 16 items (the kernel's layer limit), not 17");

	size_t big = LANDLOCK_RULESET_MAX_BYTES + 1;
	char *huge = malloc(big);
	memset(huge, ' ', big);
	memset(&err, 0, sizeof(err));
	assert_int_equal(landlock_ruleset_parse(huge, big, &rs, &err), -EINVAL);
	assert_string_equal(field_error_str(&err, msg, sizeof(msg)),
			    "ruleset is 1048577 bytes, more than the 1048576 allowed");
	free(huge);
}

/* What a full layer keeps on each ABI: the downgrade table from the kernel's documentation. */
static void downgrade_follows_the_abi_table(void **state)
{
	static const struct {
		int abi;
		uint64_t fs, net, scope;
	} kept[] = {
		{0, 0, 0, 0},	   {1, 0x1fff, 0, 0}, {2, 0x3fff, 0, 0},
		{3, 0x7fff, 0, 0}, {4, 0x7fff, 3, 0}, {5, 0xffff, 3, 0},
		{6, 0xffff, 3, 3}, {7, 0xffff, 3, 3}, {99, 0xffff, 3, 3},
	};
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		struct landlock_ruleset *rs = parse_ok(full);
		struct landlock_layer *l = &rs->layers[0];
		struct landlock_rights dropped = landlock_layer_downgrade(l, kept[i].abi);
		assert_int_equal(l->handled.fs, kept[i].fs);
		assert_int_equal(l->handled.net, kept[i].net);
		assert_int_equal(l->handled.scope, kept[i].scope);
		assert_int_equal(dropped.fs, 0xffff & ~kept[i].fs);
		assert_int_equal(dropped.net, 3 & ~kept[i].net);
		assert_int_equal(dropped.scope, 3 & ~kept[i].scope);
		/* A rule never keeps a right its layer no longer handles. */
		assert_int_equal(l->path_rules[0].access, 0xe004 & kept[i].fs);
		assert_int_equal(l->n_port_rules, kept[i].net ? 1 : 0);
		landlock_ruleset_free(rs);
	}
}

static void downgrade_of_a_supported_layer_drops_nothing(void **state)
{
	struct landlock_ruleset *rs = parse_ok(full);
	struct landlock_rights dropped = landlock_layer_downgrade(&rs->layers[1], 6);
	assert_true(landlock_rights_empty(dropped));
	assert_int_equal(rs->layers[1].handled.scope, 2);
	landlock_ruleset_free(rs);
}

static void restrict_flags_need_abi_7(void **state)
{
	assert_int_equal(landlock_abi_restrict_flags(6), 0);
	assert_int_equal(landlock_abi_restrict_flags(7), 7);
}

static void rights_have_names_and_abis(void **state)
{
	char buf[128];
	assert_string_equal(
		landlock_rights_format(LANDLOCK_KIND_FS, (1 << 14) | 1, buf, sizeof(buf)),
		"execute,truncate");
	assert_string_equal(landlock_rights_format(LANDLOCK_KIND_NET, 0, buf, sizeof(buf)), "");
	assert_int_equal(landlock_right_abi(LANDLOCK_KIND_FS, 1 << 15), 5);
	assert_int_equal(landlock_right_abi(LANDLOCK_KIND_NET, 1 << 0), 4);
	assert_int_equal(landlock_right_abi(LANDLOCK_KIND_SCOPE, 1 << 1), 6);
	assert_null(landlock_right_name(LANDLOCK_KIND_SCOPE, 1 << 2));
	uint64_t bit;
	assert_int_equal(landlock_right_from_name(LANDLOCK_KIND_SCOPE, "read_file", &bit), -ENOENT);
	assert_int_equal(landlock_right_from_name(LANDLOCK_KIND_FS, "make_sym", &bit), 0);
	assert_int_equal(bit, 1 << 12);
	/* The file-only mask is exactly the rights that mean something on a file. */
	uint64_t file_only = 0;
	static const char *const names[] = {"execute", "write_file", "read_file", "truncate",
					    "ioctl_dev"};
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(landlock_right_from_name(LANDLOCK_KIND_FS, names[i], &bit), 0);
		file_only |= bit;
	}
	assert_int_equal(file_only, LANDLOCK_ACCESS_FS_FILE_ONLY_MASK);
}

static void paths_normalize(void **state)
{
	static const struct {
		const char *in, *out;
		int r;
	} cases[] = {
		{"/", "/", 0},
		{"/usr", "/usr", 0},
		{"/usr/", "/usr", 0},
		{"//usr//lib///", "/usr/lib", 0},
		{"/usr/./lib/.", "/usr/lib", 0},
		{"/./", "/", 0},
		{"/a/.b/..c", "/a/.b/..c", 0},
		{"/a/../b", NULL, -EPERM},
		{"/..", NULL, -EPERM},
		{"usr", NULL, -EINVAL},
		{"./usr", NULL, -EINVAL},
		{"", NULL, -EINVAL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[LANDLOCK_PATH_MAX];
		int r = landlock_path_normalize(cases[i].in, out, sizeof(out));
		assert_int_equal(r, cases[i].r);
		if (r == 0)
			assert_string_equal(out, cases[i].out);
	}

	char small[5];
	assert_int_equal(landlock_path_normalize("/usr/lib", small, sizeof(small)), -ENAMETOOLONG);
	char *long_path = malloc(LANDLOCK_PATH_MAX + 1);
	memset(long_path, 'a', LANDLOCK_PATH_MAX);
	long_path[0] = '/';
	long_path[LANDLOCK_PATH_MAX] = '\0';
	char out[LANDLOCK_PATH_MAX], reason[256];
	assert_int_equal(landlock_path_normalize(long_path, out, sizeof(out)), -ENAMETOOLONG);
	assert_int_equal(landlock_path_check(long_path, reason, sizeof(reason)), -ENAMETOOLONG);
	assert_string_equal(reason, "must be shorter than 4096 bytes");
	free(long_path);

	assert_int_equal(landlock_path_check("/usr/lib", reason, sizeof(reason)), 0);
	assert_int_equal(landlock_path_check("/usr/lib/", reason, sizeof(reason)), -EILSEQ);
	assert_string_equal(reason, "must be normalized: \"/usr/lib\", not \"/usr/lib/\"");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_layers_in_order),
		cmocka_unit_test(rejects_with_the_field_and_reason),
		cmocka_unit_test(rejects_too_many_layers_and_bytes),
		cmocka_unit_test(downgrade_follows_the_abi_table),
		cmocka_unit_test(downgrade_of_a_supported_layer_drops_nothing),
		cmocka_unit_test(restrict_flags_need_abi_7),
		cmocka_unit_test(rights_have_names_and_abis),
		cmocka_unit_test(paths_normalize),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
