/* The exec session recorder: BPF loader, session tracker and recording writer glue. */
#include "nodeagent/exec/execrec.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cleanup.h"
#include "nodeagent/exec/execrec_abi.h"
#include "fileio.h"
#include "kube/hashtab.h"
#include "daemon/libbpf_log.h"
#include "log.h"

#include "execrec.skel.h"
#include "recording/cast.h"

#define HOUSEKEEPING_MS 1000
#define PRUNE_EVERY_MS	60000
#define ARGV_MAX_ITEMS	256
/* After the last process exits, the runtime may still be reading what it wrote from the pty
 * master; the session is finished once nothing arrived for this long. */
#define DRAIN_MS 1000

struct session {
	uint64_t sid;
	char id[RECORDING_ID_MAX + 1];
	struct recording *rec;
	struct execrec_identity who;
	json_t *command;
	uint64_t start_ns; /* CLOCK_MONOTONIC, the kernel's */
	uint64_t start_unix_us;
	uint64_t last_ns;
	uint64_t lost_events, lost_bytes, gaps;
	uint64_t cgroup_id, pod_cgroup_id;
	uint32_t movers[2]; /* the runtime processes the kernel watches for this session's pty */
	int exit_status;
	bool tty;
	bool failed;
	bool capture_late_noted;  /* the gap for hooks attached after the first exec is written */
	bool ended;		  /* the kernel said the last process exited */
	uint64_t identity_due_ms; /* CLOCK_MONOTONIC ms: the header waits for its identity
				   * until then; 0: not waiting */
	uint64_t quiet_since_ms;  /* CLOCK_MONOTONIC ms of the END or the last event after it */
	char message[256];
};

struct execrec_recorder {
	struct execrec *skel;
	struct ring_buffer *rb;
	char *dir;
	char *node;
	execrec_resolve_fn resolve;
	void *resolve_userdata;
	struct execrec_sink sink;
	uint64_t max_age_s, max_bytes;
	bool pty_hooks;
	enum execrec_hooks hooks;
	uint64_t hooks_linger_ms;
	/* The syscall hooks while attached (on demand: only while a session is live). */
	struct bpf_link *sys_enter, *sys_exit;
	uint64_t hooks_attached_ns; /* CLOCK_MONOTONIC of the last attach */
	uint64_t last_live_ms;	    /* when a session was last live */
	bool attach_failed;	    /* logged once per failure streak */
	struct hashtab sessions;
	uint64_t last_housekeeping_ms, last_prune_ms;
	struct execrec_stats stats;
	unsigned identity_wait_ms;
	/* execrec_identify()'s messages, from other threads, newest first. */
	pthread_mutex_t identities_lock;
	struct identity_msg *identities;
};

struct identity_msg {
	struct identity_msg *next;
	char id[RECORDING_ID_MAX + 1];
	json_t *identity; /* NULL: none will come */
};

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static bool session_eq(const void *item, const void *key)
{
	return ((const struct session *)item)->sid == *(const uint64_t *)key;
}

static uint64_t sid_hash(uint64_t sid)
{
	return hashtab_hash_ptr((const void *)(uintptr_t)sid);
}

static struct session *session_find(struct execrec_recorder *r, uint64_t sid)
{
	return hashtab_get(&r->sessions, sid_hash(sid), &sid, session_eq);
}

static void session_free(struct session *s)
{
	if (!s)
		return;
	recording_free(s->rec);
	json_decref(s->command);
	free(s);
}

static void fill_info(const struct execrec_recorder *r, const struct session *s,
		      enum execrec_phase phase, const char *digest,
		      struct execrec_session_info *ret)
{
	*ret = (struct execrec_session_info){
		.id = s->id,
		.session_id = s->sid,
		.who = &s->who,
		.node = r->node,
		.command = s->command,
		.tty = s->tty,
		.phase = phase,
		.start_unix_us = s->start_unix_us,
		.end_unix_us = phase == EXECREC_RECORDING
				       ? 0
				       : s->start_unix_us + (s->last_ns - s->start_ns) / 1000,
		.bytes = s->rec ? recording_bytes(s->rec) : 0,
		.lost_events = s->lost_events,
		.lost_bytes = s->lost_bytes,
		.gaps = s->gaps,
		.exit_status = s->exit_status,
		.digest = digest,
		.message = s->message[0] ? s->message : NULL,
	};
}

static uint64_t rel_us(const struct session *s, uint64_t ts_ns)
{
	return ts_ns > s->start_ns ? (ts_ns - s->start_ns) / 1000 : 0;
}

/* A session the tracker has not seen an OPEN for (the event was lost): rebuilt from the
 * kernel's session map. */
