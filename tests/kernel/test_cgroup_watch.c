/* The cgroup watcher on real cgroup v2 directories: pods and containers are reported with
 * the right identity and cgroup id when created, when they existed before the watch, and
 * when removed. It also measures the delay from mkdir to the event (reported as a TAP
 * comment; never asserted). */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cgroup2.h"
#include "nodeagent/cgroup_watch.h"

#define UIDFMT "0f9c6b2e-3a4d-4c1e-9f1a-%012x"

static char cgroup2[64], root[128];

struct seen {
	int added, removed;
	uint64_t last_id;
	char last_uid[40], last_container[80];
	struct timespec at[256];
};

static void on_event(const struct cgroup_event *ev, void *userdata)
{
	struct seen *s = userdata;
	if (ev->type == CGROUP_EVENT_ADDED) {
		if (s->added < 256)
			clock_gettime(CLOCK_MONOTONIC, &s->at[s->added]);
		s->added++;
		s->last_id = ev->cgroup_id;
	} else {
		s->removed++;
	}
	snprintf(s->last_uid, sizeof(s->last_uid), "%s", ev->id.pod_uid);
	snprintf(s->last_container, sizeof(s->last_container), "%s", ev->id.container_id);
}

static void drain(struct cgroup_watch *w)
{
	struct pollfd p = {.fd = cgroup_watch_fd(w), .events = POLLIN};
	while (poll(&p, 1, 50) > 0)
		assert_int_equal(cgroup_watch_process(w), 0);
}

static int setup(void **state)
{
	snprintf(root, sizeof(root), "%s/bulwark-test-watch-%d", cgroup2, getpid());
	return mkdir(root, 0755);
}

static int teardown(void **state)
{
	/* cgroups are removed leaf first; rmdir of a populated cgroup fails, so order matters. */
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "find %s -depth -type d -exec rmdir {} + 2>/dev/null", root);
	return system(cmd) == 0 ? 0 : -1;
}

static void mkdirf(const char *fmt, ...)
{
	char p[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p, sizeof(p), fmt, ap);
	va_end(ap);
	if (mkdir(p, 0755) < 0)
		fail_msg("mkdir %s: %s", p, strerror(errno));
}

static void reports_creation_identity_and_removal(void **state)
{
	struct seen s = {0};
	struct cgroup_watch *w;
	/* The kubepods level does not exist yet when the watch starts. */
	assert_int_equal(cgroup_watch_new(root, on_event, &s, &w), 0);
	mkdirf("%s/kubepods", root);
	mkdirf("%s/kubepods/besteffort", root);
	drain(w);
	assert_int_equal(s.added, 0);

	char pod[256];
	snprintf(pod, sizeof(pod), "%s/kubepods/besteffort/pod" UIDFMT, root, 1);
	mkdirf("%s", pod);
	drain(w);
	assert_int_equal(s.added, 1);
	assert_string_equal(s.last_uid, "0f9c6b2e-3a4d-4c1e-9f1a-000000000001");
	assert_string_equal(s.last_container, "");
	uint64_t id;
	assert_int_equal(cgroup_id_of(pod, &id), 0);
	assert_true(s.last_id == id);

	mkdirf("%s/abc123", pod);
	drain(w);
	assert_int_equal(s.added, 2);
	assert_string_equal(s.last_container, "abc123");

	/* Deeper levels inside a container are not reported. */
	mkdirf("%s/abc123/inner", pod);
	drain(w);
	assert_int_equal(s.added, 2);

	char p[512];
	snprintf(p, sizeof(p), "%s/abc123/inner", pod);
	rmdir(p);
	snprintf(p, sizeof(p), "%s/abc123", pod);
	rmdir(p);
	rmdir(pod);
	drain(w);
	assert_int_equal(s.removed, 2);
	cgroup_watch_free(w);
}

static void scan_reports_existing(void **state)
{
	mkdirf("%s/kubepods.slice", root);
	mkdirf("%s/kubepods.slice/kubepods-burstable.slice", root);
	mkdirf("%s/kubepods.slice/kubepods-burstable.slice/"
	       "kubepods-burstable-pod0f9c6b2e_3a4d_4c1e_9f1a_000000000002.slice",
	       root);
	struct seen s = {0};
	struct cgroup_watch *w;
	assert_int_equal(cgroup_watch_new(root, on_event, &s, &w), 0);
	assert_int_equal(cgroup_watch_scan(w), 0);
	assert_int_equal(s.added, 1);
	assert_string_equal(s.last_uid, "0f9c6b2e-3a4d-4c1e-9f1a-000000000002");
	cgroup_watch_free(w);
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return (x > y) - (x < y);
}

static void creation_to_event_delay(void **state)
{
	struct seen s = {0};
	struct cgroup_watch *w;
	mkdirf("%s/kubepods", root);
	mkdirf("%s/kubepods/burstable", root);
	assert_int_equal(cgroup_watch_new(root, on_event, &s, &w), 0);
	enum { N = 200 };
	static long delay_us[N];
	for (int i = 0; i < N; i++) {
		struct timespec before;
		clock_gettime(CLOCK_MONOTONIC, &before);
		mkdirf("%s/kubepods/burstable/pod" UIDFMT, root, 0x100 + i);
		struct pollfd p = {.fd = cgroup_watch_fd(w), .events = POLLIN};
		assert_int_equal(poll(&p, 1, 1000), 1);
		int before_count = s.added;
		assert_int_equal(cgroup_watch_process(w), 0);
		assert_int_equal(s.added, before_count + 1);
		const struct timespec *at = &s.at[(s.added - 1) % 256];
		delay_us[i] = (at->tv_sec - before.tv_sec) * 1000000 +
			      (at->tv_nsec - before.tv_nsec) / 1000;
	}
	qsort(delay_us, N, sizeof(long), cmp_long);
	printf("# cgroup mkdir -> watcher event over %d pods: p50 %ld us, p99 %ld us, max %ld us\n",
	       N, delay_us[N / 2], delay_us[N * 99 / 100], delay_us[N - 1]);
	cgroup_watch_free(w);
}

int main(void)
{
	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root\n");
		return 77;
	}
	if (test_cgroup2_mount(cgroup2, sizeof(cgroup2)) < 0) {
		printf("1..0 # SKIP no cgroup2 filesystem mounted (at a path of under 64 bytes) in "
		       "/proc/self/mountinfo\n");
		return 77;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(reports_creation_identity_and_removal, setup,
						teardown),
		cmocka_unit_test_setup_teardown(scan_reports_existing, setup, teardown),
		cmocka_unit_test_setup_teardown(creation_to_event_delay, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
