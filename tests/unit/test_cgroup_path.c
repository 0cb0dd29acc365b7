/* Kubelet cgroup naming for both drivers, and the reverse mapping the agent uses when a new
 * cgroup directory appears. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "nodeagent/cgroup_path.h"

#define UID  "0f9c6b2e-3a4d-4c1e-9f1a-2b3c4d5e6f70"
#define UID_ "0f9c6b2e_3a4d_4c1e_9f1a_2b3c4d5e6f70"
#define CID  "4b825dc642cb6eb9a060e54bf8d69288fbee4904aa1fcf2d1c4d2a3e5f6a7b8c"

static void forward_paths(void **state)
{
	char p[256];
	assert_int_equal(
		pod_cgroup_path(CGROUP_DRIVER_CGROUPFS, POD_QOS_BESTEFFORT, UID, p, sizeof(p)), 0);
	assert_string_equal(p, "kubepods/besteffort/pod" UID);
	assert_int_equal(
		pod_cgroup_path(CGROUP_DRIVER_CGROUPFS, POD_QOS_GUARANTEED, UID, p, sizeof(p)), 0);
	assert_string_equal(p, "kubepods/pod" UID);
	assert_int_equal(
		pod_cgroup_path(CGROUP_DRIVER_SYSTEMD, POD_QOS_BURSTABLE, UID, p, sizeof(p)), 0);
	assert_string_equal(p, "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
			       ".slice");
	assert_int_equal(
		pod_cgroup_path(CGROUP_DRIVER_SYSTEMD, POD_QOS_GUARANTEED, UID, p, sizeof(p)), 0);
	assert_string_equal(p, "kubepods.slice/kubepods-pod" UID_ ".slice");
	assert_int_equal(pod_cgroup_path(CGROUP_DRIVER_CGROUPFS, POD_QOS_BESTEFFORT, UID, p, 20),
			 -ENAMETOOLONG);
	assert_int_equal(pod_cgroup_path(CGROUP_DRIVER_CGROUPFS, POD_QOS_BESTEFFORT, "../../etc", p,
					 sizeof(p)),
			 -EINVAL);
	assert_int_equal(pod_cgroup_path(CGROUP_DRIVER_CGROUPFS, POD_QOS_BESTEFFORT,
					 "0F9C6B2E-3A4D-4C1E-9F1A-2B3C4D5E6F70", p, sizeof(p)),
			 -EINVAL);
}

static void identify(void **state)
{
	struct cgroup_identity id;
	assert_int_equal(cgroup_identify("kubepods/besteffort/pod" UID, &id), 1);
	assert_string_equal(id.pod_uid, UID);
	assert_string_equal(id.container_id, "");
	assert_int_equal(id.qos, POD_QOS_BESTEFFORT);

	assert_int_equal(cgroup_identify("/bulwark-e2e/kubepods/pod" UID "/" CID, &id), 1);
	assert_string_equal(id.container_id, CID);
	assert_int_equal(id.qos, POD_QOS_GUARANTEED);

	assert_int_equal(
		cgroup_identify(
			"kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
			".slice/cri-containerd-" CID ".scope",
			&id),
		1);
	assert_string_equal(id.pod_uid, UID);
	assert_string_equal(id.container_id, CID);
	assert_int_equal(id.qos, POD_QOS_BURSTABLE);

	assert_int_equal(cgroup_identify("kubepods.slice/kubepods-pod" UID_ ".slice/crio-" CID
					 ".scope",
					 &id),
			 1);
	assert_string_equal(id.container_id, CID);
	assert_int_equal(id.qos, POD_QOS_GUARANTEED);
}

static void not_pods(void **state)
{
	struct cgroup_identity id;
	assert_int_equal(cgroup_identify("kubepods", &id), 0);
	assert_int_equal(cgroup_identify("kubepods/besteffort", &id), 0);
	assert_int_equal(cgroup_identify("system.slice/sshd.service", &id), 0);
	assert_int_equal(cgroup_identify("pod" UID, &id), 0); /* not under kubepods */
	assert_int_equal(cgroup_identify("kubepods/besteffort/pod" UID "/" CID "/nested", &id), 0);
	assert_int_equal(cgroup_identify("kubepods/besteffort/pod" UID "/bad.scope", &id), 0);
	/* A pod component that looks like one but is malformed is an error, not a silent skip. */
	assert_int_equal(
		cgroup_identify("kubepods/besteffort/pod0f9c6b2e-3a4d-4c1e-9f1a-2b3c4d5e6fZZ", &id),
		-EINVAL);
}

static void round_trip_every_combination(void **state)
{
	for (int d = CGROUP_DRIVER_CGROUPFS; d <= CGROUP_DRIVER_SYSTEMD; d++)
		for (int q = POD_QOS_GUARANTEED; q <= POD_QOS_BESTEFFORT; q++) {
			char p[256];
			struct cgroup_identity id;
			assert_int_equal(pod_cgroup_path(d, q, UID, p, sizeof(p)), 0);
			assert_int_equal(cgroup_identify(p, &id), 1);
			assert_string_equal(id.pod_uid, UID);
			assert_int_equal(id.qos, q);
		}
}

static void parse_names(void **state)
{
	enum cgroup_driver d;
	enum pod_qos q;
	assert_int_equal(cgroup_driver_from_string("systemd", &d), 0);
	assert_int_equal(d, CGROUP_DRIVER_SYSTEMD);
	assert_int_equal(cgroup_driver_from_string("Systemd", &d), -EINVAL);
	assert_int_equal(pod_qos_from_string("BestEffort", &q), 0);
	assert_int_equal(q, POD_QOS_BESTEFFORT);
	assert_int_equal(pod_qos_from_string("besteffort", &q), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(forward_paths), cmocka_unit_test(identify),
		cmocka_unit_test(not_pods),	 cmocka_unit_test(round_trip_every_combination),
		cmocka_unit_test(parse_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
