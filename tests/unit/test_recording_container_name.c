/* Naming the container of a node-local exec session: the runtime's id in the container
 * cgroup's directory name (as the kubelet's cgroupfs and systemd drivers, and the e2e node
 * harness, name it) matched against the pod's status containerID (nodeagent/container_name.c,
 * nodeagent/cgroup_path.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "nodeagent/cgroup_path.h"
#include "nodeagent/container_name.h"

#define UID   "0f9c2f63-6b2a-4c1e-9a53-1d2e3f4a5b6c"
#define UID_  "0f9c2f63_6b2a_4c1e_9a53_1d2e3f4a5b6c"
#define APP   "4a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"
#define SIDE  "9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0"
#define INIT  "1111111111111111111111111111111111111111111111111111111111111111"
#define DEBUG "2222222222222222222222222222222222222222222222222222222222222222"

static json_t *pod(void)
{
	return json_pack("{s:{s:s},s:{s:[{s:s,s:s},{s:s,s:s},{s:s}],s:[{s:s,s:s}],s:[{s:s,s:s}]}}",
			 "metadata", "uid", UID, "status", "containerStatuses", "name", "app",
			 "containerID", "containerd://" APP, "name", "sidecar", "containerID",
			 "cri-o://" SIDE, "name", "waiting-no-id", "initContainerStatuses", "name",
			 "init-db", "containerID", "containerd://" INIT,
			 "ephemeralContainerStatuses", "name", "debugger-x7k2p", "containerID",
			 "containerd://" DEBUG);
}

/* The container id in a cgroup path, the way the agent gets it from the cgroup's name. */
static const char *id_of(const char *path, struct cgroup_identity *id)
{
	assert_int_equal(cgroup_identify(path, id), 1);
	return id->container_id;
}

static void test_names_every_kind_of_container(void **state)
{
	json_t *p = pod();
	char name[64];
	assert_int_equal(pod_container_name(p, APP, name, sizeof(name)), 0);
	assert_string_equal(name, "app");
	assert_int_equal(pod_container_name(p, SIDE, name, sizeof(name)), 0);
	assert_string_equal(name, "sidecar");
	assert_int_equal(pod_container_name(p, INIT, name, sizeof(name)), 0);
	assert_string_equal(name, "init-db");
	assert_int_equal(pod_container_name(p, DEBUG, name, sizeof(name)), 0);
	assert_string_equal(name, "debugger-x7k2p");
	json_decref(p);
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
	json_t *p = pod();
	char name[64];
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct cgroup_identity id;
		assert_int_equal(pod_container_name(p, id_of(paths[i], &id), name, sizeof(name)),
				 0);
		assert_string_equal(name, "app");
	}
	struct cgroup_identity id;
	assert_int_equal(
		pod_container_name(
			p,
			id_of("kubepods.slice/kubepods-pod" UID_ ".slice/crio-" SIDE ".scope", &id),
			name, sizeof(name)),
		0);
	assert_string_equal(name, "sidecar");
	json_decref(p);
}

static void test_no_partial_or_unreported_match(void **state)
{
	json_t *p = pod();
	char name[64] = "unchanged";
	/* A short id (docker ps style) is not the container, nor is a longer one. */
	assert_int_equal(pod_container_name(p, "4a1b2c3d4e5f", name, sizeof(name)), -ENOENT);
	assert_int_equal(pod_container_name(p, APP "0", name, sizeof(name)), -ENOENT);
	/* Not reported yet (the kubelet lags the runtime). */
	assert_int_equal(pod_container_name(p, "3333", name, sizeof(name)), -ENOENT);
	assert_int_equal(pod_container_name(p, "", name, sizeof(name)), -EINVAL);
	assert_string_equal(name, "unchanged");
	/* A containerID without a runtime scheme is not trusted to be one. */
	json_t *bare = json_pack("{s:{s:[{s:s,s:s}]}}", "status", "containerStatuses", "name",
				 "app", "containerID", APP);
	assert_int_equal(pod_container_name(bare, APP, name, sizeof(name)), -ENOENT);
	json_decref(bare);
	/* No status at all. */
	json_t *empty = json_object();
	assert_int_equal(pod_container_name(empty, APP, name, sizeof(name)), -ENOENT);
	json_decref(empty);
	/* The name must fit. */
	assert_int_equal(pod_container_name(p, APP, name, 3), -ENAMETOOLONG);
	assert_string_equal(name, "unchanged");
	json_decref(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_every_kind_of_container),
		cmocka_unit_test(test_cgroup_names_of_each_driver_match),
		cmocka_unit_test(test_no_partial_or_unreported_match),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
