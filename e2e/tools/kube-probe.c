/* kube-probe: a small command-line driver of lib/kube for the e2e tests and the benchmark.
 * Every line it prints on stdout is one JSON object, so shell tests can check it with jq.
 *
 *   kube-probe [--kubeconfig PATH] [-v N] COMMAND ...
 *     list RESOURCE [NS]                 one {"ev":"LIST"} line with the item count and names
 *     watch RESOURCE [NS] [SECONDS]      reflector + informer; prints RELIST and event lines,
 *                                        and at exit (SIGTERM, SIGINT or SECONDS) the cache
 *     create-configmaps NS COUNT [SIZE]  creates cm-0..cm-COUNT-1 with data.v = "value-I"
 *     bump NS NAME FROM TO               sets data.n of a ConfigMap to FROM..TO in order by
 *                                        read-modify-write, retrying 409s and outages
 *     verbs NS                           every verb and its error mapping, as CHECK lines
 *     forbidden NS                       a request RBAC denies must be -EPERM
 *     get-loop NS                        a get of each ConfigMap named on stdin
 *     increment NS NAME COUNT            adds 1 to data.n COUNT times, retrying 409s
 *     lease NS NAME IDENTITY             contends for a Lease until SIGTERM; prints LEADING
 *                                        and STOPPED lines
 *     gen-stream COUNT BYTES             prints a watch stream of COUNT ADDED ConfigMaps
 *     parse FILE REPEAT                  benchmark: decodes a recorded watch stream REPEAT
 *                                        times (and, as the baseline, its lines with jansson
 *                                        alone), then caches its objects in an informer
 *
 * RESOURCE is configmaps, pods, namespaces, leases, or GROUP/VERSION/PLURAL (namespaced). */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <malloc.h>

#include "buf.h"
#include "cleanup.h"
#include "cli.h"
#include "log.h"
#include "kube/backoff.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/informer.h"
#include "kube/leader.h"
#include "kube/loop.h"
#include "kube/reflector.h"
#include "kube/watch_stream.h"

static const char usage[] = "Usage: kube-probe [--kubeconfig PATH] [-v N] COMMAND ...\n"
			    "  list RESOURCE [NS]\n"
			    "  watch RESOURCE [NS] [SECONDS]\n"
			    "  create-configmaps NS COUNT [VALUE_BYTES]\n"
			    "  bump NS NAME FROM TO\n"
			    "  increment NS NAME COUNT\n"
			    "  lease NS NAME IDENTITY\n"
			    "  gen-stream COUNT BYTES\n"
			    "  parse FILE REPEAT\n"
			    "Examples:\n"
			    "  kube-probe --kubeconfig kc watch configmaps e2e-x 30\n"
			    "  kube-probe lease default bulwark-controller pod-a\n";

static struct kube_resource custom_res;

static int parse_resource(const char *s, const struct kube_resource **ret)
{
	static const struct {
		const char *name;
		const struct kube_resource *res;
	} known[] = {{"configmaps", &KUBE_RES_CONFIGMAPS},
		     {"pods", &KUBE_RES_PODS},
		     {"namespaces", &KUBE_RES_NAMESPACES},
		     {"nodes", &KUBE_RES_NODES},
		     {"leases", &KUBE_RES_LEASES}};
	for (size_t i = 0; i < ARRAY_SIZE(known); i++)
		if (strcmp(s, known[i].name) == 0) {
			*ret = known[i].res;
			return 0;
		}
	char *g = strdup(s), *v, *p;
	if (!g || !(v = strchr(g, '/')) || !(p = strchr(v + 1, '/'))) {
		free(g);
		return -EINVAL;
	}
	*v++ = '\0';
	*p++ = '\0';
	custom_res = (struct kube_resource){.group = g, .version = v, .plural = p, .namespaced = 1};
	*ret = &custom_res;
	return 0;
}

static void emit(json_t *line)
{
	char *s = json_dumps(line, JSON_COMPACT | JSON_SORT_KEYS);
	if (s) {
		puts(s);
		fflush(stdout);
	}
	free(s);
	json_decref(line);
}

static uint64_t mono_ms(void)
{
	return kube_loop_now_ms();
}

/* ---- watch ------------------------------------------------------------------------------- */

