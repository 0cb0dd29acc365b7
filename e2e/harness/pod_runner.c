#include "pod_runner.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "bundle.h"
#include "cgroup_layout.h"
#include "cleanup.h"
#include "error.h"
#include "fileio.h"
#include "log.h"
#include "pod_spec.h"
#include "proc.h"
#include "rootfs.h"

#define RECORD_FILE "record.json"
#define STATUS_FILE "status.json"

/* snprintf for paths: -ENAMETOOLONG instead of a silently truncated path. */
static int pathf(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int pathf(char *out, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int len = vsnprintf(out, n, fmt, ap);
	va_end(ap);
	return len < 0 || (size_t)len >= n ? -ENAMETOOLONG : 0;
}

static void now_rfc3339(char out[32])
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int random_id(char out[65])
{
	unsigned char raw[32];
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return -EIO;
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

static int write_json_atomic(const char *dir, const char *name, const json_t *j)
{
	char path[PATH_MAX];
	if (pathf(path, sizeof(path), "%s/%s", dir, name) < 0)
		return -ENAMETOOLONG;
	_cleanup_free_ char *text = json_dumps(j, JSON_COMPACT);
	if (!text)
		return -ENOMEM;
	return write_file_atomic(path, text, strlen(text), 0644);
}

static int remove_dir(const char *dir)
{
	if (access(dir, F_OK) < 0)
		return 0;
	int r = harness_run_cmdl(NULL, "rm", "-rf", "--one-file-system", "--", dir, NULL);
	return r == 0 ? 0 : -EIO;
}

static int runc(const struct harness_config *cfg, struct buf *out, const char *a1, const char *a2,
		const char *a3, const char *a4)
{
	return harness_run_cmdl(out, "runc", "--root", cfg->runc_root, a1, a2, a3, a4, NULL);
}

/* ---- state on disk --------------------------------------------------------------------- */

static json_t *record_json(const struct pod_run *p)
{
	json_t *cs = json_array();
	for (size_t i = 0; cs && i < p->n_containers; i++) {
		const struct container_run *c = &p->containers[i];
		json_array_append_new(cs, json_pack("{s:s,s:s,s:I,s:b,s:b}", "name", c->name, "id",
						    c->id, "pid", (json_int_t)c->pid, "created",
						    c->created, "init", c->init));
	}
	return json_pack("{s:s,s:s,s:s,s:s,s:i,s:o}", "uid", p->uid, "namespace", p->namespace,
			 "name", p->name, "cgroup", p->cgroup_pod, "slot",
			 p->has_net ? p->net.slot : -1, "containers", cs);
}

static void save(struct pod_run *p)
{
	json_auto_t *rec = record_json(p);
	json_auto_t *st = pod_run_status(p);
	if (!rec || !st || write_json_atomic(p->dir, RECORD_FILE, rec) < 0 ||
	    write_json_atomic(p->dir, STATUS_FILE, st) < 0)
		log_warn("cannot save the pod's record, ignoring", "pod", p->name, "dir", p->dir);
}

/* ---- phase -------------------------------------------------------------------------------- */

static void update_phase(struct pod_run *p)
{
	if (p->phase == POD_FAILED && p->reason[0])
		return; /* a pod-level failure stays */
	for (size_t i = 0; i < p->n_init; i++) {
		const struct container_run *c = &p->containers[i];
		if (c->state == CONTAINER_TERMINATED && c->exit_code != 0) {
			p->phase = POD_FAILED;
			return;
		}
		if (c->state != CONTAINER_TERMINATED) {
			p->phase = POD_PENDING;
			return;
		}
	}
	size_t waiting = 0, running = 0, failed = 0;
	for (size_t i = p->n_init; i < p->n_containers; i++) {
		const struct container_run *c = &p->containers[i];
		waiting += c->state == CONTAINER_WAITING;
		running += c->state == CONTAINER_RUNNING;
		failed += c->state == CONTAINER_TERMINATED && c->exit_code != 0;
	}
	if (waiting)
		p->phase = POD_PENDING;
	else if (running)
		p->phase = POD_RUNNING;
	else
		p->phase = failed ? POD_FAILED : POD_SUCCEEDED;
}

bool pod_run_finished(const struct pod_run *p)
{
	if (p->phase != POD_SUCCEEDED && p->phase != POD_FAILED)
		return false;
	for (size_t i = 0; i < p->n_containers; i++)
		if (p->containers[i].state == CONTAINER_RUNNING)
			return false;
	return true;
}

size_t pod_run_running(const struct pod_run *p)
{
	size_t n = 0;
	for (size_t i = 0; i < p->n_containers; i++)
		n += p->containers[i].state == CONTAINER_RUNNING;
	return n;
}

/* ---- creation -------------------------------------------------------------------------- */

static int add_containers(struct pod_run *p, const json_t *list, bool init, const char *field,
			  struct field_error *err)
{
	size_t i;
	const json_t *c;
	json_array_foreach (list, i, c) {
		char f[64];
		snprintf(f, sizeof(f), "spec.%s[%zu]", field, i);
		const char *name = json_string_value(json_object_get(c, "name"));
		if (!name || !*name || strlen(name) > 253)
			return field_error_set(err, f, "name is required (at most 253 characters)");
		if (!json_string_value(json_object_get(c, "image")))
			return field_error_set(err, f, "image is required");
		for (size_t k = 0; k < p->n_containers; k++)
			if (!strcmp(p->containers[k].name, name))
				return field_error_set(err, f, "duplicate container name %s", name);
		if (p->n_containers == POD_MAX_CONTAINERS)
			return field_error_set(err, f, "more than %d containers",
					       POD_MAX_CONTAINERS);
		struct container_run *cr = &p->containers[p->n_containers++];
		snprintf(cr->name, sizeof(cr->name), "%s", name);
		cr->init = init;
		cr->state = CONTAINER_WAITING;
		snprintf(cr->reason, sizeof(cr->reason),
			 init ? "PodInitializing" : "ContainerCreating");
		p->n_init += init;
	}
	return 0;
}

void pod_run_free(struct pod_run *p)
{
	if (!p)
		return;
	json_decref(p->pod);
	free(p->containers);
	free(p);
}

int pod_run_new(const struct harness_config *cfg, json_t *pod, struct pod_run **ret,
		struct field_error *err)
{
	struct pod_meta m;
	int r = podspec_meta(pod, &m, err);
	if (r < 0)
		return r;
	struct pod_run *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->pod = json_incref(pod);
	snprintf(p->uid, sizeof(p->uid), "%s", m.uid);
	snprintf(p->namespace, sizeof(p->namespace), "%s", m.namespace);
	snprintf(p->name, sizeof(p->name), "%s", m.name);
	snprintf(p->dir, sizeof(p->dir), "%s/pods/%s", cfg->state_dir, m.uid);
	p->containers = calloc(POD_MAX_CONTAINERS, sizeof(*p->containers));
	const json_t *spec = json_object_get(pod, "spec");
	static const char *const host_namespaces[] = {"hostNetwork", "hostPID", "hostIPC",
						      "hostUsers"};
	if (!p->containers)
		r = -ENOMEM;
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(host_namespaces); i++) {
		const json_t *v = json_object_get(spec, host_namespaces[i]);
		/* hostUsers defaults to true; the others to false. Only the defaults run here. */
		if (v && json_is_true(v) != !strcmp(host_namespaces[i], "hostUsers"))
			r = field_error_set(err, "spec",
					    "%s: %s is not supported by the node harness",
					    host_namespaces[i], json_is_true(v) ? "true" : "false");
	}
	if (r == 0 && !json_array_size(json_object_get(spec, "containers")))
		r = field_error_set(err, "spec.containers", "at least one container is required");
	if (r == 0)
		r = add_containers(p, json_object_get(spec, "initContainers"), true,
				   "initContainers", err);
	if (r == 0)
		r = add_containers(p, json_object_get(spec, "containers"), false, "containers",
				   err);
	if (r == 0)
		r = harness_cgroup_pod_path(cfg->cgroup_driver, podspec_qos_class(pod), m.uid,
					    p->cgroup_pod, sizeof(p->cgroup_pod));
	if (r < 0) {
		pod_run_free(p);
		return r;
	}
	p->net.slot = -1;
	*ret = p;
	return 0;
}

/* ---- volumes --------------------------------------------------------------------------- */

static int write_downward_api(const struct pod_run *p, const char *dir, const json_t *dapi,
			      char *why, size_t why_n)
{
	size_t i;
	const json_t *item;
	json_array_foreach (json_object_get(dapi, "items"), i, item) {
		const char *rel = json_string_value(json_object_get(item, "path"));
		const char *fp = json_string_value(
			json_object_get(json_object_get(item, "fieldRef"), "fieldPath"));
		if (!rel || !*rel || rel[0] == '/' || strstr(rel, "..") || !fp) {
			snprintf(why, why_n,
				 "downwardAPI items[%zu]: a relative path and "
				 "fieldRef.fieldPath are required",
				 i);
			return -EINVAL;
		}
		_cleanup_free_ char *value = NULL;
		int r = podspec_field_value(p->pod, p->has_net ? p->net.pod_ip : NULL, fp, &value);
		if (r == -ENOENT) {
			snprintf(why, why_n, "downwardAPI items[%zu]: unsupported fieldPath %s", i,
				 fp);
			return -EINVAL;
		}
		if (r < 0)
			return r;
		char path[PATH_MAX];
		if (pathf(path, sizeof(path), "%s/%s", dir, rel) < 0)
			return -ENAMETOOLONG;
		char *slash = strrchr(path, '/');
		*slash = '\0';
		if ((r = mkdir_p(path, 0755)) < 0)
			return r;
		*slash = '/';
		_cleanup_close_ int fd =
			open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
		size_t len = strlen(value);
		if (fd < 0 || write(fd, value, len) != (ssize_t)len)
			return -EIO;
	}
	return 0;
}

static int prepare_volumes(struct pod_run *p, char *why, size_t why_n)
{
	size_t i;
	const json_t *v;
	json_array_foreach (json_object_get(json_object_get(p->pod, "spec"), "volumes"), i, v) {
		const char *name = json_string_value(json_object_get(v, "name"));
		if (!name || !*name || strchr(name, '/') || !strcmp(name, "..") ||
		    !strcmp(name, ".")) {
			snprintf(why, why_n, "spec.volumes[%zu]: invalid name", i);
			return -EINVAL;
		}
		const json_t *dapi = json_object_get(v, "downwardAPI");
		if (!dapi && !json_object_get(v, "emptyDir"))
			continue; /* hostPath needs nothing; others fail when a container mounts
				     them */
		char dir[PATH_MAX];
		snprintf(dir, sizeof(dir), "%s/volumes/%s", p->dir, name);
		int r = mkdir_p(dir, 0777);
		if (r < 0)
			return r;
		chmod(dir,
		      dapi ? 0755 : 0777); /* emptyDir is world-writable, as the kubelet makes it */
		if (dapi && (r = write_downward_api(p, dir, dapi, why, why_n)) < 0)
			return r;
	}
	return 0;
}

/* ---- containers ------------------------------------------------------------------------ */

static const json_t *container_json(const struct pod_run *p, const struct container_run *c)
{
	const json_t *spec = json_object_get(p->pod, "spec");
	size_t i;
	const json_t *j;
	json_array_foreach (json_object_get(spec, c->init ? "initContainers" : "containers"), i,
			    j) {
		const char *n = json_string_value(json_object_get(j, "name"));
		if (n && !strcmp(n, c->name))
			return j;
	}
	return NULL;
}

static void set_waiting(struct container_run *c, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_waiting(struct container_run *c, const char *reason, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	c->state = CONTAINER_WAITING;
	snprintf(c->reason, sizeof(c->reason), "%s", reason);
	vsnprintf(c->message, sizeof(c->message), fmt, ap);
	va_end(ap);
}

static void log_tail(const char *path, char *out, size_t n)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	out[0] = '\0';
	if (fd < 0)
		return;
	off_t end = lseek(fd, 0, SEEK_END);
	off_t from = end > (off_t)n - 1 ? end - (off_t)n + 1 : 0;
	ssize_t got = pread(fd, out, n - 1, from);
	out[got > 0 ? got : 0] = '\0';
	for (char *s = out; *s; s++)
		if (*s == '\n')
			*s = ' ';
}

/* Creates the bundle and starts the container: runc create, then runc start. runc create
 * leaves the container's init waiting on its exec fifo inside the cgroup; runc start lets
 * it exec the pod's command. Failures become the container's waiting reason. */
static int start_container(const struct harness_config *cfg, struct pod_run *p,
			   struct container_run *c)
{
	const json_t *cj = container_json(p, c);
	int r = random_id(c->id);
	if (r < 0)
		return r;
	char bundle[PATH_MAX], rootfs[PATH_MAX + 16], logs[PATH_MAX], logfile[PATH_MAX + 300];
	snprintf(bundle, sizeof(bundle), "%s/bundles/%s", p->dir, c->id);
	snprintf(rootfs, sizeof(rootfs), "%s/rootfs", bundle);
	snprintf(logs, sizeof(logs), "%s/logs", p->dir);
	snprintf(logfile, sizeof(logfile), "%s/%s.log", logs, c->name);
	if ((r = mkdir_p(bundle, 0700)) < 0 || (r = mkdir_p(logs, 0755)) < 0)
		return r;

	const char *image = json_string_value(json_object_get(cj, "image"));
	struct image_config ic;
	r = harness_rootfs_build(cfg, image, rootfs, &ic);
	if (r == -ENOENT || r == -EINVAL) {
		char known[512];
		harness_rootfs_known_images(cfg, known, sizeof(known));
		set_waiting(c, "ErrImagePull",
			    "image \"%s\" is not available on this node: the harness provides %s",
			    image, known);
		return 0;
	}
	if (r < 0) {
		set_waiting(c, "ErrImagePull", "building the root filesystem for %s: %s", image,
			    strerror(-r));
		return 0;
	}
	/* /etc/hosts and /etc/hostname as the kubelet writes them for a pod. */
	char etc[PATH_MAX + 32];
	snprintf(etc, sizeof(etc), "%s/etc/hosts", rootfs);
	FILE *f = fopen(etc, "we");
	if (f) {
		fprintf(f,
			"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n%s\t%s\n",
			p->net.pod_ip, p->name);
		fclose(f);
	}
	snprintf(etc, sizeof(etc), "%s/etc/hostname", rootfs);
	if ((f = fopen(etc, "we"))) {
		fprintf(f, "%s\n", p->name);
		fclose(f);
	}

	char cgroups_path[1200], leaf[1100], volumes[PATH_MAX];
	snprintf(volumes, sizeof(volumes), "%s/volumes", p->dir);
	if ((r = harness_cgroup_container_path(cfg->cgroup_driver, p->cgroup_pod, c->id, leaf,
					       sizeof(leaf))) < 0)
		return r;
	if ((r = pathf(cgroups_path, sizeof(cgroups_path), "%s/%s", cfg->cgroup_rel, leaf)) < 0)
		return r;
	struct bundle_request req = {
		.pod = p->pod,
		.container = cj,
		.init = c->init,
		.id = c->id,
		.cgroups_path = cgroups_path,
		.netns_path = p->net.netns_path,
		.pod_ip = p->net.pod_ip,
		.volumes_dir = volumes,
		.image = &ic,
	};
	struct field_error ferr = {0};
	r = bundle_write_config(cfg, &req, bundle, &ferr);
	if (r == -EINVAL) {
		char msg[800];
		set_waiting(c, "CreateContainerConfigError", "%s",
			    field_error_str(&ferr, msg, sizeof(msg)));
		return 0;
	}
	if (r < 0)
		return r;

	_cleanup_close_ int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int log =
		open(logfile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (null < 0 || log < 0)
		return -errno;
	char pidfile[PATH_MAX + 8];
	snprintf(pidfile, sizeof(pidfile), "%s/pid", bundle);
	/* runc create passes its stdio to the container, so the log file is the container's
	 * stdout/stderr, as the kubelet's container log would be. */
	char *argv[] = {"runc",	    "--root", (char *)cfg->runc_root, "create",
			"--bundle", bundle,   "--pid-file",	      pidfile,
			c->id,	    NULL};
	pid_t runc_pid;
	if ((r = harness_spawn(argv, null, log, log, &runc_pid)) < 0)
		return r;
	r = harness_wait(runc_pid);
	c->created = true; /* even a failed create can leave state behind for delete */
	if (r != 0) {
		char tail[600];
		log_tail(logfile, tail, sizeof(tail));
		set_waiting(c, "CreateContainerError", "runc create: %s", tail);
		return 0;
	}
	char pidbuf[32] = "";
	_cleanup_close_ int pfd = open(pidfile, O_RDONLY | O_CLOEXEC);
	if (pfd < 0 || read(pfd, pidbuf, sizeof(pidbuf) - 1) <= 0)
		return -EIO;
	c->pid = (pid_t)atoi(pidbuf);
	save(p); /* the pid is on disk before the process can run and exit */
	_cleanup_buf_ struct buf out = BUF_INIT(4096);
	r = runc(cfg, &out, "start", c->id, NULL, NULL);
	if (r != 0) {
		set_waiting(c, "RunContainerError", "runc start: %s", buf_str(&out));
		return 0;
	}
	c->state = CONTAINER_RUNNING;
	c->reason[0] = c->message[0] = '\0';
	now_rfc3339(c->started_at);
	log_info(2, "container started", "pod", p->name, "container", c->name, "id", c->id, "pid",
		 LOG_INT(c->pid));
	return 0;
}

static int start_regular(const struct harness_config *cfg, struct pod_run *p)
{
	for (size_t i = p->n_init; i < p->n_containers; i++) {
		int r = start_container(cfg, p, &p->containers[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

static int advance(const struct harness_config *cfg, struct pod_run *p)
{
	int r = 0;
	if (p->next_init < p->n_init) {
		struct container_run *c = &p->containers[p->next_init];
		if (c->state == CONTAINER_WAITING && !c->created)
			r = start_container(cfg, p, c);
		else if (c->state == CONTAINER_TERMINATED && c->exit_code == 0) {
			p->next_init++;
			return advance(cfg, p);
		}
	} else if (p->n_init == p->next_init) {
		p->next_init++; /* past the init containers: start the regular ones once */
		r = start_regular(cfg, p);
	}
	update_phase(p);
	save(p);
	return r;
}

int pod_run_start(const struct harness_config *cfg, struct pod_run *p)
{
	int r;
	now_rfc3339(p->start_time);
	if ((r = mkdir_p(p->dir, 0700)) < 0)
		return r;
	save(p);
	if ((r = harness_cgroup_create(cfg, p->cgroup_pod)) < 0)
		return r;
	char why[1024] = "";
	if ((r = podnet_setup(p->uid, &p->net, why, sizeof(why))) < 0) {
		log_error(r, "cannot set up the pod's network", "pod", p->name, "output", why);
		return r;
	}
	p->has_net = true;
	save(p);
	r = prepare_volumes(p, why, sizeof(why));
	if (r == -EINVAL) {
		p->phase = POD_FAILED;
		snprintf(p->reason, sizeof(p->reason), "VolumeError");
		snprintf(p->message, sizeof(p->message), "%s", why);
		save(p);
		return 0;
	}
	if (r < 0)
		return r;
	return advance(cfg, p);
}

/* terminationMessagePolicy: FallbackToLogsOnError puts the log's tail into the status. */
static bool fallback_to_logs(const struct pod_run *p, const struct container_run *c)
{
	const char *policy = json_string_value(
		json_object_get(container_json(p, c), "terminationMessagePolicy"));
	return policy && !strcmp(policy, "FallbackToLogsOnError");
}

static void container_log_tail(const struct pod_run *p, const struct container_run *c, char *out,
			       size_t n)
{
	char path[PATH_MAX];
	out[0] = '\0';
	if (pathf(path, sizeof(path), "%s/logs/%s.log", p->dir, c->name) == 0)
		log_tail(path, out, n);
}

bool pod_run_on_exit(const struct harness_config *cfg, struct pod_run *p, pid_t pid, int wstatus)
{
	for (size_t i = 0; i < p->n_containers; i++) {
		struct container_run *c = &p->containers[i];
		if (c->pid != pid || c->state != CONTAINER_RUNNING)
			continue;
		c->state = CONTAINER_TERMINATED;
		c->exit_code = harness_exit_code(wstatus);
		snprintf(c->reason, sizeof(c->reason), "%s",
			 c->exit_code == 0 ? "Completed" : "Error");
		now_rfc3339(c->finished_at);
		if (c->exit_code != 0 && fallback_to_logs(p, c))
			container_log_tail(p, c, c->message, sizeof(c->message));
		log_info(2, "container exited", "pod", p->name, "container", c->name, "exitCode",
			 LOG_INT(c->exit_code));
		if (!p->torn_down) {
			int r = advance(cfg, p);
			if (r < 0)
				log_error(r, "cannot start the next container", "pod", p->name);
		}
		return true;
	}
	return false;
}

void pod_run_signal(const struct harness_config *cfg, struct pod_run *p, const char *sig)
{
	for (size_t i = 0; i < p->n_containers; i++)
		if (p->containers[i].state == CONTAINER_RUNNING)
			runc(cfg, NULL, "kill", p->containers[i].id, sig, NULL);
}

/* The container's init is our child (we are its subreaper) unless an earlier harness
 * started it; then we can only watch it go. */
static void wait_gone(struct pod_run *p, struct container_run *c, const struct harness_config *cfg)
{
	int wstatus;
	for (int i = 0; i < 100; i++) {
		pid_t r = waitpid(c->pid, &wstatus, WNOHANG);
		if (r == c->pid) {
			pod_run_on_exit(cfg, p, c->pid, wstatus);
			return;
		}
		if (r < 0 && kill(c->pid, 0) < 0)
			break;
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	if (c->state == CONTAINER_RUNNING) {
		c->state = CONTAINER_TERMINATED;
		c->exit_code = 137;
		snprintf(c->reason, sizeof(c->reason), "Error");
		now_rfc3339(c->finished_at);
	}
}

int pod_run_teardown(const struct harness_config *cfg, struct pod_run *p)
{
	p->torn_down = true;
	pod_run_signal(cfg, p, "KILL");
	int ret = 0;
	for (size_t i = 0; i < p->n_containers; i++) {
		struct container_run *c = &p->containers[i];
		if (c->state == CONTAINER_RUNNING)
			wait_gone(p, c, cfg);
		if (c->created) {
			_cleanup_buf_ struct buf out = BUF_INIT(4096);
			int r = runc(cfg, &out, "delete", "--force", c->id, NULL);
			if (r != 0 && !strstr(buf_str(&out), "does not exist")) {
				log_error(-EIO, "runc delete failed", "container", c->id, "output",
					  buf_str(&out));
				ret = -EIO;
			}
		}
	}
	int r = harness_cgroup_remove_tree(cfg, p->cgroup_pod);
	if (r < 0) {
		log_error(r, "cannot remove the pod's cgroup", "cgroup", p->cgroup_pod);
		ret = ret ?: r;
	}
	if (p->has_net && (r = podnet_teardown(&p->net)) < 0) {
		log_error(r, "cannot remove the pod's network", "netns", p->net.netns);
		ret = ret ?: r;
	}
	/* The record stays when something could not be removed, so --cleanup can retry. */
	if (ret == 0 && (r = remove_dir(p->dir)) < 0)
		ret = r;
	update_phase(p);
	return ret;
}

/* ---- status ------------------------------------------------------------------------------ */

static json_t *container_status(const struct container_run *c, const char *image)
{
	json_t *state;
	switch (c->state) {
	case CONTAINER_RUNNING:
		state = json_pack("{s:{s:s}}", "running", "startedAt", c->started_at);
		break;
	case CONTAINER_TERMINATED:
		state = json_pack("{s:{s:i,s:s,s:s,s:s,s:s}}", "terminated", "exitCode",
				  c->exit_code, "reason", c->reason, "startedAt", c->started_at,
				  "finishedAt", c->finished_at, "containerID", "");
		if (state && c->message[0])
			json_object_set_new(json_object_get(state, "terminated"), "message",
					    json_string(c->message));
		if (state) {
			char cid[80];
			snprintf(cid, sizeof(cid), "containerd://%s", c->id);
			json_object_set_new(json_object_get(state, "terminated"), "containerID",
					    json_string(cid));
		}
		break;
	default:
		state = json_pack("{s:{s:s}}", "waiting", "reason", c->reason);
		if (state && c->message[0])
			json_object_set_new(json_object_get(state, "waiting"), "message",
					    json_string(c->message));
		break;
	}
	json_t *s = json_pack(
		"{s:s,s:o,s:b,s:i,s:s,s:s,s:b}", "name", c->name, "state", state, "ready",
		c->state == CONTAINER_RUNNING ||
			(c->init && c->state == CONTAINER_TERMINATED && c->exit_code == 0),
		"restartCount", 0, "image", image ? image : "", "imageID", "", "started",
		c->state == CONTAINER_RUNNING);
	if (s && c->id[0] && c->created) {
		char cid[80];
		snprintf(cid, sizeof(cid), "containerd://%s", c->id);
		json_object_set_new(s, "containerID", json_string(cid));
	}
	return s;
}

static json_t *condition(const char *type, bool ok, const char *ts)
{
	return json_pack("{s:s,s:s,s:s}", "type", type, "status", ok ? "True" : "False",
			 "lastTransitionTime", ts);
}

json_t *pod_run_status(const struct pod_run *p)
{
	static const char *const phases[] = {"Pending", "Running", "Succeeded", "Failed"};
	json_t *st = json_pack("{s:s,s:s}", "phase", phases[p->phase], "qosClass",
			       podspec_qos_class(p->pod));
	if (!st)
		return NULL;
	if (p->start_time[0])
		json_object_set_new(st, "startTime", json_string(p->start_time));
	if (p->has_net) {
		json_object_set_new(st, "podIP", json_string(p->net.pod_ip));
		json_object_set_new(st, "podIPs", json_pack("[{s:s}]", "ip", p->net.pod_ip));
		json_object_set_new(st, "hostIP", json_string(p->net.gateway));
	}
	if (p->reason[0]) {
		json_object_set_new(st, "reason", json_string(p->reason));
		json_object_set_new(st, "message", json_string(p->message));
	}
	json_t *init = json_array(), *regular = json_array();
	bool initialized = true, ready = p->n_containers > p->n_init;
	for (size_t i = 0; i < p->n_containers; i++) {
		const struct container_run *c = &p->containers[i];
		const json_t *cj = container_json(p, c);
		json_array_append_new(
			c->init ? init : regular,
			container_status(c, json_string_value(json_object_get(cj, "image"))));
		if (c->init && !(c->state == CONTAINER_TERMINATED && c->exit_code == 0))
			initialized = false;
		if (!c->init && c->state != CONTAINER_RUNNING)
			ready = false;
	}
	if (json_array_size(init))
		json_object_set_new(st, "initContainerStatuses", init);
	else
		json_decref(init);
	json_object_set_new(st, "containerStatuses", regular);
	const char *ts = p->start_time[0] ? p->start_time : "1970-01-01T00:00:00Z";
	json_object_set_new(st, "conditions",
			    json_pack("[o,o,o,o]", condition("PodScheduled", true, ts),
				      condition("Initialized", initialized, ts),
				      condition("ContainersReady", ready, ts),
				      condition("Ready", ready, ts)));
	return st;
}

/* ---- cleanup and lookup ---------------------------------------------------------------- */

static int cleanup_record(const struct harness_config *cfg, const char *dir)
{
	char path[PATH_MAX];
	if (pathf(path, sizeof(path), "%s/%s", dir, RECORD_FILE) < 0)
		return -ENAMETOOLONG;
	json_error_t jerr;
	json_auto_t *rec = json_load_file(path, 0, &jerr);
	int ret = 0;
	if (rec) {
		size_t i;
		const json_t *c;
		json_array_foreach (json_object_get(rec, "containers"), i, c) {
			const char *id = json_string_value(json_object_get(c, "id"));
			if (!id || !*id)
				continue;
			runc(cfg, NULL, "kill", id, "KILL", NULL);
			runc(cfg, NULL, "delete", "--force", id, NULL);
		}
		const char *cg = json_string_value(json_object_get(rec, "cgroup"));
		const char *uid = json_string_value(json_object_get(rec, "uid"));
		json_int_t slot = json_integer_value(json_object_get(rec, "slot"));
		if (cg && *cg && strstr(cg, "pod")) {
			(void)harness_cgroup_kill(cfg, cg);
			if (harness_cgroup_remove_tree(cfg, cg) < 0)
				ret = -EBUSY;
		}
		if (uid && slot >= 0 && slot < PODNET_SLOTS) {
			struct podnet net;
			podnet_describe(uid, (int)slot, &net);
			if (podnet_teardown(&net) < 0)
				ret = -EIO;
		}
	}
	int r = remove_dir(dir);
	return ret ?: r;
}

int harness_cleanup(const struct harness_config *cfg)
{
	char pods[PATH_MAX];
	snprintf(pods, sizeof(pods), "%s/pods", cfg->state_dir);
	int ret = 0;
	DIR *d = opendir(pods);
	if (d) {
		struct dirent *de;
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			char dir[PATH_MAX];
			if (pathf(dir, sizeof(dir), "%s/%s", pods, de->d_name) < 0)
				continue;
			int r = cleanup_record(cfg, dir);
			if (r < 0) {
				log_error(r, "cannot clean up a pod", "dir", dir);
				ret = ret ?: r;
			}
		}
		closedir(d);
		rmdir(pods);
	}
	/* Containers whose record was lost still show in our private runc root. */
	_cleanup_buf_ struct buf ids = BUF_INIT(64 * 1024);
	if (access(cfg->runc_root, F_OK) == 0 && runc(cfg, &ids, "list", "-q", NULL, NULL) == 0 &&
	    ids.data) {
		char *save = NULL;
		for (char *id = strtok_r(ids.data, "\n", &save); id;
		     id = strtok_r(NULL, "\n", &save))
			if (*id)
				runc(cfg, NULL, "delete", "--force", id, NULL);
	}
	int r = remove_dir(cfg->runc_root);
	ret = ret ?: r;
	r = harness_cgroup_remove_tree(cfg, "");
	if (r < 0) {
		log_error(r, "cannot remove the cgroup tree", "cgroup", cfg->cgroup_root);
		ret = ret ?: r;
	}
	rmdir(cfg->state_dir);
	return ret;
}

int harness_find_pod(const struct harness_config *cfg, const char *ref, json_t **ret)
{
	char ns[254] = "default", name[254];
	const char *slash = strchr(ref, '/');
	if (slash) {
		snprintf(ns, sizeof(ns), "%.*s", (int)(slash - ref), ref);
		snprintf(name, sizeof(name), "%s", slash + 1);
	} else {
		snprintf(name, sizeof(name), "%s", ref);
	}
	char pods[PATH_MAX];
	snprintf(pods, sizeof(pods), "%s/pods", cfg->state_dir);
	DIR *d = opendir(pods);
	if (!d)
		return -ENOENT;
	struct dirent *de;
	int r = -ENOENT;
	while ((de = readdir(d)) && r == -ENOENT) {
		if (de->d_name[0] == '.')
			continue;
		char path[PATH_MAX];
		if (pathf(path, sizeof(path), "%s/%s/%s", pods, de->d_name, RECORD_FILE) < 0)
			continue;
		json_error_t jerr;
		json_t *rec = json_load_file(path, 0, &jerr);
		const char *rns = json_string_value(json_object_get(rec, "namespace"));
		const char *rname = json_string_value(json_object_get(rec, "name"));
		if (rec && (!strcmp(de->d_name, ref) ||
			    (rns && rname && !strcmp(rns, ns) && !strcmp(rname, name)))) {
			*ret = rec;
			r = 0;
		} else {
			json_decref(rec);
		}
	}
	closedir(d);
	return r;
}
