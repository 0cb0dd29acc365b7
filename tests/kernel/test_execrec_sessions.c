/* The exec recorder on the real kernel: a fake pod cgroup with a "container init" in it, and
 * sessions started into it from outside the way runc exec does it (fork outside, write the pid
 * to the container's cgroup.procs, exec a shell), with a real pty driven from here or with
 * pipes. Checks that the recording holds input and output in order and byte for byte, that
 * the event log lists the commands, that concurrent sessions stay apart, that 50 MB of output
 * arrive whole (or the gap is recorded and counted), that processes outside any session are
 * not recorded, that the syscall hooks are attached only while a session is live and that a
 * session which exec'd before they were carries a gap saying so, and that every recording
 * verifies. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "cgroup2.h"
#include "nodeagent/cgroup_watch.h"
#include "nodeagent/exec/container_name.h"
#include "nodeagent/exec/execrec.h"
#include "nodeagent/probes.h"
#include "recording/cast.h"
#include "recording/recording.h"

#define POD_UID	  "5d1c8a57-0b1e-4d3a-9c55-4f2a1e3b7c90"
#define SHELL	  "/usr/bin/busybox"
#define BIG_MB	  50
#define LINGER_MS 300
/* The limit of every wait for a condition: generous, since a wait ends when the condition
 * holds, and a loaded 2-core machine or a TCG VM is slow. */
#define WAIT_MS 60000

struct finished {
	char id[RECORDING_ID_MAX + 1];
	char digest[RECORDING_DIGEST_LEN];
	uint64_t lost_events, lost_bytes, gaps, bytes;
	int exit_status;
	bool tty;
	char pod[256];
};

static struct {
	char cgroup2[64], root[128], pod[256], ctr[300], dir[64];
	struct execrec_recorder *rec;
	pthread_t thread;
	volatile int stop;
	int paused, poll_idle; /* __atomic: the test holds the poll thread to read stats */
	pthread_mutex_t lock;
	struct finished done[16];
	int n_done, n_started;
	pid_t init_pid;
	bool withhold_identity; /* the sink does not say who asked (the API server is slow) */
	char last_started[RECORDING_ID_MAX + 1];
} T = {.lock = PTHREAD_MUTEX_INITIALIZER};

#define IDENTITY_WAIT_MS 1000

/* Like the ExecSession sync once it claimed the request: who asked, from another thread's
 * point of view (the recorder takes it up on its next poll). */
static json_t *identity_of(const char *id)
{
	char es[RECORDING_ID_MAX + 8];
	snprintf(es, sizeof(es), "es-%s", id);
	return json_pack("{s:{s:s,s:[s]},s:s}", "user", "username", "tester", "groups", "auditors",
			 "execSession", es);
}

static void on_started(const struct execrec_session_info *s, void *ud)
{
	pthread_mutex_lock(&T.lock);
	T.n_started++;
	snprintf(T.last_started, sizeof(T.last_started), "%s", s->id);
	bool tell = !T.withhold_identity;
	pthread_mutex_unlock(&T.lock);
	if (tell) {
		json_t *who = identity_of(s->id);
		if (execrec_identify(T.rec, s->id, who) < 0) /* the header then lacks it */
			fprintf(stderr, "execrec_identify failed\n");
		json_decref(who);
	}
}

static void on_finished(const struct execrec_session_info *s, void *ud)
{
	pthread_mutex_lock(&T.lock);
	if (T.n_done < 16) {
		struct finished *f = &T.done[T.n_done++];
		snprintf(f->id, sizeof(f->id), "%s", s->id);
		snprintf(f->digest, sizeof(f->digest), "%s", s->digest ? s->digest : "");
		snprintf(f->pod, sizeof(f->pod), "%s", s->who->pod);
		f->lost_events = s->lost_events;
		f->lost_bytes = s->lost_bytes;
		f->gaps = s->gaps;
		f->bytes = s->bytes;
		f->exit_status = s->exit_status;
		f->tty = s->tty;
	}
	pthread_mutex_unlock(&T.lock);
}