static json_t *summary(const json_t *obj)
{
	const json_t *md = json_object_get(obj, "metadata");
	json_t *o = json_pack("{s:O?,s:O?}", "name", json_object_get(md, "name"), "rv",
			      json_object_get(md, "resourceVersion"));
	const json_t *data = json_object_get(obj, "data");
	if (o && json_is_object(data)) {
		if (json_object_get(data, "n"))
			json_object_set(o, "n", json_object_get(data, "n"));
		if (json_object_get(data, "v"))
			json_object_set(o, "v", json_object_get(data, "v"));
	}
	return o;
}

static void on_replace(json_t *items, const char *rv, void *userdata)
{
	json_t *list = json_array();
	size_t i;
	json_t *it;
	json_array_foreach (items, i, it)
		json_array_append_new(list, summary(it));
	emit(json_pack("{s:s,s:s,s:I,s:o}", "ev", "RELIST", "rv", rv, "count",
		       (json_int_t)json_array_size(items), "items", list));
}

static void on_event(enum kube_event_type type, json_t *obj, void *userdata)
{
	json_t *o = summary(obj);
	if (!o)
		return;
	json_object_set_new(o, "ev", json_string(kube_event_type_name(type)));
	emit(o);
}

struct stopper {
	struct kube_loop *loop;
	sigset_t set;
};

static void *signal_thread(void *arg)
{
	struct stopper *s = arg;
	int sig;
	sigwait(&s->set, &sig);
	kube_loop_stop(s->loop);
	return NULL;
}

static void stop_loop(void *userdata)
{
	kube_loop_stop(userdata);
}

static int cmd_watch(struct kube_client *c, const struct kube_resource *res, const char *ns,
		     unsigned seconds)
{
	struct kube_loop *loop = NULL;
	struct kube_informer *inf = kube_informer_new(res->plural);
	struct kube_reflector *r = NULL;
	int e = kube_loop_new(&loop);
	if (e < 0 || !inf)
		return e < 0 ? e : -ENOMEM;
	struct kube_reflector_options o = {
		.resource = res,
		.namespace = ns,
		.informer = inf,
		.callbacks = {.on_replace = on_replace, .on_event = on_event},
		/* Short watches so a test also sees normal ends and resumes. */
		.watch_timeout_min_s = getenv("PROBE_WATCH_TIMEOUT")
					       ? (unsigned)atoi(getenv("PROBE_WATCH_TIMEOUT"))
					       : 0,
		.backoff_base_ms = 200,
		.backoff_cap_ms = 2000,
	};
	o.watch_timeout_max_s = o.watch_timeout_min_s;
	e = kube_reflector_new(loop, c, &o, &r);
	if (e < 0)
		goto out;
	struct stopper st = {.loop = loop};
	sigemptyset(&st.set);
	sigaddset(&st.set, SIGTERM);
	sigaddset(&st.set, SIGINT);
	pthread_t t;
	pthread_create(&t, NULL, signal_thread, &st);
	pthread_detach(t);
	if (seconds)
		kube_loop_timer_add(loop, (uint64_t)seconds * 1000, stop_loop, loop);
	kube_reflector_start(r);
	e = kube_loop_run(loop);

	struct kube_reflector_stats s;
	kube_reflector_get_stats(r, &s);
	json_t *items = NULL, *cache = json_array();
	if (kube_informer_list(inf, &items) == 0) {
		size_t i;
		json_t *it;
		json_array_foreach (items, i, it)
			json_array_append_new(cache, summary(it));
	}
	json_decref(items);
	emit(json_pack("{s:s,s:I,s:o}", "ev", "CACHE", "count",
		       (json_int_t)kube_informer_count(inf), "items", cache));
	emit(json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:s,s:b}", "ev", "STATS", "lists",
		       (json_int_t)s.lists, "watches", (json_int_t)s.watches, "events",
		       (json_int_t)s.events, "gone", (json_int_t)s.gone, "errors",
		       (json_int_t)s.errors, "skipped", (json_int_t)s.skipped, "rv",
		       s.resource_version, "synced", kube_informer_synced(inf)));
out:
	kube_reflector_free(r);
	kube_loop_free(loop);
	kube_informer_free(inf);
	return e;
}

/* ---- writers ----------------------------------------------------------------------------- */