static struct session *session_new(struct execrec_recorder *r, uint64_t sid, uint64_t start_ns,
				   uint64_t cgroup_id, uint64_t pod_cgroup_id)
{
	struct session *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->sid = sid;
	s->start_ns = start_ns;
	s->last_ns = start_ns;
	s->start_unix_us = (now_ns(CLOCK_REALTIME) - (now_ns(CLOCK_MONOTONIC) - start_ns)) / 1000;
	s->cgroup_id = cgroup_id;
	s->pod_cgroup_id = pod_cgroup_id;
	s->exit_status = -1;
	char node[41];
	size_t j = 0;
	for (const char *p = r->node; *p && j < sizeof(node) - 1; p++) {
		char c = *p;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		node[j++] = ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) ? c : '-';
	}
	node[j] = '\0';
	snprintf(s->id, sizeof(s->id), "%s-%016llx", j ? node : "node", (unsigned long long)sid);
	struct er_session ks;
	if (bpf_map_lookup_elem(bpf_map__fd(r->skel->maps.sessions), &sid, &ks) == 0) {
		s->movers[0] = ks.mover_tgid;
		s->movers[1] = ks.mover_ppid;
	}
	if (r->resolve && r->resolve(cgroup_id, pod_cgroup_id, &s->who, r->resolve_userdata) < 0)
		memset(&s->who, 0, sizeof(s->who));
	if (hashtab_put(&r->sessions, sid_hash(sid), s) < 0) {
		free(s);
		return NULL;
	}
	r->stats.sessions_open++;
	r->stats.sessions_total++;
	return s;
}

static struct session *session_lookup_or_adopt(struct execrec_recorder *r, uint64_t sid)
{
	struct session *s = session_find(r, sid);
	if (s)
		return s;
	struct er_session ks;
	if (bpf_map_lookup_elem(bpf_map__fd(r->skel->maps.sessions), &sid, &ks) < 0)
		return NULL;
	return session_new(r, sid, ks.start_ns, ks.cgroup_id, ks.pod_cgroup_id);
}

static void session_fail(struct execrec_recorder *r, struct session *s, int err, const char *what)
{
	if (s->failed)
		return;
	s->failed = true;
	r->stats.write_errors++;
	snprintf(s->message, sizeof(s->message), "%s: %s", what, strerror(-err));
	log_error(err, "exec recording failed", "session", s->id, "step", what);
}

/* The recording starts at the first exec (its argv and terminal size make the header) or at
 * the first data, whichever comes first. */
static int session_start_recording(struct execrec_recorder *r, struct session *s, unsigned cols,
				   unsigned rows)
{
	if (s->rec || s->failed)
		return 0;
	json_t *k = json_pack("{s:s,s:s,s:s,s:s,s:O*}", "namespace", s->who.namespace, "pod",
			      s->who.pod, "container", s->who.container, "node", r->node, "command",
			      s->command);
	if (!k)
		return -ENOMEM;
	if (s->who.pod_uid[0])
		json_object_set_new(k, "podUID", json_string(s->who.pod_uid));
	json_t *env = json_pack("{s:s}", "TERM", s->tty ? "xterm" : "dumb");
	struct recording_meta m = {
		.id = s->id,
		.width = cols,
		.height = rows,
		.start_unix_us = s->start_unix_us,
		.kubernetes = k,
		.env = env,
		.defer_header = r->identity_wait_ms > 0,
	};
	int err = recording_open(r->dir, &m, &s->rec);
	json_decref(k);
	json_decref(env);
	if (err < 0) {
		session_fail(r, s, err, "creating the recording files");
		return err;
	}
	if (m.defer_header)
		s->identity_due_ms = now_ns(CLOCK_MONOTONIC) / 1000000 + r->identity_wait_ms;
	json_t *open = json_pack("{s:s,s:I,s:I,s:I}", "type", "open", "session_id",
				 (json_int_t)s->sid, "cgroup_id", (json_int_t)s->cgroup_id,
				 "pod_cgroup_id", (json_int_t)s->pod_cgroup_id);
	if (open) {
		recording_log(s->rec, 0, open);
		json_decref(open);
	}
	if (r->sink.session_started) {
		struct execrec_session_info info;
		fill_info(r, s, EXECREC_RECORDING, NULL, &info);
		r->sink.session_started(&info, r->sink.userdata);
	}
	return 0;
}

/* The runtime processes of a finished session stop being watched unless another open
 * session shares them (one shim serves every exec into its pod). */
static void release_movers(struct execrec_recorder *r, const struct session *done)
{
	for (int i = 0; i < 2; i++) {
		uint32_t tgid = done->movers[i];
		bool shared = false;
		struct session *o;
		for (size_t pos = 0; tgid && !shared && (o = hashtab_next(&r->sessions, &pos));)
			shared = o->movers[0] == tgid || o->movers[1] == tgid;
		if (tgid && !shared &&
		    bpf_map_delete_elem(bpf_map__fd(r->skel->maps.holders), &tgid) == 0)
			__atomic_fetch_sub(&r->skel->bss->holders_count, 1, __ATOMIC_SEQ_CST);
	}
}

