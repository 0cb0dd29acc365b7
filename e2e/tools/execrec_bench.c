/* Measures what exec recording costs (bench/exec.sh): the throughput of `cat` of a large file
 * in a tty session recorded vs the same unrecorded (and the bytes lost), and the time of a
 * syscall-heavy process outside any session with the recorder loaded vs not: with no session
 * on the node (the syscall hooks detached) and while one is open (attached). Prints one JSON
 * object. Root; makes and removes its own cgroups under /sys/fs/cgroup/unified. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nodeagent/cgroup_watch.h"
#include "nodeagent/exec/execrec.h"

#define CGROUP2 "/sys/fs/cgroup/unified"
#define POD_UID "7a0c8a57-0b1e-4d3a-9c55-4f2a1e3b7c91"

static char root[128], pod[256], ctr[300], recdir[64];
static struct execrec_recorder *rec;
static volatile int stop_poll;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *poller(void *arg)
{
	while (!stop_poll)
		execrec_poll(rec, 100);
	return NULL;
}

static int write_pid(pid_t pid)
{
	char path[512], s[32];
	snprintf(path, sizeof(path), "%s/cgroup.procs", ctr);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int n = snprintf(s, sizeof(s), "%d\n", pid);
	int r = write(fd, s, (size_t)n) == n ? 0 : -errno;
	close(fd);
	return r;
}

/* Runs argv on a new pty (moved into the container when recorded) and reads everything;
 * returns the seconds it took and the bytes read. */
static double run_pty(char *const argv[], bool move_in, size_t *ret_bytes)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC), sync[2];
	if (m < 0 || grantpt(m) || unlockpt(m) || pipe2(sync, O_CLOEXEC))
		return -1;
	char *slave = ptsname(m);
	double t0 = now_s();
	pid_t pid = fork();
	if (pid == 0) {
		char c;
		if (read(sync[0], &c, 1) != 1)
			_exit(1);
		setsid();
		int s = open(slave, O_RDWR);
		if (s < 0 || ioctl(s, TIOCSCTTY, 0) < 0)
			_exit(1);
		dup2(s, 0), dup2(s, 1), dup2(s, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	if (move_in && write_pid(pid) < 0)
		return -1;
	/* runc init's setup between the move and the exec outlasts the hooks' attach. */
	for (int i = 0; move_in && !execrec_capture_live(rec) && i < 500; i++)
		usleep(10000);
	if (write(sync[1], "x", 1) != 1)
		return -1;
	close(sync[0]);
	close(sync[1]);
	static char b[1 << 16];
	size_t total = 0;
	ssize_t n;
	while ((n = read(m, b, sizeof(b))) > 0)
		total += (size_t)n;
	waitpid(pid, NULL, 0);
	close(m);
	*ret_bytes = total;
	return now_s() - t0;
}

/* A process outside any session doing n one-byte read/write pairs: the seconds its loop took
 * (timed in the child, so fork and exit do not count). */
static double syscall_heavy(long n)
{
	int res[2];
	if (pipe2(res, O_CLOEXEC))
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		int z = open("/dev/zero", O_RDONLY | O_CLOEXEC),
		    d = open("/dev/null", O_WRONLY | O_CLOEXEC);
		char c;
		double t0 = now_s();
		for (long i = 0; i < n; i++)
			if (read(z, &c, 1) != 1 || write(d, &c, 1) != 1)
				_exit(1);
		double t = now_s() - t0;
		_exit(write(res[1], &t, sizeof(t)) == sizeof(t) ? 0 : 1);
	}
	close(res[1]);
	double t = -1;
	if (read(res[0], &t, sizeof(t)) != sizeof(t))
		t = -1;
	close(res[0]);
	waitpid(pid, NULL, 0);
	return t;
}