static int cmd_list(struct kube_client *c, const struct kube_resource *res, const char *ns)
{
	json_t *items = NULL;
	_cleanup_free_ char *rv = NULL;
	struct kube_status st;
	int e = kube_list(c, res, ns, NULL, &items, &rv, &st);
	if (e < 0) {
		fprintf(stderr, "list: %s (%s)\n", st.message, strerror(-e));
		return e;
	}
	json_t *names = json_array();
	size_t i;
	json_t *it;
	json_array_foreach (items, i, it)
		json_array_append_new(names, summary(it));
	emit(json_pack("{s:s,s:s,s:I,s:o}", "ev", "LIST", "rv", rv ? rv : "", "count",
		       (json_int_t)json_array_size(items), "items", names));
	json_decref(items);
	return 0;
}

static int cmd_create_configmaps(struct kube_client *c, const char *ns, long count, long size)
{
	char *pad = calloc(1, (size_t)size + 1);
	if (!pad)
		return -ENOMEM;
	memset(pad, 'x', (size_t)size);
	for (long i = 0; i < count; i++) {
		char name[64], val[64];
		snprintf(name, sizeof(name), "cm-%ld", i);
		snprintf(val, sizeof(val), "value-%ld", i);
		json_t *obj = json_pack("{s:s,s:s,s:{s:s},s:{s:s,s:s}}", "apiVersion", "v1", "kind",
					"ConfigMap", "metadata", "name", name, "data", "v", val,
					"pad", pad);
		struct kube_status st;
		int e = kube_create(c, &KUBE_RES_CONFIGMAPS, ns, obj, NULL, &st);
		json_decref(obj);
		if (e < 0 && e != -EEXIST) {
			fprintf(stderr, "create %s: %s (%s)\n", name, st.message, strerror(-e));
			free(pad);
			return e;
		}
	}
	free(pad);
	emit(json_pack("{s:s,s:I}", "ev", "CREATED", "count", (json_int_t)count));
	return 0;
}

/* Sets data.n = value by read-modify-write: a 409 means someone else wrote in between, so
 * read again and re-apply; an outage is retried with backoff. */
static int set_counter(struct kube_client *c, const char *ns, const char *name, long value,
		       unsigned long *conflicts)
{
	struct backoff b = BACKOFF_INIT(100, 2000, BACKOFF_DECORRELATED);
	char want[32];
	snprintf(want, sizeof(want), "%ld", value);
	for (int attempt = 0; attempt < 1000; attempt++) {
		struct kube_status st;
		json_t *cur = NULL;
		int e = kube_get(c, &KUBE_RES_CONFIGMAPS, ns, name, &cur, &st);
		if (e == -ENOENT) {
			json_t *obj =
				json_pack("{s:s,s:s,s:{s:s},s:{s:s}}", "apiVersion", "v1", "kind",
					  "ConfigMap", "metadata", "name", name, "data", "n", want);
			e = kube_create(c, &KUBE_RES_CONFIGMAPS, ns, obj, NULL, &st);
			json_decref(obj);
			if (e == 0)
				return 0;
		} else if (e == 0) {
			const char *have = json_string_value(
				json_object_get(json_object_get(cur, "data"), "n"));
			/* An earlier attempt whose response was lost may have succeeded. */
			if (have && strcmp(have, want) == 0) {
				json_decref(cur);
				return 0;
			}
			json_t *data = json_object_get(cur, "data");
			if (!json_is_object(data)) {
				data = json_object();
				json_object_set_new(cur, "data", data);
			}
			json_object_set_new(data, "n", json_string(want));
			e = kube_update(c, &KUBE_RES_CONFIGMAPS, ns, cur, NULL, &st);
			json_decref(cur);
			if (e == 0)
				return 0;
		}
		if (e == -ESTALE || e == -EEXIST) {
			(*conflicts)++;
			continue;
		}
		if (!kube_errno_is_transient(e) && e != -EKEYREJECTED)
			return e;
		usleep((useconds_t)backoff_next_ms(&b, NULL, NULL) * 1000);
	}
	return -ETIMEDOUT;
}

static int cmd_bump(struct kube_client *c, const char *ns, const char *name, long from, long to)
{
	unsigned long conflicts = 0;
	for (long v = from; v <= to; v++) {
		int e = set_counter(c, ns, name, v, &conflicts);
		if (e < 0) {
			fprintf(stderr, "bump %s to %ld: %s\n", name, v, strerror(-e));
			return e;
		}
	}
	emit(json_pack("{s:s,s:I,s:I}", "ev", "BUMPED", "to", (json_int_t)to, "conflicts",
		       (json_int_t)conflicts));
	return 0;
}

/* Read-modify-write increments of data.n by one, COUNT times: with several of these running
 * at once, the final value is the sum only if every 409 was retried. */