static int resolve(uint64_t cgroup_id, uint64_t pod_cgroup_id, struct execrec_identity *ret,
		   void *ud)
{
	snprintf(ret->namespace, sizeof(ret->namespace), "test");
	snprintf(ret->pod, sizeof(ret->pod), "pod-under-test");
	snprintf(ret->container, sizeof(ret->container), "ctr");
	snprintf(ret->pod_uid, sizeof(ret->pod_uid), POD_UID);
	return 0;
}

static void *poll_thread(void *arg)
{
	while (!T.stop) {
		if (__atomic_load_n(&T.paused, __ATOMIC_SEQ_CST)) {
			__atomic_store_n(&T.poll_idle, 1, __ATOMIC_SEQ_CST);
			usleep(10000);
			continue;
		}
		__atomic_store_n(&T.poll_idle, 0, __ATOMIC_SEQ_CST);
		execrec_poll(T.rec, 100);
	}
	return NULL;
}

/* Holds the poll thread out of the recorder (which is not thread-safe) until resume. */
static void pause_poller(void)
{
	__atomic_store_n(&T.paused, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&T.poll_idle, 0, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&T.poll_idle, __ATOMIC_SEQ_CST))
		usleep(1000);
}

static void resume_poller(void)
{
	__atomic_store_n(&T.paused, 0, __ATOMIC_SEQ_CST);
}

static struct execrec_stats stats_now(void)
{
	struct execrec_stats st;
	pause_poller();
	execrec_get_stats(T.rec, &st);
	resume_poller();
	return st;
}

static bool wait_capture(bool live, int timeout_ms)
{
	for (int waited = 0; waited < timeout_ms; waited += 10) {
		if (execrec_capture_live(T.rec) == live)
			return true;
		usleep(10000);
	}
	return execrec_capture_live(T.rec) == live;
}

static int write_pid(const char *cg, pid_t pid)
{
	char path[512], s[32];
	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int n = snprintf(s, sizeof(s), "%d\n", pid);
	int r = write(fd, s, (size_t)n) == n ? 0 : -errno;
	close(fd);
	return r;
}

static int group_setup(void **state)
{
	snprintf(T.root, sizeof(T.root), "%s/bulwark-test-exec-%d", T.cgroup2, getpid());
	snprintf(T.pod, sizeof(T.pod), "%s/kubepods/pod" POD_UID, T.root);
	snprintf(T.ctr, sizeof(T.ctr), "%s/ctr", T.pod);
	char p[512];
	snprintf(p, sizeof(p), "%s/kubepods", T.root);
	if (mkdir(T.root, 0755) || mkdir(p, 0755) || mkdir(T.pod, 0755) || mkdir(T.ctr, 0755))
		return -1;
	snprintf(T.dir, sizeof(T.dir), "/tmp/bulwark-execrec-XXXXXX");
	if (!mkdtemp(T.dir))
		return -1;
	static const struct execrec_sink sink = {on_started, on_finished, NULL};
	struct execrec_opts o = {
		.recordings_dir = T.dir,
		.node_name = "test-node",
		.resolve = resolve,
		.sink = &sink,
		.hooks_linger_ms = LINGER_MS,
		.identity_wait_ms = IDENTITY_WAIT_MS,
	};
	int r = execrec_open(&o, &T.rec);
	if (r < 0) {
		/* main() skipped where the kernel lacks what the recorder needs: this is a bug. */
		printf("# the exec recorder does not load: %s\n", strerror(-r));
		return -1;
	}
	printf("# terminal capture: %s\n", execrec_uses_pty_hooks(T.rec)
						   ? "fexit on pty_write"
						   : "pty master syscalls of the runtime");
	uint64_t pod_id;
	if (cgroup_id_of(T.pod, &pod_id) < 0 || execrec_add_pod(T.rec, pod_id) < 0)
		return -1;
	/* On demand: no session on the node yet, so the syscall hooks are not attached. */
	if (execrec_capture_live(T.rec)) {
		printf("# syscall hooks attached with no session\n");
		return -1;
	}
	if (pthread_create(&T.thread, NULL, poll_thread, NULL))
		return -1;

	/* The container's init: the first process into the empty container cgroup. */
	int sync[2];
	if (pipe2(sync, O_CLOEXEC))
		return -1;
	T.init_pid = fork();
	if (T.init_pid == 0) {
		char c;
		close(sync[1]);
		if (read(sync[0], &c, 1) != 1)
			_exit(1);
		execl(SHELL, "sleep", "3600", (char *)NULL);
		_exit(127);
	}
	close(sync[0]);
	r = write_pid(T.ctr, T.init_pid);
	if (write(sync[1], "x", 1) != 1)
		r = -EIO;
	close(sync[1]);
	return r;
}

