/* Naming the container of a node-local exec session: the runtime's id in the container
 * cgroup's directory name (as the kubelet's cgroupfs and systemd drivers, and the e2e node
 * harness, name it), then the name the kubelet gave it, from the runtime's saved state
 * (nodeagent/exec/container_name.c, nodeagent/cgroup_path.c). The state files are written here as
 * runc (containerd's and CRI-O's) and crun save them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "nodeagent/cgroup_path.h"
#include "nodeagent/exec/container_name.h"

#define UID   "0f9c2f63-6b2a-4c1e-9a53-1d2e3f4a5b6c"
#define UID_  "0f9c2f63_6b2a_4c1e_9a53_1d2e3f4a5b6c"
#define APP   "4a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"
#define SIDE  "9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0"
#define CRUN  "1111111111111111111111111111111111111111111111111111111111111111"
#define PAUSE "2222222222222222222222222222222222222222222222222222222222222222"
#define BAD   "3333333333333333333333333333333333333333333333333333333333333333"

static char root[64], dirs[512];

static void put(const char *runtime, const char *id, const char *file, const char *text)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", root, runtime);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/%s/%s", root, runtime, id);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/%s/%s/%s", root, runtime, id, file);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	snprintf(root, sizeof(root), "/tmp/test-container-name-XXXXXX");
	if (!mkdtemp(root))
		return -1;
	/* containerd's runc: the CRI annotations are labels of the saved config. */
	put("containerd", APP, "state.json",
	    "{\"id\":\"" APP
	    "\",\"config\":{\"labels\":[\"io.kubernetes.cri.container-type=container\","
	    "\"io.kubernetes.cri.container-name=app\",\"bundle=/run/containerd/x\"]}}");
	put("containerd", PAUSE, "state.json",
	    "{\"config\":{\"labels\":[\"io.kubernetes.cri.container-type=sandbox\"]}}");
	put("containerd", BAD, "state.json", "{\"config\": {\"labels\": [");
	/* CRI-O's runc: its own annotation key. */
	put("runc", SIDE, "state.json",
	    "{\"config\":{\"labels\":[\"io.kubernetes.container.name=sidecar\"]}}");
	/* crun: the OCI config itself. */
	put("crun", CRUN, "config.json",
	    "{\"ociVersion\":\"1.0.2\",\"annotations\":{\"io.kubernetes.container.name\":"
	    "\"debugger-x7k2p\"}}");
	snprintf(dirs, sizeof(dirs), "%s/containerd:%s/missing:%s/runc:%s/crun", root, root, root,
		 root);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_names_from_each_runtime(void **state)
{
	char name[64];
	assert_int_equal(runtime_container_name(dirs, APP, name, sizeof(name)), 0);
	assert_string_equal(name, "app");
	assert_int_equal(runtime_container_name(dirs, SIDE, name, sizeof(name)), 0);
	assert_string_equal(name, "sidecar");
	assert_int_equal(runtime_container_name(dirs, CRUN, name, sizeof(name)), 0);
	assert_string_equal(name, "debugger-x7k2p");
}

/* The container id in a cgroup path, the way the agent gets it from the cgroup's name. */
static const char *id_of(const char *path, struct cgroup_identity *id)
{
	assert_int_equal(cgroup_identify(path, id), 1);
	return id->container_id;
}

static void test_cgroup_names_of_each_driver_match(void **state)
{
	static const char *const paths[] = {
		/* cgroupfs driver (containerd, CRI-O), and the e2e node harness's default */
		"kubepods/besteffort/pod" UID "/" APP,
		/* systemd driver, containerd (also the harness with --cgroup-driver systemd) */
		"kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
		".slice/cri-containerd-" APP ".scope",
		/* below a parent cgroup of the test's own, as the agent may see the mount */
		"/sys/fs/cgroup/unified/x/kubepods/pod" UID "/" APP,
	};
	char name[64];
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct cgroup_identity id;
		assert_int_equal(
			runtime_container_name(dirs, id_of(paths[i], &id), name, sizeof(name)), 0);
		assert_string_equal(name, "app");
	}
	struct cgroup_identity id;
	assert_int_equal(
		runtime_container_name(
			dirs,
			id_of("kubepods.slice/kubepods-pod" UID_ ".slice/crio-" SIDE ".scope", &id),
			name, sizeof(name)),
		0);
	assert_string_equal(name, "sidecar");
}

static void test_no_name_and_bad_input(void **state)
{
	char name[64] = "unchanged";
	/* A sandbox has no name; an unknown id, a short (docker ps style) or longer id are
	 * not the container. */
	assert_int_equal(runtime_container_name(dirs, PAUSE, name, sizeof(name)), -ENOENT);
	assert_int_equal(runtime_container_name(dirs, "4a1b2c3d4e5f", name, sizeof(name)), -ENOENT);
	assert_int_equal(runtime_container_name(dirs, APP "0", name, sizeof(name)), -ENOENT);
	/* A file that is not JSON is reported, not guessed at. */
	assert_int_equal(runtime_container_name(dirs, BAD, name, sizeof(name)), -EBADMSG);
	/* Ids are plain names: no way out of the state directories. */
	assert_int_equal(runtime_container_name(dirs, "", name, sizeof(name)), -EINVAL);
	assert_int_equal(runtime_container_name(dirs, "../containerd/" APP, name, sizeof(name)),
			 -EINVAL);
	assert_int_equal(runtime_container_name(dirs, "..", name, sizeof(name)), -EINVAL);
	/* No directories at all, and a name that does not fit. */
	assert_int_equal(runtime_container_name(NULL, APP, name, sizeof(name)), -ENOENT);
	assert_int_equal(runtime_container_name("", APP, name, sizeof(name)), -ENOENT);
	assert_int_equal(runtime_container_name(dirs, APP, name, 3), -ENAMETOOLONG);
	assert_string_equal(name, "unchanged");
	/* The parser alone: labels that only look like the key, and wrong types. */
	json_t *st = json_pack("{s:{s:[s,i,s]},s:{s:i}}", "config", "labels",
			       "io.kubernetes.cri.container-name-x=no", 7,
			       "io.kubernetes.cri.container-name", "annotations",
			       "io.kubernetes.container.name", 5);
	assert_int_equal(container_name_from_state(st, name, sizeof(name)), -ENOENT);
	json_decref(st);
	assert_int_equal(container_name_from_state(NULL, name, sizeof(name)), -ENOENT);
	assert_string_equal(name, "unchanged");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_from_each_runtime),
		cmocka_unit_test(test_cgroup_names_of_each_driver_match),
		cmocka_unit_test(test_no_name_and_bad_input),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