static int cmd_increment(struct kube_client *c, const char *ns, const char *name, long count)
{
	unsigned long conflicts = 0;
	for (long i = 0; i < count; i++) {
		for (;;) {
			struct kube_status st;
			json_t *cur = NULL;
			int e = kube_get(c, &KUBE_RES_CONFIGMAPS, ns, name, &cur, &st);
			if (e < 0)
				return e;
			json_t *data = json_object_get(cur, "data");
			const char *have = json_string_value(json_object_get(data, "n"));
			char next[32];
			snprintf(next, sizeof(next), "%ld", (have ? atol(have) : 0) + 1);
			json_object_set_new(data, "n", json_string(next));
			e = kube_update(c, &KUBE_RES_CONFIGMAPS, ns, cur, NULL, &st);
			json_decref(cur);
			if (e == 0)
				break;
			if (e != -ESTALE) {
				fprintf(stderr, "update: %s (%s)\n", st.message, strerror(-e));
				return e;
			}
			conflicts++;
		}
	}
	emit(json_pack("{s:s,s:I}", "ev", "INCREMENTED", "conflicts", (json_int_t)conflicts));
	return 0;
}

/* ---- every verb, with the errno each failure must map to ---------------------------------- */

/* Prints one CHECK line per expectation; returns the number that failed. */
static int check(const char *what, int got, int want, const struct kube_status *st)
{
	/* The status is only meaningful when the call failed. */
	if (got == 0)
		st = NULL;
	emit(json_pack("{s:s,s:s,s:b,s:i,s:i,s:i,s:s,s:s}", "ev", "CHECK", "what", what, "ok",
		       got == want, "errno", -got, "want_errno", -want, "code", st ? st->code : 0,
		       "reason", st ? st->reason : "", "message", st ? st->message : ""));
	return got != want;
}