static int group_teardown(void **state)
{
	if (T.init_pid > 0) {
		kill(T.init_pid, SIGKILL);
		waitpid(T.init_pid, NULL, 0);
	}
	if (T.rec) {
		T.stop = 1;
		pthread_join(T.thread, NULL);
		T.rec = execrec_free(T.rec);
	}
	char p[512];
	if (T.ctr[0]) {
		rmdir(T.ctr);
		rmdir(T.pod);
		snprintf(p, sizeof(p), "%s/kubepods", T.root);
		rmdir(p);
		rmdir(T.root);
	}
	if (T.dir[0] && !getenv("KEEP_RECORDINGS")) {
		snprintf(p, sizeof(p), "rm -rf '%s'", T.dir);
		if (system(p) != 0)
			fprintf(stderr, "could not remove %s\n", T.dir);
	} else if (T.dir[0]) {
		printf("# recordings kept in %s\n", T.dir);
	}
	return 0;
}

/* A session as runc exec starts one: forked here (outside the pod), moved into the container
 * cgroup by us (the runtime), then released to exec argv. With a pty when master is not NULL
 * (the child makes the slave its controlling terminal), else with pipes to/from us. Like runc
 * init's setup between the move and the exec, the release waits for the capture hooks the
 * move made the recorder attach, unless early. */
static pid_t start_session_at(char *const argv[], int *master, int *to_child, int *from_child,
			      bool move_in, bool early)
{
	int sync[2], in[2] = {-1, -1}, out[2] = {-1, -1};
	char *slave_name = NULL;
	assert_int_equal(pipe2(sync, O_CLOEXEC), 0);
	if (master) {
		*master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
		assert_true(*master >= 0);
		assert_int_equal(grantpt(*master), 0);
		assert_int_equal(unlockpt(*master), 0);
		slave_name = ptsname(*master);
		assert_non_null(slave_name);
		struct winsize ws = {.ws_row = 30, .ws_col = 100};
		ioctl(*master, TIOCSWINSZ, &ws);
	} else {
		assert_int_equal(pipe2(in, O_CLOEXEC), 0);
		assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	}
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char c;
		/* Like runc's init, which the runtime starts, the session holds none of this
		 * process's descriptors. A child holding the recorder's BPF link fds would keep
		 * the hooks attached after the recorder detached them, and before 6.10 the kernel
		 * refuses to attach the same program to a tracepoint twice (EEXIST). */
		for (int fd = 3; fd < 1024; fd++)
			if (fd != sync[0] && fd != in[0] && fd != out[1])
				close(fd);
		if (read(sync[0], &c, 1) != 1)
			_exit(1);
		if (master) {
			setsid();
			int s = open(slave_name, O_RDWR);
			if (s < 0 || ioctl(s, TIOCSCTTY, 0) < 0)
				_exit(1);
			dup2(s, 0), dup2(s, 1), dup2(s, 2);
		} else {
			dup2(in[0], 0), dup2(out[1], 1), dup2(out[1], 2);
		}
		setenv("PS1", "$ ", 1);
		execv(SHELL, argv);
		_exit(127);
	}
	if (move_in)
		assert_int_equal(write_pid(T.ctr, pid), 0);
	if (move_in && !early)
		assert_true(wait_capture(true, WAIT_MS));
	assert_int_equal(write(sync[1], "x", 1), 1);
	close(sync[0]);
	close(sync[1]);
	if (!master) {
		close(in[0]);
		close(out[1]);
		*to_child = in[1];
		*from_child = out[0];
	}
	return pid;
}