static void session_finish(struct execrec_recorder *r, struct session *s, const char *why)
{
	char digest[RECORDING_DIGEST_LEN] = "";
	if (why && !s->message[0])
		snprintf(s->message, sizeof(s->message), "%s", why);
	if (!s->rec && !s->failed)
		session_start_recording(r, s, 0, 0);
	if (s->rec && !s->failed) {
		json_t *sum = json_pack("{s:I,s:I,s:I,s:I,s:i}", "bytes",
					(json_int_t)recording_bytes(s->rec), "lost_events",
					(json_int_t)s->lost_events, "lost_bytes",
					(json_int_t)s->lost_bytes, "gaps", (json_int_t)s->gaps,
					"exit_status", s->exit_status);
		int err = recording_finish(s->rec, sum, digest);
		json_decref(sum);
		if (err < 0)
			session_fail(r, s, err, "finishing the recording");
	}
	if (r->sink.session_finished) {
		struct execrec_session_info info;
		fill_info(r, s, s->failed ? EXECREC_FAILED : EXECREC_COMPLETED,
			  digest[0] ? digest : NULL, &info);
		r->sink.session_finished(&info, r->sink.userdata);
	}
	log_info(2, "exec session finished", "session", s->id, "pod", s->who.pod, "bytes",
		 LOG_INT(s->rec ? recording_bytes(s->rec) : 0), "lost_events",
		 LOG_INT(s->lost_events));
	/* The kernel drops the tty when the runtime closes the master; by then its address may
	 * belong to another session's pty. */
	struct er_session ks;
	uint64_t tty_sid;
	int ttys_fd = bpf_map__fd(r->skel->maps.ttys);
	if (bpf_map_lookup_elem(bpf_map__fd(r->skel->maps.sessions), &s->sid, &ks) == 0 && ks.tty &&
	    bpf_map_lookup_elem(ttys_fd, &ks.tty, &tty_sid) == 0 && tty_sid == s->sid)
		bpf_map_delete_elem(ttys_fd, &ks.tty);
	bpf_map_delete_elem(bpf_map__fd(r->skel->maps.sessions), &s->sid);
	hashtab_remove(&r->sessions, sid_hash(s->sid), &s->sid, session_eq);
	release_movers(r, s);
	r->stats.sessions_open--;
	session_free(s);
}

static json_t *argv_json(const char *data, size_t len, const char **ret_filename)
{
	json_t *argv = json_array();
	size_t fn_len = strnlen(data, len);
	*ret_filename = data;
	size_t i = fn_len + 1;
	while (argv && i < len && json_array_size(argv) < ARGV_MAX_ITEMS) {
		size_t n = strnlen(data + i, len - i);
		json_array_append_new(argv, json_stringn_nocheck(data + i, n));
		i += n + 1;
	}
	/* Arguments are bytes: keep what is UTF-8, replace what is not. */
	for (size_t k = 0; argv && k < json_array_size(argv); k++) {
		json_t *a = json_array_get(argv, k);
		struct buf b = BUF_INIT(ER_ARGS_MAX * 3 + 16);
		struct utf8_carry c = {0};
		if (utf8_sanitize(&c, json_string_value(a), json_string_length(a), true, &b,
				  NULL) == 0)
			json_array_set_new(argv, k, json_stringn(buf_str(&b), b.len));
		buf_free(&b);
	}
	return argv;
}

/* sys_exit first, so that an entry sys_enter records always finds its exit hook. */
static int hooks_attach(struct execrec_recorder *r)
{
	if (r->sys_enter)
		return 0;
	struct bpf_link *x = bpf_program__attach(r->skel->progs.on_sys_exit);
	if (!x)
		return -errno;
	struct bpf_link *e = bpf_program__attach(r->skel->progs.on_sys_enter);
	if (!e) {
		int err = -errno;
		bpf_link__destroy(x);
		return err;
	}
	r->sys_exit = x;
	r->sys_enter = e;
	r->hooks_attached_ns = now_ns(CLOCK_MONOTONIC);
	__atomic_store_n(&r->skel->bss->capture_live, 1, __ATOMIC_SEQ_CST);
	r->stats.hooks_attaches++;
	log_info(4, "exec capture hooks attached");
	return 0;
}