static int cmd_verbs(struct kube_client *c, const char *ns)
{
	struct kube_status st = {0};
	json_t *obj = NULL, *got = NULL;
	int failed = 0;

	json_t *cm = json_pack("{s:s,s:s,s:{s:s,s:{s:s}},s:{s:s}}", "apiVersion", "v1", "kind",
			       "ConfigMap", "metadata", "name", "verbs", "labels", "app", "probe",
			       "data", "a", "1");
	failed += check("create", kube_create(c, &KUBE_RES_CONFIGMAPS, ns, cm, &obj, &st), 0, &st);
	failed += check("create again is -EEXIST",
			kube_create(c, &KUBE_RES_CONFIGMAPS, ns, cm, NULL, &st), -EEXIST, &st);
	failed += check("get", kube_get(c, &KUBE_RES_CONFIGMAPS, ns, "verbs", &got, &st), 0, &st);
	failed += check("get returns what create returned", json_equal(obj, got) ? 0 : -EBADMSG, 0,
			NULL);
	json_decref(got);
	got = NULL;
	failed += check("get of a missing name is -ENOENT",
			kube_get(c, &KUBE_RES_CONFIGMAPS, ns, "nope", NULL, &st), -ENOENT, &st);

	/* Optimistic concurrency: a merge patch moves the resourceVersion on, so an update
	 * carrying the old one is refused. */
	json_t *patch = json_pack("{s:{s:s}}", "data", "b", "2");
	failed += check("merge patch",
			kube_patch_merge(c, &KUBE_RES_CONFIGMAPS, ns, "verbs", patch, &got, &st), 0,
			&st);
	json_t *merged = json_pack("{s:s,s:s}", "a", "1", "b", "2");
	failed += check("merge patch merged",
			json_equal(json_object_get(got, "data"), merged) ? 0 : -EBADMSG, 0, NULL);
	json_decref(merged);
	json_decref(got);
	got = NULL;
	json_object_set_new(json_object_get(obj, "data"), "c", json_string("3"));
	failed += check("update with a stale resourceVersion is -ESTALE",
			kube_update(c, &KUBE_RES_CONFIGMAPS, ns, obj, NULL, &st), -ESTALE, &st);
	failed += check("stale update reports reason Conflict",
			strcmp(st.reason, "Conflict") == 0 ? 0 : -EBADMSG, 0, NULL);
	json_decref(obj);
	obj = NULL;
	kube_get(c, &KUBE_RES_CONFIGMAPS, ns, "verbs", &obj, &st);
	json_object_set_new(json_object_get(obj, "data"), "c", json_string("3"));
	failed += check("update with the current resourceVersion",
			kube_update(c, &KUBE_RES_CONFIGMAPS, ns, obj, NULL, &st), 0, &st);
	json_t *norv = json_deep_copy(obj);
	json_object_del(json_object_get(norv, "metadata"), "resourceVersion");
	failed += check("update without a resourceVersion is refused locally",
			kube_update(c, &KUBE_RES_CONFIGMAPS, ns, norv, NULL, &st), -EINVAL, NULL);
	json_decref(norv);

	/* Server-side apply: two managers; a conflicting field needs force. */
	json_t *intent = json_pack("{s:s,s:s,s:{s:s},s:{s:s}}", "apiVersion", "v1", "kind",
				   "ConfigMap", "metadata", "name", "verbs", "data", "d", "4");
	failed += check(
		"apply as manager one",
		kube_apply(c, &KUBE_RES_CONFIGMAPS, ns, intent, "probe-one", false, NULL, &st), 0,
		&st);
	json_object_set_new(json_object_get(intent, "data"), "d", json_string("5"));
	failed += check(
		"apply of a field another manager owns is -ESTALE without force",
		kube_apply(c, &KUBE_RES_CONFIGMAPS, ns, intent, "probe-two", false, NULL, &st),
		-ESTALE, &st);
	failed +=
		check("apply with force takes the field",
		      kube_apply(c, &KUBE_RES_CONFIGMAPS, ns, intent, "probe-two", true, &got, &st),
		      0, &st);
	const char *d = json_string_value(json_object_get(json_object_get(got, "data"), "d"));
	failed += check("applied value stored", d && !strcmp(d, "5") ? 0 : -EBADMSG, 0, NULL);
	json_decref(got);
	got = NULL;
	json_decref(intent);

	/* 422 names the field. */
	json_t *bad = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
				"metadata", "name", "Not_A_DNS_Name");
	failed += check("an invalid name is -EINVAL (422)",
			kube_create(c, &KUBE_RES_CONFIGMAPS, ns, bad, NULL, &st), -EINVAL, &st);
	failed += check("422 message names metadata.name",
			strstr(st.message, "metadata.name") ? 0 : -EBADMSG, 0, NULL);
	json_decref(bad);

	/* The status subresource, on a Pod (nothing schedules it here). */
	json_t *pod = json_pack("{s:s,s:s,s:{s:s},s:{s:[{s:s,s:s}]}}", "apiVersion", "v1", "kind",
				"Pod", "metadata", "name", "verbs-pod", "spec", "containers",
				"name", "c", "image", "busybox");
	json_t *created = NULL;
	failed +=
		check("create pod", kube_create(c, &KUBE_RES_PODS, ns, pod, &created, &st), 0, &st);
	json_decref(pod);
	if (created) {
		json_t *status = json_object_get(created, "status");
		if (!json_is_object(status)) {
			status = json_object();
			json_object_set_new(created, "status", status);
		}
		json_object_set_new(status, "message", json_string("set by kube-probe"));
		json_object_set_new(json_object_get(created, "spec"), "activeDeadlineSeconds",
				    json_integer(5));
		failed += check("update_status",
				kube_update_status(c, &KUBE_RES_PODS, ns, created, &got, &st), 0,
				&st);
		const char *m = json_string_value(
			json_object_get(json_object_get(got, "status"), "message"));
		failed += check("status changed",
				m && !strcmp(m, "set by kube-probe") ? 0 : -EBADMSG, 0, NULL);
		failed +=
			check("update_status ignores spec changes",
			      json_object_get(json_object_get(got, "spec"), "activeDeadlineSeconds")
				      ? -EBADMSG
				      : 0,
			      0, NULL);
		json_decref(got);
		got = NULL;
		json_decref(created);
	}

	/* Paged list with a selector: 7 labelled objects in pages of 2. */
	for (int i = 0; i < 7; i++) {
		char name[32];
		snprintf(name, sizeof(name), "page-%d", i);
		json_t *o =
			json_pack("{s:s,s:s,s:{s:s,s:{s:s}}}", "apiVersion", "v1", "kind",
				  "ConfigMap", "metadata", "name", name, "labels", "set", "paged");
		kube_create(c, &KUBE_RES_CONFIGMAPS, ns, o, NULL, &st);
		json_decref(o);
	}
	json_t *items = NULL;
	char *rv = NULL;
	struct kube_list_options lo = {.label_selector = "set=paged", .page_size = 2};
	failed += check("paged list with a label selector",
			kube_list(c, &KUBE_RES_CONFIGMAPS, ns, &lo, &items, &rv, &st), 0, &st);
	failed += check("7 items over 4 pages, and a resourceVersion",
			json_array_size(items) == 7 && rv && rv[0] ? 0 : -EBADMSG, 0, NULL);
	json_decref(items);
	free(rv);
	struct kube_list_options fo = {.field_selector = "metadata.name=page-3"};
	items = NULL;
	rv = NULL;
	failed += check("list with a field selector",
			kube_list(c, &KUBE_RES_CONFIGMAPS, ns, &fo, &items, &rv, &st), 0, &st);
	failed += check("field selector picks one", json_array_size(items) == 1 ? 0 : -EBADMSG, 0,
			NULL);
	json_decref(items);
	free(rv);

	/* Deletes with preconditions. */
	json_decref(obj);
	obj = NULL;
	kube_get(c, &KUBE_RES_CONFIGMAPS, ns, "verbs", &obj, &st);
	struct kube_delete_options wrong = {.uid = "00000000-0000-0000-0000-000000000000"};
	failed +=
		check("delete with a wrong uid precondition is -ESTALE",
		      kube_delete(c, &KUBE_RES_CONFIGMAPS, ns, "verbs", &wrong, &st), -ESTALE, &st);
	struct kube_delete_options right = {
		.uid = json_string_value(json_object_get(json_object_get(obj, "metadata"), "uid")),
		.resource_version = json_string_value(
			json_object_get(json_object_get(obj, "metadata"), "resourceVersion")),
	};
	failed += check("delete with matching uid and resourceVersion",
			kube_delete(c, &KUBE_RES_CONFIGMAPS, ns, "verbs", &right, &st), 0, &st);
	failed += check("delete again is -ENOENT",
			kube_delete(c, &KUBE_RES_CONFIGMAPS, ns, "verbs", NULL, &st), -ENOENT, &st);
	json_decref(obj);
	json_decref(cm);
	json_decref(patch);
	emit(json_pack("{s:s,s:i}", "ev", "VERBS", "failed", failed));
	return failed ? -EPROTO : 0;
}