static pid_t start_session(char *const argv[], int *master, int *to_child, int *from_child,
			   bool move_in)
{
	return start_session_at(argv, master, to_child, from_child, move_in, false);
}

/* Reads what fd has until wanted appears in acc (or EOF/EIO: returns false then). */
static bool read_until(int fd, struct buf *acc, const char *wanted, int timeout_ms)
{
	for (int waited = 0; waited < timeout_ms;) {
		if (wanted && strstr(buf_str(acc), wanted))
			return true;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int n = poll(&p, 1, 100);
		if (n == 0) {
			waited += 100;
			continue;
		}
		char b[65536];
		ssize_t got = read(fd, b, sizeof(b));
		if (got <= 0)
			return wanted == NULL;
		assert_int_equal(buf_append(acc, b, (size_t)got), 0);
	}
	return false;
}

static void type(int fd, const char *s)
{
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

static const struct finished *wait_finished(int n_before, int n)
{
	for (int waited = 0; waited < 2 * WAIT_MS; waited += 100) {
		pthread_mutex_lock(&T.lock);
		int have = T.n_done;
		pthread_mutex_unlock(&T.lock);
		if (have >= n_before + n)
			return &T.done[n_before];
		usleep(100000);
	}
	fail_msg("no finished session after %d s", 2 * WAIT_MS / 1000);
	return NULL;
}

struct parsed {
	struct buf out, in, log;
	int markers;
	unsigned width, height;
	bool in_before_out; /* the first input came before the output it caused */
	char user[64];	    /* the header's kubernetes.user.username, "" if none */
};

static void parse_recording(const char *id, struct parsed *p, const char *first_out_after)
{
	char path[512];
	*p = (struct parsed){
		.out = BUF_INIT(256u << 20), .in = BUF_INIT(1u << 20), .log = BUF_INIT(16u << 20)};
	snprintf(path, sizeof(path), "%s/%s.cast", T.dir, id);
	FILE *f = fopen(path, "re");
	assert_non_null(f);
	struct stat st;
	assert_int_equal(fstat(fileno(f), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	bool header = true;
	while ((n = getline(&line, &cap, f)) > 0) {
		struct field_error err = {0};
		if (header) {
			json_t *h = NULL;
			assert_int_equal(cast_parse_header(line, (size_t)n - 1, &h, &err), 0);
			p->width = (unsigned)json_integer_value(json_object_get(h, "width"));
			p->height = (unsigned)json_integer_value(json_object_get(h, "height"));
			json_t *k = json_object_get(h, "kubernetes");
			assert_string_equal(json_string_value(json_object_get(k, "pod")),
					    "pod-under-test");
			const char *u = json_string_value(
				json_object_get(json_object_get(k, "user"), "username"));
			snprintf(p->user, sizeof(p->user), "%s", u ? u : "");
			json_decref(h);
			header = false;
			continue;
		}
		struct cast_event e;
		assert_int_equal(cast_parse_event(line, (size_t)n - 1, &e, &err), 0);
		if (!strcmp(e.type, "o")) {
			if (first_out_after && !p->in_before_out && p->in.len &&
			    strstr(e.data, first_out_after))
				p->in_before_out = true;
			assert_int_equal(buf_append(&p->out, e.data, e.len), 0);
		} else if (!strcmp(e.type, "i")) {
			assert_int_equal(buf_append(&p->in, e.data, e.len), 0);
		} else if (!strcmp(e.type, "m")) {
			p->markers++;
		}
		cast_event_clear(&e);
	}
	free(line);
	fclose(f);
	snprintf(path, sizeof(path), "%s/%s.log", T.dir, id);
	f = fopen(path, "re");
	assert_non_null(f);
	char b[4096];
	size_t got;
	while ((got = fread(b, 1, sizeof(b), f)) > 0)
		assert_int_equal(buf_append(&p->log, b, got), 0);
	fclose(f);
}

static void parsed_free(struct parsed *p)
{
	buf_free(&p->out);
	buf_free(&p->in);
	buf_free(&p->log);
}

static void assert_verifies(const struct finished *f)
{
	struct recording_verify_result v;
	assert_int_equal(recording_verify(T.dir, f->id, f->digest, &v), 0);
	if (!v.ok)
		fail_msg("%s: %s record %lld: %s", f->id, v.file, (long long)v.index, v.reason);
	assert_true(v.finished);
}

static void test_tty_session(void **state)
{
	int n0 = T.n_done, master;
	char *argv[] = {"sh", "-i", NULL};
	pid_t pid = start_session(argv, &master, NULL, NULL, true);
	struct buf term = BUF_INIT(1u << 20);
	assert_true(read_until(master, &term, "$ ", WAIT_MS));
	type(master, "echo hello-$((6*7))\n");
	assert_true(read_until(master, &term, "hello-42", WAIT_MS));
	type(master, "/bin/echo from-a-child-process\n");
	assert_true(read_until(master, &term, "from-a-child-process\r\n", WAIT_MS));
	type(master, "exit 3\n");
	read_until(master, &term, NULL, WAIT_MS); /* EIO once the slave is closed */
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(master);

	const struct finished *f = wait_finished(n0, 1);
	assert_true(f->tty);
	assert_int_equal(f->exit_status, status);
	assert_int_equal(WEXITSTATUS(f->exit_status), 3);
	struct parsed p;
	parse_recording(f->id, &p, "hello-42");
	/* What the terminal showed, byte for byte (the echo of the typing included). */
	assert_int_equal(p.out.len, term.len);
	assert_memory_equal(p.out.data, term.data, term.len);
	assert_string_equal(buf_str(&p.in),
			    "echo hello-$((6*7))\n/bin/echo from-a-child-process\nexit 3\n");
	assert_true(p.in_before_out);
	assert_int_equal(p.width, 100);
	assert_int_equal(p.height, 30);
	assert_string_equal(p.user, "tester"); /* the header waited for who asked */
	assert_non_null(strstr(buf_str(&p.log), "\"argv\":[\"sh\",\"-i\"]"));
	assert_non_null(
		strstr(buf_str(&p.log), "\"argv\":[\"/bin/echo\",\"from-a-child-process\"]"));
	assert_non_null(strstr(buf_str(&p.log), "\"exit_code\":3"));
	assert_int_equal(f->lost_events, 0);
	assert_int_equal(p.markers, 0);
	assert_verifies(f);
	parsed_free(&p);
	buf_free(&term);
}

static void test_pipe_session(void **state)
{
	int n0 = T.n_done, to, from;
	char *argv[] = {"sh", "-c", "read x; echo got-$x; /bin/echo done", NULL};
	pid_t pid = start_session(argv, NULL, &to, &from, true);
	type(to, "abc\n");
	close(to);
	struct buf term = BUF_INIT(1u << 20);
	read_until(from, &term, NULL, WAIT_MS);
	close(from);
	assert_string_equal(buf_str(&term), "got-abc\ndone\n");
	assert_int_equal(waitpid(pid, NULL, 0), pid);

	const struct finished *f = wait_finished(n0, 1);
	assert_false(f->tty);
	struct parsed p;
	parse_recording(f->id, &p, NULL);
	assert_string_equal(buf_str(&p.out), "got-abc\ndone\n");
	assert_string_equal(buf_str(&p.in), "abc\n");
	assert_non_null(strstr(buf_str(&p.log), "\"argv\":[\"/bin/echo\",\"done\"]"));
	assert_verifies(f);
	parsed_free(&p);
	buf_free(&term);
}

/* The identity came too late for the header: the header goes out without it after the wait,
 * nothing recorded meanwhile is lost, and the identity lands in the chained event log. */
static void test_identity_after_the_header(void **state)
{
	struct execrec_stats before = stats_now();
	pthread_mutex_lock(&T.lock);
	T.withhold_identity = true;
	pthread_mutex_unlock(&T.lock);
	int n0 = T.n_done, master;
	char *argv[] = {"sh", "-i", NULL};
	pid_t pid = start_session(argv, &master, NULL, NULL, true);
	struct buf term = BUF_INIT(1u << 20);
	assert_true(read_until(master, &term, "$ ", WAIT_MS));
	type(master, "echo before-$((2*3))\n");
	assert_true(read_until(master, &term, "before-6", WAIT_MS));
	/* The identity wait expires: the header goes out without it. */
	for (int waited = 0; stats_now().identity_late_sessions == before.identity_late_sessions;
	     waited += 10) {
		assert_true(waited < WAIT_MS);
		usleep(10000);
	}
	pthread_mutex_lock(&T.lock);
	char id[RECORDING_ID_MAX + 1];
	snprintf(id, sizeof(id), "%s", T.last_started);
	T.withhold_identity = false;
	pthread_mutex_unlock(&T.lock);
	json_t *who = identity_of(id);
	assert_int_equal(execrec_identify(T.rec, id, who), 0);
	json_decref(who);
	type(master, "echo after-$((3*3))\n");
	assert_true(read_until(master, &term, "after-9", WAIT_MS));
	type(master, "exit\n");
	read_until(master, &term, NULL, WAIT_MS);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	close(master);

	const struct finished *f = wait_finished(n0, 1);
	assert_string_equal(f->id, id);
	struct parsed p;
	parse_recording(f->id, &p, NULL);
	assert_string_equal(p.user, "");
	assert_int_equal(p.out.len, term.len);
	assert_memory_equal(p.out.data, term.data, term.len);
	assert_non_null(strstr(buf_str(&p.log), "\"type\":\"identity\""));
	assert_non_null(strstr(buf_str(&p.log), "\"username\":\"tester\""));
	assert_verifies(f);
	assert_int_equal(stats_now().identity_late_sessions, before.identity_late_sessions + 1);
	parsed_free(&p);
	buf_free(&term);
}

static void test_concurrent_sessions_stay_apart(void **state)
{
	int n0 = T.n_done, m1, m2;
	char *argv[] = {"sh", "-i", NULL};
	pid_t p1 = start_session(argv, &m1, NULL, NULL, true);
	pid_t p2 = start_session(argv, &m2, NULL, NULL, true);
	struct buf t1 = BUF_INIT(1u << 20), t2 = BUF_INIT(1u << 20);
	assert_true(read_until(m1, &t1, "$ ", WAIT_MS));
	assert_true(read_until(m2, &t2, "$ ", WAIT_MS));
	type(m1, "echo first-ONE\n");
	type(m2, "echo second-TWO\n");
	assert_true(read_until(m1, &t1, "first-ONE\r\n", WAIT_MS));
	assert_true(read_until(m2, &t2, "second-TWO\r\n", WAIT_MS));
	type(m1, "exit\n");
	type(m2, "exit\n");
	read_until(m1, &t1, NULL, WAIT_MS);
	read_until(m2, &t2, NULL, WAIT_MS);
	waitpid(p1, NULL, 0);
	waitpid(p2, NULL, 0);
	close(m1);
	close(m2);
	wait_finished(n0, 2);
	int seen_one = 0, seen_two = 0;
	for (int i = n0; i < n0 + 2; i++) {
		struct parsed p;
		parse_recording(T.done[i].id, &p, NULL);
		bool one = strstr(buf_str(&p.out), "first-ONE") != NULL;
		bool two = strstr(buf_str(&p.out), "second-TWO") != NULL;
		assert_true(one != two);
		seen_one += one;
		seen_two += two;
		const struct buf *term = one ? &t1 : &t2;
		assert_int_equal(p.out.len, term->len);
		assert_memory_equal(p.out.data, term->data, term->len);
		assert_verifies(&T.done[i]);
		parsed_free(&p);
	}
	assert_int_equal(seen_one, 1);
	assert_int_equal(seen_two, 1);
	buf_free(&t1);
	buf_free(&t2);
}

static void test_50mb_through_pty(void **state)
{
	int n0 = T.n_done, master;
	char file[] = "/tmp/bulwark-execrec-big-XXXXXX";
	int fd = mkstemp(file);
	assert_true(fd >= 0);
	/* Printable text in lines: the terminal shows it as it is (with \r\n). */
	char line[101];
	for (size_t i = 0; i < BIG_MB * 10485; i++) {
		for (int k = 0; k < 99; k++)
			line[k] = (char)('!' + (i * 7 + (size_t)k * 13) % 94);
		line[99] = '\n';
		assert_int_equal(write(fd, line, 100), 100);
	}
	close(fd);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "cat %s", file);
	char *argv[] = {"sh", "-c", cmd, NULL};
	pid_t pid = start_session(argv, &master, NULL, NULL, true);
	struct buf term = BUF_INIT(256u << 20);
	read_until(master, &term, NULL, 120000);
	waitpid(pid, NULL, 0);
	close(master);
	unlink(file);
	const struct finished *f = wait_finished(n0, 1);
	struct parsed p;
	parse_recording(f->id, &p, NULL);
	printf("# 50 MB session: terminal read %zu bytes, recorded %zu, lost %llu bytes in %llu "
	       "events, %d gap markers\n",
	       term.len, p.out.len, (unsigned long long)f->lost_bytes,
	       (unsigned long long)f->lost_events, p.markers);
	assert_true(term.len > (size_t)BIG_MB * 1000000);
	if (f->lost_events == 0) {
		assert_int_equal(p.out.len, term.len);
		assert_memory_equal(p.out.data, term.data, term.len);
		assert_int_equal(p.markers, 0);
	} else {
		/* Every lost byte is accounted for, and marked where it was lost. */
		assert_int_equal(p.out.len + f->lost_bytes, term.len);
		assert_true(p.markers > 0);
		assert_non_null(strstr(buf_str(&p.log), "\"type\":\"gap\""));
	}
	assert_verifies(f);
	parsed_free(&p);
	buf_free(&term);
}

static void test_outside_processes_not_recorded(void **state)
{
	int n0 = T.n_done, started0 = T.n_started, master;
	char *argv[] = {"sh", "-c", "echo outside; /bin/echo still-outside", NULL};
	pid_t pid = start_session(argv, &master, NULL, NULL, false);
	struct buf term = BUF_INIT(1u << 20);
	read_until(master, &term, NULL, WAIT_MS);
	waitpid(pid, NULL, 0);
	close(master);
	assert_non_null(strstr(buf_str(&term), "still-outside"));
	/* The container's init ran and exec'd too: it is not a session either. A session run
	 * after them is the barrier: the recorder reads the kernel's events in order, so once it
	 * has finished, anything the processes above had started would have been seen. */
	char *barrier[] = {"sh", "-c", "exit 0", NULL};
	pid = start_session(barrier, &master, NULL, NULL, true);
	read_until(master, &term, NULL, WAIT_MS);
	waitpid(pid, NULL, 0);
	close(master);
	const struct finished *f = wait_finished(n0, 1);
	struct parsed p;
	parse_recording(f->id, &p, NULL);
	assert_non_null(strstr(buf_str(&p.log), "\"argv\":[\"sh\",\"-c\",\"exit 0\"]"));
	parsed_free(&p);
	assert_int_equal(T.n_done, n0 + 1);
	assert_int_equal(T.n_started, started0 + 1);
	buf_free(&term);
}

/* The syscall hooks are attached only while a session is live (and LINGER_MS after). */
static void test_hooks_on_demand(void **state)
{
	assert_true(wait_capture(false, LINGER_MS + WAIT_MS));
	struct execrec_stats st = stats_now();
	assert_int_equal(st.hooks_attached, 0);
	uint64_t attaches = st.hooks_attaches;
	int n0 = T.n_done, master;
	char *argv[] = {"sh", "-i", NULL};
	pid_t pid = start_session(argv, &master, NULL, NULL, true);
	struct buf term = BUF_INIT(1u << 20);
	assert_true(read_until(master, &term, "$ ", WAIT_MS));
	st = stats_now();
	assert_int_equal(st.hooks_attached, 1);
	assert_int_equal(st.hooks_attaches, attaches + 1);
	assert_true(execrec_capture_live(T.rec));
	type(master, "exit\n");
	read_until(master, &term, NULL, WAIT_MS);
	waitpid(pid, NULL, 0);
	close(master);
	wait_finished(n0, 1);
	assert_true(wait_capture(false, LINGER_MS + WAIT_MS));
	assert_int_equal(stats_now().hooks_attached, 0);
	buf_free(&term);
}

/* A session that exec'd and wrote before its hooks were attached (the recorder was held
 * back): what it wrote then is missing, and its recording says so with the delay. */
static void test_capture_late_is_marked(void **state)
{
	assert_true(wait_capture(false, LINGER_MS + WAIT_MS));
	uint64_t late0 = stats_now().capture_late_sessions;
	int n0 = T.n_done, to, from;
	char *argv[] = {"sh", "-c", "echo early; read x; echo late-$x", NULL};
	pause_poller();
	pid_t pid = start_session_at(argv, NULL, &to, &from, true, true);
	struct buf term = BUF_INIT(1u << 20);
	assert_true(read_until(from, &term, "early\n", WAIT_MS));
	assert_false(execrec_capture_live(T.rec));
	resume_poller();
	assert_true(wait_capture(true, WAIT_MS));
	type(to, "x\n");
	close(to);
	read_until(from, &term, NULL, WAIT_MS);
	close(from);
	assert_string_equal(buf_str(&term), "early\nlate-x\n");
	assert_int_equal(waitpid(pid, NULL, 0), pid);

	const struct finished *f = wait_finished(n0, 1);
	struct parsed p;
	parse_recording(f->id, &p, NULL);
	assert_null(strstr(buf_str(&p.out), "early"));
	assert_non_null(strstr(buf_str(&p.out), "late-x"));
	assert_int_equal(p.markers, 1);
	assert_non_null(strstr(buf_str(&p.log), "\"reason\":\"capture attached "));
	assert_non_null(strstr(buf_str(&p.log), "\"capture_delay_us\":"));
	assert_true(f->gaps >= 1);
	assert_int_equal(stats_now().capture_late_sessions, late0 + 1);
	assert_verifies(f);
	parsed_free(&p);
	buf_free(&term);
}

/* A session's container cgroup id leads back to the runtime's container id (its directory
 * name), which names the container in the pod's status. */
static void test_container_id_from_cgroup(void **state)
{
	uint64_t ctr_id, pod_id;
	char cid[72];
	assert_int_equal(cgroup_id_of(T.ctr, &ctr_id), 0);
	assert_int_equal(cgroup_id_of(T.pod, &pod_id), 0);
	assert_int_equal(cgroup_container_id(T.cgroup2, ctr_id, cid, sizeof(cid)), 0);
	assert_string_equal(cid, "ctr");
	assert_int_equal(cgroup_container_id(T.cgroup2, pod_id, cid, sizeof(cid)), -ENOENT);
	assert_int_equal(cgroup_container_id(T.cgroup2, ctr_id, cid, 3), -ENAMETOOLONG);
}

int main(void)
{
	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root\n");
		return 77;
	}
	if (test_cgroup2_mount(T.cgroup2, sizeof(T.cgroup2)) < 0) {
		printf("1..0 # SKIP no cgroup2 filesystem mounted (at a path of under 64 bytes) in "
		       "/proc/self/mountinfo\n");
		return 77;
	}
	/* What the recorder needs from the kernel; with it, failing to load is a failure. */
	const struct node_features *f = node_features_probe(T.cgroup2, NULL);
	if (!f->btf || !f->ringbuf) {
		printf("1..0 # SKIP the kernel has no %s: the exec recorder cannot run here\n",
		       !f->btf ? "BTF (/sys/kernel/btf/vmlinux)" : "BPF ring buffer");
		return 77;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_container_id_from_cgroup),
		cmocka_unit_test(test_hooks_on_demand),
		cmocka_unit_test(test_tty_session),
		cmocka_unit_test(test_pipe_session),
		cmocka_unit_test(test_identity_after_the_header),
		cmocka_unit_test(test_concurrent_sessions_stay_apart),
		cmocka_unit_test(test_outside_processes_not_recorded),
		cmocka_unit_test(test_capture_late_is_marked),
		cmocka_unit_test(test_50mb_through_pty),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