static void hooks_detach(struct execrec_recorder *r)
{
	if (!r->sys_enter)
		return;
	__atomic_store_n(&r->skel->bss->capture_live, 0, __ATOMIC_SEQ_CST);
	/* A session that arrived since the caller looked keeps them (one arriving from here on
	 * sees capture_live 0 at its exec and is marked). */
	if (__atomic_load_n(&r->skel->bss->procs_count, __ATOMIC_SEQ_CST) > 0) {
		__atomic_store_n(&r->skel->bss->capture_live, 1, __ATOMIC_SEQ_CST);
		return;
	}
	bpf_link__destroy(r->sys_enter);
	bpf_link__destroy(r->sys_exit);
	r->sys_enter = r->sys_exit = NULL;
	/* A syscall that entered before the detach and returned after left its entry behind;
	 * nothing will consume it, and a stale one would be taken for a later syscall. */
	int fd = bpf_map__fd(r->skel->maps.io);
	uint32_t key;
	while (bpf_map_get_next_key(fd, NULL, &key) == 0)
		if (bpf_map_delete_elem(fd, &key) == 0)
			__atomic_fetch_sub(&r->skel->bss->io_count, 1, __ATOMIC_SEQ_CST);
		else
			break;
	log_info(4, "exec capture hooks detached");
}

/* On demand: attached while a session is live (the agent's or the kernel's: an OPEN event
 * may have been lost), detached once none was for hooks_linger_ms, so a shell loop of
 * short execs does not attach and detach every time. */
static void hooks_update(struct execrec_recorder *r, bool session_opening)
{
	if (r->hooks != EXECREC_HOOKS_ON_DEMAND)
		return;
	uint64_t now = now_ns(CLOCK_MONOTONIC) / 1000000;
	if (session_opening || r->stats.sessions_open > 0 || r->skel->bss->procs_count > 0) {
		r->last_live_ms = now;
		int err = hooks_attach(r);
		if (err < 0 && !r->attach_failed)
			log_error(err, "attaching the exec capture hooks failed; sessions are "
				       "recorded without terminal I/O until they attach");
		r->attach_failed = err < 0;
		return;
	}
	if (r->sys_enter && now - r->last_live_ms >= r->hooks_linger_ms) {
		hooks_detach(r);
		r->last_live_ms = now; /* kept (a session arrived): wait another linger */
	}
}

/* The session's first exec ran before the syscall hooks were attached (exec_ns: its time):
 * terminal I/O until then may be missing, so the recording says so where the session starts. */
static void note_capture_late(struct execrec_recorder *r, struct session *s, uint64_t exec_ns)
{
	if (s->capture_late_noted)
		return;
	s->capture_late_noted = true;
	r->stats.capture_late_sessions++;
	char reason[256];
	uint64_t delay_us = 0;
	if (r->sys_enter && r->hooks_attached_ns > exec_ns) {
		delay_us = (r->hooks_attached_ns - exec_ns) / 1000;
		snprintf(reason, sizeof(reason),
			 "capture attached %llu us after the session's first exec; terminal I/O "
			 "before that may be missing",
			 (unsigned long long)delay_us);
	} else {
		snprintf(reason, sizeof(reason),
			 "capture was not attached at the session's first exec; terminal I/O "
			 "before it was may be missing");
	}
	s->gaps++;
	log_info(2, "exec session started before its capture was attached", "session", s->id,
		 "delay_us", LOG_INT(delay_us));
	if (s->rec && !s->failed) {
		int err = recording_gap_reason(s->rec, rel_us(s, exec_ns), reason, delay_us);
		if (err < 0)
			session_fail(r, s, err, "writing a gap marker");
	}
}

static void handle_exec(struct execrec_recorder *r, struct session *s, const struct er_event *e,
			const char *data, size_t len)
{
	const char *filename = "";
	char fn[512];
	json_t *argv = len ? argv_json(data, len, &filename) : json_array();
	snprintf(fn, sizeof(fn), "%.*s", (int)strnlen(filename, len), filename);
	if (!s->command && !s->rec) {
		s->command = json_incref(argv);
		s->tty = e->u.exec.has_tty;
		if (session_start_recording(r, s, e->u.exec.cols, e->u.exec.rows) < 0) {
			json_decref(argv);
			return;
		}
	}
	if (e->flags & ER_FLAG_BEFORE_CAPTURE)
		note_capture_late(r, s, e->ts_ns);
	if (s->rec) {
		json_t *ev = json_pack("{s:s,s:i,s:i,s:s,s:o,s:b}", "type", "exec", "pid",
				       (int)e->tgid, "ppid", (int)e->u.exec.ppid, "filename", fn,
				       "argv", json_incref(argv), "argv_truncated",
				       (e->flags & ER_FLAG_ARGS_TRUNCATED) != 0);
		if (ev) {
			int err = recording_log(s->rec, rel_us(s, e->ts_ns), ev);
			if (err < 0)
				session_fail(r, s, err, "writing the event log");
			json_decref(ev);
		}
	}
	json_decref(argv);
}