/* As a user RBAC does not allow anything: 403 must map to -EPERM. */
static int cmd_forbidden(struct kube_client *c, const char *ns)
{
	struct kube_status st = {0};
	int failed = check("get as an unprivileged user is -EPERM",
			   kube_get(c, &KUBE_RES_CONFIGMAPS, ns, "x", NULL, &st), -EPERM, &st);
	emit(json_pack("{s:s,s:i}", "ev", "FORBIDDEN", "failed", failed));
	return failed ? -EPROTO : 0;
}

/* For each line "NAME" on stdin, a get of ConfigMap NAME, so a test can change credentials
 * between requests of one long-lived client. */
static int cmd_get_loop(struct kube_client *c, const char *ns)
{
	char line[256];
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = '\0';
		if (!line[0])
			continue;
		struct kube_status st = {0};
		int e = kube_get(c, &KUBE_RES_CONFIGMAPS, ns, line, NULL, &st);
		emit(json_pack("{s:s,s:s,s:i,s:i}", "ev", "GET", "name", line, "errno", -e, "code",
			       e ? st.code : 200));
	}
	return 0;
}

/* ---- lease ------------------------------------------------------------------------------- */

static const char *lease_identity;

static void on_started(void *userdata)
{
	emit(json_pack("{s:s,s:s,s:I}", "ev", "LEADING", "id", lease_identity, "t_ms",
		       (json_int_t)mono_ms()));
}

static void on_stopped(void *userdata)
{
	emit(json_pack("{s:s,s:s,s:I}", "ev", "STOPPED", "id", lease_identity, "t_ms",
		       (json_int_t)mono_ms()));
}

static void on_new_leader(const char *id, void *userdata)
{
	emit(json_pack("{s:s,s:s,s:I}", "ev", "HOLDER", "id", id ? id : "", "t_ms",
		       (json_int_t)mono_ms()));
}

static int cmd_lease(struct kube_client *c, const char *ns, const char *name, const char *id)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	lease_identity = id;
	struct kube_leader_options o = {
		.namespace = ns,
		.name = name,
		.identity = id,
		.on_started_leading = on_started,
		.on_stopped_leading = on_stopped,
		.on_new_leader = on_new_leader,
	};
	struct kube_leader *l = NULL;
	int e = kube_leader_start(c, &o, &l);
	if (e < 0)
		return e;
	int sig;
	sigwait(&set, &sig);
	kube_leader_stop(l);
	emit(json_pack("{s:s,s:s}", "ev", "RELEASED", "id", id));
	return 0;
}