static void cleanup(void)
{
	char p[512];
	rmdir(ctr);
	rmdir(pod);
	snprintf(p, sizeof(p), "%s/kubepods", root);
	rmdir(p);
	rmdir(root);
	if (recdir[0]) {
		snprintf(p, sizeof(p), "rm -rf '%s'", recdir);
		if (system(p) != 0)
			fprintf(stderr, "could not remove %s\n", recdir);
	}
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: execrec_bench FILE [SYSCALL_PAIRS] [ROUNDS] [RING_MIB]\n");
		return 2;
	}
	long pairs = argc > 2 ? atol(argv[2]) : 1000000;
	int rounds = argc > 3 ? atoi(argv[3]) : 3;
	size_t ring = argc > 4 ? (size_t)atol(argv[4]) << 20 : 0; /* 0: the recorder's default */
	snprintf(root, sizeof(root), CGROUP2 "/bulwark-bench-exec-%d", getpid());
	snprintf(pod, sizeof(pod), "%s/kubepods/pod" POD_UID, root);
	snprintf(ctr, sizeof(ctr), "%s/ctr", pod);
	char p[512];
	snprintf(p, sizeof(p), "%s/kubepods", root);
	snprintf(recdir, sizeof(recdir), "/tmp/bulwark-bench-exec-XXXXXX");
	if (mkdir(root, 0755) || mkdir(p, 0755) || mkdir(pod, 0755) || mkdir(ctr, 0755) ||
	    !mkdtemp(recdir)) {
		perror("setup");
		cleanup();
		return 1;
	}
	char *cat[] = {"/bin/cat", argv[1], NULL};
	size_t bytes = 0;
	double base_sys = 1e9, base_cat = 1e9, loaded_sys = 1e9;
	struct execrec_opts o = {
		.recordings_dir = recdir, .node_name = "bench", .ringbuf_bytes = ring};
	int r = 0;
	/* Baselines with nothing loaded, alternating with the recorder loaded and no session on
	 * the node, so that the VM's drift over the run hits both alike. */
	for (int i = 0; i < rounds && r == 0; i++) {
		double t = syscall_heavy(pairs);
		base_sys = t < base_sys ? t : base_sys;
		t = run_pty(cat, false, &bytes);
		base_cat = t < base_cat ? t : base_cat;
		if ((r = execrec_open(&o, &rec)) < 0)
			break;
		t = syscall_heavy(pairs);
		loaded_sys = t < loaded_sys ? t : loaded_sys;
		rec = execrec_free(rec);
	}
	if (r == 0)
		r = execrec_open(&o, &rec);
	uint64_t pod_id = 0;
	if (r < 0 || cgroup_id_of(pod, &pod_id) < 0 || execrec_add_pod(rec, pod_id) < 0) {
		fprintf(stderr, "execrec_bench: recorder: %s\n", strerror(-r));
		cleanup();
		return 1;
	}
	pthread_t th;
	pthread_create(&th, NULL, poller, NULL);
	/* The container's init, so that later arrivals are sessions. */
	pid_t init = fork();
	if (init == 0) {
		execl("/bin/sleep", "sleep", "3600", (char *)NULL);
		_exit(127);
	}
	write_pid(init);
	double unrec_cat = 1e9, rec_cat = 1e9;
	size_t rec_bytes = 0;
	/* Outside any session while one is open: the syscall hooks are attached. */
	double live_sys = 1e9;
	pid_t live = fork();
	if (live == 0) {
		execl("/bin/sleep", "sleep", "3600", (char *)NULL);
		_exit(127);
	}
	write_pid(live);
	for (int i = 0; i < 500 && !execrec_capture_live(rec); i++)
		usleep(10000);
	for (int i = 0; i < rounds; i++) {
		double t = syscall_heavy(pairs);
		live_sys = t < live_sys ? t : live_sys;
	}
	kill(live, SIGKILL);
	waitpid(live, NULL, 0);
	for (int i = 0; i < rounds; i++) {
		double t = run_pty(cat, false, &bytes);
		unrec_cat = t < unrec_cat ? t : unrec_cat;
		t = run_pty(cat, true, &rec_bytes);
		rec_cat = t < rec_cat ? t : rec_cat;
	}
	sleep(2); /* let the last session drain and finish */
	stop_poll = 1;
	pthread_join(th, NULL);
	struct execrec_stats st;
	execrec_get_stats(rec, &st);
	kill(init, SIGKILL);
	waitpid(init, NULL, 0);
	rec = execrec_free(rec);
	cleanup();
	double mb = (double)bytes / 1e6;
	printf("{\"file_mb\":%.1f,\"cat_mb_s_baseline\":%.1f,\"cat_mb_s_unrecorded_loaded\":%.1f,"
	       "\"cat_mb_s_recorded\":%.1f,\"cat_recorded_ratio\":%.3f,"
	       "\"syscall_pairs\":%ld,\"syscall_s_baseline\":%.3f,\"syscall_s_loaded\":%.3f,"
	       "\"syscall_outside_session_ratio\":%.3f,\"syscall_s_session_live\":%.3f,"
	       "\"syscall_session_live_ratio\":%.3f,\"sessions\":%llu,\"lost_events\":%llu,"
	       "\"lost_bytes\":%llu,\"capture_late_sessions\":%llu}\n",
	       mb, mb / base_cat, mb / unrec_cat, (double)rec_bytes / 1e6 / rec_cat,
	       ((double)rec_bytes / rec_cat) / ((double)bytes / base_cat), pairs, base_sys,
	       loaded_sys, loaded_sys / base_sys, live_sys, live_sys / base_sys,
	       (unsigned long long)st.sessions_total, (unsigned long long)st.lost_events,
	       (unsigned long long)st.lost_bytes, (unsigned long long)st.capture_late_sessions);
	return 0;
}