static int handle_event(void *ctx, void *data, size_t size)
{
	struct execrec_recorder *r = ctx;
	if (size < sizeof(struct er_event))
		return 0;
	const struct er_event *e = data;
	const char *payload = (const char *)data + sizeof(*e);
	size_t len = e->len <= size - sizeof(*e) ? e->len : size - sizeof(*e);

	struct session *s;
	if (e->type == ER_EV_OPEN) {
		/* The session's process is in the runtime's setup now: attach before it execs (and
		 * before resolving its identity, which may take a while). */
		hooks_update(r, true);
		s = session_find(r, e->session_id);
		if (!s)
			s = session_new(r, e->session_id, e->ts_ns, e->u.open.cgroup_id,
					e->u.open.pod_cgroup_id);
		if (s)
			log_info(2, "exec session opened", "session", s->id, "pod", s->who.pod,
				 "container", s->who.container, "pid", LOG_INT(e->tgid));
		return 0;
	}
	s = session_lookup_or_adopt(r, e->session_id);
	if (!s)
		return 0; /* already finished: a late END duplicate */
	if (e->ts_ns > s->last_ns)
		s->last_ns = e->ts_ns;
	if (s->ended)
		s->quiet_since_ms = now_ns(CLOCK_MONOTONIC) / 1000000;
	uint64_t t = rel_us(s, e->ts_ns);

	if (e->type == ER_EV_DATA && !s->rec)
		session_start_recording(r, s, 0, 0);
	if ((e->lost_events || e->lost_bytes) && s->rec && !s->failed) {
		s->lost_events += e->lost_events;
		s->lost_bytes += e->lost_bytes;
		s->gaps++;
		int err = recording_gap(s->rec, t, e->lost_events, e->lost_bytes);
		if (err < 0)
			session_fail(r, s, err, "writing a gap marker");
	}
	int err = 0;
	switch (e->type) {
	case ER_EV_EXEC: handle_exec(r, s, e, payload, len); break;
	case ER_EV_DATA:
		if (s->rec && !s->failed)
			err = recording_data(s->rec, t,
					     e->dir == ER_DIR_INPUT ? RECORDING_INPUT
								    : RECORDING_OUTPUT,
					     payload, len);
		break;
	case ER_EV_RESIZE:
		if (s->rec && !s->failed)
			err = recording_resize(s->rec, t, e->u.resize.cols, e->u.resize.rows);
		break;
	case ER_EV_EXIT:
		if (s->rec && !s->failed) {
			json_t *ev = json_pack("{s:s,s:i,s:i}", "type", "exit", "pid", (int)e->tgid,
					       "status", e->u.exit.status);
			int st = e->u.exit.status;
			if (ev && (st & 0x7f) == 0)
				json_object_set_new(ev, "exit_code",
						    json_integer((st >> 8) & 0xff));
			else if (ev)
				json_object_set_new(ev, "signal", json_integer(st & 0x7f));
			err = ev ? recording_log(s->rec, t, ev) : -ENOMEM;
			json_decref(ev);
		}
		break;
	case ER_EV_END:
		s->exit_status = e->u.end.leader_status;
		if (s->rec && !s->failed) {
			json_t *ev = json_pack("{s:s,s:i,s:I,s:I}", "type", "end", "status",
					       e->u.end.leader_status, "lost_events",
					       (json_int_t)e->u.end.lost_events, "lost_bytes",
					       (json_int_t)e->u.end.lost_bytes);
			if (ev)
				recording_log(s->rec, t, ev);
			json_decref(ev);
		}
		/* The kernel's totals include losses that no later event carried. */
		if (e->u.end.lost_events > s->lost_events || e->u.end.lost_bytes > s->lost_bytes) {
			uint64_t le = e->u.end.lost_events - s->lost_events;
			uint64_t lb = e->u.end.lost_bytes - s->lost_bytes;
			if (s->rec && !s->failed)
				recording_gap(s->rec, t, le, lb);
			s->gaps++;
			s->lost_events = e->u.end.lost_events;
			s->lost_bytes = e->u.end.lost_bytes;
		}
		s->ended = true;
		s->quiet_since_ms = now_ns(CLOCK_MONOTONIC) / 1000000;
		return 0;
	default: break;
	}
	if (err < 0)
		session_fail(r, s, err, "writing the recording");
	return 0;
}

/* Losses the kernel counted that no delivered event carried (the last ones of a session). */
static void account_final_losses(struct execrec_recorder *r, struct session *s)
{
	struct er_session ks;
	if (bpf_map_lookup_elem(bpf_map__fd(r->skel->maps.sessions), &s->sid, &ks) < 0)
		return;
	if (ks.flags & ER_SESSION_EXEC_BEFORE_CAPTURE)
		note_capture_late(r, s, ks.first_exec_ns); /* its EXEC event was lost */
	if (ks.lost_events > s->lost_events || ks.lost_bytes > s->lost_bytes) {
		if (s->rec && !s->failed)
			recording_gap(s->rec, rel_us(s, s->last_ns),
				      ks.lost_events - s->lost_events,
				      ks.lost_bytes - s->lost_bytes);
		s->gaps++;
		s->lost_events = ks.lost_events;
		s->lost_bytes = ks.lost_bytes;
	}
}