/* ---- benchmark helpers (no apiserver needed) --------------------------------------------- */

static int cmd_gen_stream(long count, long size)
{
	char *pad = calloc(1, (size_t)size + 1);
	if (!pad)
		return -ENOMEM;
	for (long i = 0; i < size; i++)
		pad[i] = (char)('a' + i % 26);
	for (long i = 0; i < count; i++) {
		char name[32], rv[32], uid[64];
		snprintf(name, sizeof(name), "cm-%ld", i);
		snprintf(rv, sizeof(rv), "%ld", 1000 + i);
		snprintf(uid, sizeof(uid), "6f1c2a7e-2b1d-4c55-9a0e-%012ld", i);
		json_t *ev = json_pack(
			"{s:s,s:{s:s,s:s,s:{s:s,s:s,s:s,s:s,s:s,s:{s:s,s:s},s:[{s:s,s:s,s:s,"
			"s:s,s:s}]},s:{s:s,s:s}}}",
			"type", "ADDED", "object", "kind", "ConfigMap", "apiVersion", "v1",
			"metadata", "name", name, "namespace", "bench", "uid", uid,
			"resourceVersion", rv, "creationTimestamp", "2026-11-21T11:00:00Z",
			"labels", "app", "web", "tier", "frontend", "managedFields", "manager",
			"kube-probe", "operation", "Update", "apiVersion", "v1", "time",
			"2026-11-21T11:00:00Z", "fieldsType", "FieldsV1", "data", "v", name, "pad",
			pad);
		char *s = json_dumps(ev, JSON_COMPACT);
		json_decref(ev);
		if (!s) {
			free(pad);
			return -ENOMEM;
		}
		puts(s);
		free(s);
	}
	free(pad);
	return 0;
}

static int count_event(enum kube_event_type type, json_t *obj, void *userdata)
{
	(*(unsigned long *)userdata)++;
	return 0;
}

struct collect {
	struct kube_informer *inf;
	size_t json_bytes;
};

static int cache_event(enum kube_event_type type, json_t *obj, void *userdata)
{
	struct collect *c = userdata;
	c->json_bytes += json_dumpb(obj, NULL, 0, JSON_COMPACT);
	/* A private copy, so the cache holds objects allocated the way a watch allocates them. */
	json_t *copy = json_deep_copy(obj);
	int r = copy ? kube_informer_apply(c->inf, type, copy) : -ENOMEM;
	json_decref(copy);
	return r;
}

static size_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}