static bool awaiting_identity(const struct session *s, uint64_t now_ms)
{
	return s->identity_due_ms && now_ms < s->identity_due_ms && s->rec && !s->failed &&
	       recording_header_pending(s->rec);
}

/* The header goes out with identity (NULL: without); one that is out already gets it as an
 * "identity" line in the event log, so it is under the hash chain either way. */
static void apply_identity(struct execrec_recorder *r, struct session *s, const json_t *identity)
{
	s->identity_due_ms = 0;
	if (!s->rec || s->failed)
		return;
	int err = 0;
	if (recording_header_pending(s->rec)) {
		err = recording_commit_header(s->rec, identity);
	} else if (identity) {
		json_t *ev = json_pack("{s:s,s:O}", "type", "identity", "kubernetes", identity);
		uint64_t t = rel_us(s, s->last_ns);
		err = ev ? recording_log(s->rec, t, ev) : -ENOMEM;
		json_decref(ev);
	}
	if (err < 0)
		session_fail(r, s, err, "writing the recording's header");
}

static struct session *session_by_recording_id(struct execrec_recorder *r, const char *id)
{
	struct session *s;
	for (size_t pos = 0; (s = hashtab_next(&r->sessions, &pos));)
		if (!strcmp(s->id, id))
			return s;
	return NULL;
}

static void take_identities(struct execrec_recorder *r)
{
	pthread_mutex_lock(&r->identities_lock);
	struct identity_msg *m = r->identities, *fifo = NULL;
	r->identities = NULL;
	pthread_mutex_unlock(&r->identities_lock);
	while (m) { /* oldest first */
		struct identity_msg *next = m->next;
		m->next = fifo;
		fifo = m;
		m = next;
	}
	while ((m = fifo)) {
		fifo = m->next;
		struct session *s = session_by_recording_id(r, m->id);
		if (s)
			apply_identity(r, s, m->identity);
		else
			log_info(4, "identity of a finished recording, ignoring", "recording",
				 m->id);
		json_decref(m->identity);
		free(m);
	}
}

/* Headers whose identity did not come in time go out without it. */
static void expire_identity_waits(struct execrec_recorder *r, uint64_t now_ms)
{
	struct session *s;
	for (size_t pos = 0; (s = hashtab_next(&r->sessions, &pos));) {
		if (!s->identity_due_ms || awaiting_identity(s, now_ms))
			continue;
		if (s->rec && !s->failed && recording_header_pending(s->rec)) {
			r->stats.identity_late_sessions++;
			log_warn("exec session's requester not known in time, its recording "
				 "header goes out without",
				 "session", s->id, "waited_ms", LOG_INT(r->identity_wait_ms));
		}
		apply_identity(r, s, NULL);
	}
}

/* Sessions whose END never reached us (ring buffer full) are found in the kernel's map. */
static void sweep_ended(struct execrec_recorder *r)
{
	uint64_t now_ms = now_ns(CLOCK_MONOTONIC) / 1000000;
	struct session *s;
	for (size_t pos = 0; (s = hashtab_next(&r->sessions, &pos));) {
		if (!s->ended || now_ms - s->quiet_since_ms < DRAIN_MS ||
		    awaiting_identity(s, now_ms))
			continue;
		account_final_losses(r, s);
		r->stats.lost_events += s->lost_events;
		r->stats.lost_bytes += s->lost_bytes;
		session_finish(r, s, NULL);
		pos = 0; /* the table changed */
	}

	int fd = bpf_map__fd(r->skel->maps.sessions);
	uint64_t key, next, ended[64];
	size_t n = 0;
	void *prev = NULL;
	while (n < ARRAY_SIZE(ended) && bpf_map_get_next_key(fd, prev, &next) == 0) {
		struct er_session ks;
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &ks) == 0 && (ks.flags & ER_SESSION_ENDED) &&
		    now_ns(CLOCK_MONOTONIC) - ks.end_ns > 1000000000ull)
			ended[n++] = key;
	}
	for (size_t i = 0; i < n; i++) {
		struct er_session ks;
		if (bpf_map_lookup_elem(fd, &ended[i], &ks) < 0)
			continue;
		s = session_lookup_or_adopt(r, ended[i]);
		if (s && s->ended)
			continue; /* draining */
		if (!s) {
			bpf_map_delete_elem(fd, &ended[i]);
			continue;
		}
		s->exit_status = ks.leader_status;
		if (ks.end_ns > s->last_ns)
			s->last_ns = ks.end_ns;
		account_final_losses(r, s);
		r->stats.lost_events += s->lost_events;
		r->stats.lost_bytes += s->lost_bytes;
		session_finish(r, s, "the end of the session was lost; finished from kernel state");
	}
}

static void collect_open_id(const char *id, void *ud)
{
	struct {
		const char **v;
		size_t n, cap;
	} *acc = ud;
	if (acc->n < acc->cap)
		acc->v[acc->n++] = id;
}

static void housekeeping(struct execrec_recorder *r)
{
	uint64_t now = now_ns(CLOCK_MONOTONIC) / 1000000;
	if (now - r->last_housekeeping_ms < HOUSEKEEPING_MS / 4)
		return;
	r->last_housekeeping_ms = now;
	expire_identity_waits(r, now);
	struct session *s;
	for (size_t pos = 0; (s = hashtab_next(&r->sessions, &pos));)
		if (s->rec && !s->failed) {
			int err = recording_flush(s->rec);
			if (err < 0)
				session_fail(r, s, err, "flushing the recording");
		}
	sweep_ended(r);
	if ((r->max_age_s || r->max_bytes) && now - r->last_prune_ms >= PRUNE_EVERY_MS) {
		r->last_prune_ms = now;
		const char *ids[ER_MAX_SESSIONS];
		struct {
			const char **v;
			size_t n, cap;
		} acc = {ids, 0, ARRAY_SIZE(ids)};
		execrec_foreach_open(r, collect_open_id, &acc);
		unsigned deleted = 0;
		int err = recording_prune(r->dir, r->max_age_s, r->max_bytes,
					  now_ns(CLOCK_REALTIME) / 1000000000ull, ids, acc.n,
					  &deleted);
		if (err < 0)
			log_error(err, "pruning recordings failed, ignoring", "dir", r->dir);
		else if (deleted)
			log_info(2, "pruned old recordings", "deleted", LOG_INT(deleted));
	}
}

static int load(struct execrec_recorder *r, size_t ringbuf_bytes, bool pty_hooks)
{
	r->skel = execrec__open();
	if (!r->skel)
		return -errno ? -errno : -ENOMEM;
	int err = bpf_map__set_max_entries(r->skel->maps.events, (uint32_t)ringbuf_bytes);
	if (err < 0)
		return err;
	r->skel->rodata->pty_hooks = pty_hooks;
	/* Session ids start from the wall clock, so they stay unique across restarts. */
	r->skel->data->next_session_id = (now_ns(CLOCK_REALTIME) / 1000000000ull) << 20;
	bpf_program__set_autoload(r->skel->progs.on_pty_write, pty_hooks);
	bpf_program__set_autoload(r->skel->progs.on_pty_resize, pty_hooks);
	/* Attached by hooks_attach(): always, or while a session is live. */
	bpf_program__set_autoattach(r->skel->progs.on_sys_enter, false);
	bpf_program__set_autoattach(r->skel->progs.on_sys_exit, false);
	err = execrec__load(r->skel);
	if (err < 0)
		return err;
	return execrec__attach(r->skel);
}

int execrec_open(const struct execrec_opts *opts, struct execrec_recorder **ret)
{
	size_t rb = opts->ringbuf_bytes ? opts->ringbuf_bytes : ER_RINGBUF_DEFAULT;
	if (rb < 4096 || (rb & (rb - 1)) || !opts->recordings_dir)
		return -EINVAL;
	int err = mkdir_p(opts->recordings_dir, 0700);
	if (err < 0)
		return err;
	/* Recordings are for auditors only, whatever umask made the directory. */
	if (chmod(opts->recordings_dir, 0700) < 0)
		return -errno;
	struct execrec_recorder *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->dir = strdup(opts->recordings_dir);
	r->node = strdup(opts->node_name ? opts->node_name : "");
	r->resolve = opts->resolve;
	r->resolve_userdata = opts->resolve_userdata;
	if (opts->sink)
		r->sink = *opts->sink;
	r->max_age_s = opts->retention_max_age_s;
	r->max_bytes = opts->retention_max_bytes;
	r->hooks = opts->hooks;
	r->hooks_linger_ms =
		opts->hooks_linger_ms ? opts->hooks_linger_ms : EXECREC_HOOKS_LINGER_MS;
	r->sessions = HASHTAB_INIT;
	r->identity_wait_ms = opts->identity_wait_ms;
	pthread_mutex_init(&r->identities_lock, NULL);
	if (!r->dir || !r->node) {
		execrec_free(r);
		return -ENOMEM;
	}
	libbpf_log_route();

	r->pty_hooks = !opts->no_pty_hooks;
	err = r->pty_hooks ? load(r, rb, true) : -EPERM;
	if (err < 0) {
		/* No BPF trampolines here (or not wanted): the tracepoint-only variant. */
		if (r->pty_hooks)
			log_info(4,
				 "fexit on pty_write unavailable, capturing the pty master's "
				 "syscalls instead",
				 "err", strerror(-err));
		execrec__destroy(r->skel);
		r->skel = NULL;
		r->pty_hooks = false;
		err = load(r, rb, false);
	}
	if (err < 0) {
		execrec_free(r);
		return err == -EINVAL || err == -ENOENT ? -EOPNOTSUPP : err;
	}
	r->rb = ring_buffer__new(bpf_map__fd(r->skel->maps.events), handle_event, r, NULL);
	if (!r->rb) {
		err = -errno;
		execrec_free(r);
		return err;
	}
	if (r->hooks == EXECREC_HOOKS_ALWAYS && (err = hooks_attach(r)) < 0) {
		execrec_free(r);
		return err;
	}
	*ret = r;
	return 0;
}