static int cmd_parse(const char *path, long repeat)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	struct buf data = BUF_INIT(1u << 30);
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_append(&data, chunk, n) < 0) {
			fclose(f);
			buf_free(&data);
			return -EFBIG;
		}
	fclose(f);

	/* The stream parser, fed in 16 KiB chunks as a TLS read would deliver them. */
	unsigned long events = 0;
	uint64_t t0 = mono_ms();
	for (long r = 0; r < repeat; r++) {
		struct kube_watch_stream ws;
		kube_watch_stream_init(&ws, 0, count_event, &events);
		for (size_t off = 0; off < data.len; off += 16384)
			kube_watch_stream_feed(&ws, data.data + off,
					       data.len - off < 16384 ? data.len - off : 16384);
		kube_watch_stream_free(&ws);
	}
	uint64_t t1 = mono_ms();
	/* Baseline: jansson alone on each line, already split, no framing or validation. */
	unsigned long lines = 0;
	for (long r = 0; r < repeat; r++) {
		const char *p = data.data, *end = data.data + data.len;
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
			json_t *j = json_loadb(p, len, 0, NULL);
			lines += j != NULL;
			json_decref(j);
			p += len + 1;
		}
	}
	uint64_t t2 = mono_ms();

	/* Memory: the cache's heap per object against the objects' compact JSON size. */
	struct collect col = {.inf = kube_informer_new("bench")};
	size_t before = heap_in_use();
	struct kube_watch_stream ws;
	kube_watch_stream_init(&ws, 0, cache_event, &col);
	kube_watch_stream_feed(&ws, data.data, data.len);
	kube_watch_stream_free(&ws);
	size_t after = heap_in_use();
	size_t objects = kube_informer_count(col.inf);
	size_t overhead = kube_informer_overhead_bytes(col.inf);
	double secs_parser = (double)(t1 - t0) / 1000, secs_base = (double)(t2 - t1) / 1000;
	emit(json_pack("{s:s,s:I,s:I,s:f,s:f,s:I,s:I,s:I,s:I}", "ev", "PARSE", "bytes",
		       (json_int_t)data.len, "events", (json_int_t)events, "events_per_sec",
		       secs_parser > 0 ? events / secs_parser : 0.0, "baseline_lines_per_sec",
		       secs_base > 0 ? lines / secs_base : 0.0, "cache_objects",
		       (json_int_t)objects, "cache_heap_bytes", (json_int_t)(after - before),
		       "cache_index_bytes", (json_int_t)overhead, "json_bytes",
		       (json_int_t)col.json_bytes));
	kube_informer_free(col.inf);
	buf_free(&data);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_OPTIONS,
		{"kubeconfig", required_argument, NULL, 'k'},
		{},
	};
	const char *kubeconfig = NULL;
	int opt;
	while ((opt = getopt_long(argc, argv, "+" CLI_COMMON_SHORT "k:", longopts, NULL)) != -1) {
		if (opt == 'k') {
			kubeconfig = optarg;
			continue;
		}
		int r = cli_common_option(opt, optarg, "kube-probe", usage);
		if (r == 0)
			return 0;
		if (r < 0)
			return cli_usage_error("kube-probe", "bad option");
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		return cli_usage_error("kube-probe", "missing command");

	/* Signals go to the thread that waits for them. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	if (!strcmp(argv[0], "gen-stream") && argc == 3)
		return cmd_gen_stream(atol(argv[1]), atol(argv[2])) < 0;
	if (!strcmp(argv[0], "parse") && argc == 3) {
		int r = cmd_parse(argv[1], atol(argv[2]));
		if (r < 0)
			log_error(r, "parse failed", "file", argv[1]);
		return r < 0;
	}

	struct field_error ferr = {0};
	struct kube_config *cfg = NULL;
	int e = kube_config_load_default(kubeconfig, NULL, &cfg, &ferr);
	if (e < 0) {
		char msg[800];
		log_error(e, "loading kubeconfig failed", "error",
			  field_error_str(&ferr, msg, sizeof(msg)));
		return 1;
	}
	struct kube_client *c = NULL;
	if ((e = kube_client_new(cfg, NULL, &c)) < 0) {
		log_error(e, "creating client failed");
		return 1;
	}
	const char *cmd = argv[0];
	const struct kube_resource *res = NULL;
	if (!strcmp(cmd, "list") && argc >= 2 && parse_resource(argv[1], &res) == 0)
		e = cmd_list(c, res, argc > 2 ? argv[2] : NULL);
	else if (!strcmp(cmd, "watch") && argc >= 2 && parse_resource(argv[1], &res) == 0)
		e = cmd_watch(c, res, argc > 2 && argv[2][0] ? argv[2] : NULL,
			      argc > 3 ? (unsigned)atoi(argv[3]) : 0);
	else if (!strcmp(cmd, "create-configmaps") && argc >= 3)
		e = cmd_create_configmaps(c, argv[1], atol(argv[2]), argc > 3 ? atol(argv[3]) : 0);
	else if (!strcmp(cmd, "bump") && argc == 5)
		e = cmd_bump(c, argv[1], argv[2], atol(argv[3]), atol(argv[4]));
	else if (!strcmp(cmd, "increment") && argc == 4)
		e = cmd_increment(c, argv[1], argv[2], atol(argv[3]));
	else if (!strcmp(cmd, "verbs") && argc == 2)
		e = cmd_verbs(c, argv[1]);
	else if (!strcmp(cmd, "get-loop") && argc == 2)
		e = cmd_get_loop(c, argv[1]);
	else if (!strcmp(cmd, "forbidden") && argc == 2)
		e = cmd_forbidden(c, argv[1]);
	else if (!strcmp(cmd, "lease") && argc == 4)
		e = cmd_lease(c, argv[1], argv[2], argv[3]);
	else
		return cli_usage_error("kube-probe", "bad command line");
	if (e < 0)
		log_error(e, "command failed", "command", cmd);
	kube_client_free(c);
	kube_config_free(cfg);
	return e < 0 ? 1 : 0;
}