struct execrec_recorder *execrec_free(struct execrec_recorder *r)
{
	if (!r)
		return NULL;
	if (r->rb) {
		ring_buffer__consume(r->rb);
		ring_buffer__free(r->rb);
	}
	struct session *s;
	size_t pos = 0;
	while ((s = hashtab_next(&r->sessions, &pos))) {
		session_finish(r, s, "the recorder stopped before the session ended");
		pos = 0; /* the table changed */
	}
	hashtab_free(&r->sessions);
	while (r->identities) {
		struct identity_msg *m = r->identities;
		r->identities = m->next;
		json_decref(m->identity);
		free(m);
	}
	pthread_mutex_destroy(&r->identities_lock);
	bpf_link__destroy(r->sys_enter);
	bpf_link__destroy(r->sys_exit);
	execrec__destroy(r->skel);
	free(r->dir);
	free(r->node);
	free(r);
	return NULL;
}

int execrec_add_pod(struct execrec_recorder *r, uint64_t pod_cgroup_id)
{
	struct er_pod v = {0};
	if (bpf_map_update_elem(bpf_map__fd(r->skel->maps.pods), &pod_cgroup_id, &v, BPF_ANY) < 0)
		return -errno;
	return 0;
}

int execrec_remove_pod(struct execrec_recorder *r, uint64_t pod_cgroup_id)
{
	if (bpf_map_delete_elem(bpf_map__fd(r->skel->maps.pods), &pod_cgroup_id) < 0)
		return -errno;
	return 0;
}

int execrec_fd(const struct execrec_recorder *r)
{
	return ring_buffer__epoll_fd(r->rb);
}

int execrec_poll(struct execrec_recorder *r, int timeout_ms)
{
	int n = ring_buffer__poll(r->rb, timeout_ms);
	if (n == 0)
		n = ring_buffer__consume(r->rb); /* terminal data does not always wake us */
	if (n < 0 && n != -EINTR)
		return n;
	take_identities(r);
	housekeeping(r);
	hooks_update(r, false);
	return n < 0 ? 0 : n;
}

int execrec_identify(struct execrec_recorder *r, const char *id, const json_t *identity)
{
	if (!id || !recording_id_valid(id) || (identity && !json_is_object(identity)))
		return -EINVAL;
	struct identity_msg *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	snprintf(m->id, sizeof(m->id), "%s", id);
	m->identity = identity ? json_deep_copy(identity) : NULL;
	if (identity && !m->identity) {
		free(m);
		return -ENOMEM;
	}
	pthread_mutex_lock(&r->identities_lock);
	m->next = r->identities;
	r->identities = m;
	pthread_mutex_unlock(&r->identities_lock);
	return 0;
}

bool execrec_uses_pty_hooks(const struct execrec_recorder *r)
{
	return r->pty_hooks;
}

void execrec_get_stats(const struct execrec_recorder *r, struct execrec_stats *ret)
{
	*ret = r->stats;
	ret->hooks_attached = r->sys_enter != NULL;
	ret->sessions_dropped = r->skel->bss->sessions_dropped + r->skel->bss->procs_dropped;
	/* Losses of sessions still open count too. */
	int fd = bpf_map__fd(r->skel->maps.sessions);
	uint64_t key, next;
	void *prev = NULL;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		struct er_session ks;
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &ks) == 0) {
			ret->lost_events += ks.lost_events;
			ret->lost_bytes += ks.lost_bytes;
		}
	}
}

bool execrec_capture_live(const struct execrec_recorder *r)
{
	return __atomic_load_n(&r->skel->bss->capture_live, __ATOMIC_SEQ_CST) != 0;
}

void execrec_foreach_open(const struct execrec_recorder *r, void (*fn)(const char *id, void *ud),
			  void *ud)
{
	struct session *s;
	for (size_t pos = 0; (s = hashtab_next(&r->sessions, &pos));)
		fn(s->id, ud);
}
