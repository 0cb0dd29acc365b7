/* policy_check: lib/policy from scripts (e2e/test_policy_crd.sh), so a test can hold the
 * webhook's semantic validation and the CRD's schema to the same examples.
 *
 *   policy_check validate < OBJECT.json        exit 0, or print "field: reason" and exit 1
 *   policy_check compile POD.json POLICY.json...  the pod's compiled policy on stdout
 *                                                 (canonical JSON; "null" when none selects it)
 *   policy_check bench N POD.json... -- POLICY.json...
 *                                   compiles N pods (cycling through the PODs, renamed
 *                                   pod-0..) without and with a policy_cache, and prints
 *                                   {"pods", "uncached_us", "cached_us", "cache_hits", ...}
 *                                   as one JSON line (bench/policy.sh)
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "canonical.h"
#include "policy/policy.h"

#define POLICY_CHECK_MAX_POLICIES 256

static int usage(void)
{
	fprintf(stderr, "usage: policy_check validate < OBJECT.json\n"
			"       policy_check compile POD.json POLICY.json...\n"
			"       policy_check bench N POD.json... -- POLICY.json...\n");
	return 2;
}

static int validate(void)
{
	json_error_t e;
	json_t *obj = json_loadf(stdin, 0, &e);
	if (!obj) {
		printf("invalid JSON: %s (line %d)\n", e.text, e.line);
		return 1;
	}
	struct field_error err = {0};
	char msg[1024];
	int r = policy_validate(obj, &err);
	json_decref(obj);
	if (r < 0) {
		printf("%s\n", field_error_str(&err, msg, sizeof(msg)));
		return 1;
	}
	return 0;
}

static int compile(int argc, char **argv)
{
	json_t *policies[POLICY_CHECK_MAX_POLICIES];
	size_t n = 0;
	json_error_t e;
	int rc = 1;
	if (argc - 1 > POLICY_CHECK_MAX_POLICIES) {
		fprintf(stderr, "policy_check: at most %d policies\n", POLICY_CHECK_MAX_POLICIES);
		return 2;
	}
	json_t *pod = json_load_file(argv[0], 0, &e);
	if (!pod) {
		fprintf(stderr, "policy_check: %s: %s\n", argv[0], e.text);
		return 1;
	}
	for (int i = 1; i < argc; i++) {
		policies[n] = json_load_file(argv[i], 0, &e);
		if (!policies[n]) {
			fprintf(stderr, "policy_check: %s: %s\n", argv[i], e.text);
			goto out;
		}
		n++;
	}
	json_t *compiled = NULL;
	struct field_error err = {0};
	char msg[1024];
	int r = policy_compile_pod(pod, policies, n, &compiled, &err);
	if (r < 0) {
		fprintf(stderr, "policy_check: %s (%s)\n", field_error_str(&err, msg, sizeof(msg)),
			strerror(-r));
		goto out;
	}
	char *s = compiled ? json_canonical_dump(compiled) : NULL;
	printf("%s\n", s ? s : "null");
	free(s);
	json_decref(compiled);
	rc = 0;
out:
	for (size_t i = 0; i < n; i++)
		json_decref(policies[i]);
	json_decref(pod);
	return rc;
}

static double now_seconds(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Microseconds per compile of n pods, through cache (NULL: none). */
static int time_compiles(struct policy_cache *cache, json_t **pods, size_t n_pods, long n,
			 json_t **policies, size_t n_policies, double *ret_us)
{
	double start = now_seconds();
	for (long i = 0; i < n; i++) {
		json_t *pod = pods[i % (long)n_pods];
		char name[32];
		snprintf(name, sizeof(name), "pod-%ld", i);
		json_object_set_new(json_object_get(pod, "metadata"), "name", json_string(name));
		json_t *out = NULL;
		struct field_error err = {0};
		char msg[1024];
		int r = policy_compile_pod_cached(cache, pod, policies, n_policies, &out, &err);
		if (r < 0) {
			fprintf(stderr, "policy_check: %s\n",
				field_error_str(&err, msg, sizeof(msg)));
			return r;
		}
		json_decref(out);
	}
	*ret_us = (now_seconds() - start) / (double)n * 1e6;
	return 0;
}

static int bench(int argc, char **argv)
{
	long n = strtol(argv[0], NULL, 10);
	json_t *pods[POLICY_CHECK_MAX_POLICIES], *policies[POLICY_CHECK_MAX_POLICIES];
	size_t n_pods = 0, n_policies = 0;
	bool after_dashes = false;
	int rc = 1;
	if (n <= 0 || n > 10000000)
		return usage();
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			after_dashes = true;
			continue;
		}
		json_t **list = after_dashes ? policies : pods;
		size_t *count = after_dashes ? &n_policies : &n_pods;
		if (*count == POLICY_CHECK_MAX_POLICIES)
			goto out;
		json_error_t e;
		list[*count] = json_load_file(argv[i], 0, &e);
		if (!list[*count]) {
			fprintf(stderr, "policy_check: %s: %s\n", argv[i], e.text);
			goto out;
		}
		(*count)++;
	}
	if (n_pods == 0 || n_policies == 0) {
		rc = usage();
		goto out;
	}
	struct policy_cache *cache = NULL;
	double uncached, cached;
	unsigned long hits, misses;
	if (time_compiles(NULL, pods, n_pods, n, policies, n_policies, &uncached) < 0 ||
	    policy_cache_new(1024, &cache) < 0 ||
	    time_compiles(cache, pods, n_pods, n, policies, n_policies, &cached) < 0) {
		policy_cache_free(cache);
		goto out;
	}
	policy_cache_stats(cache, &hits, &misses);
	policy_cache_free(cache);
	printf("{\"pods\":%ld,\"policies\":%zu,\"uncached_us\":%.1f,\"cached_us\":%.1f,"
	       "\"cache_hits\":%lu,\"cache_misses\":%lu}\n",
	       n, n_policies, uncached, cached, hits, misses);
	rc = 0;
out:
	for (size_t i = 0; i < n_pods; i++)
		json_decref(pods[i]);
	for (size_t i = 0; i < n_policies; i++)
		json_decref(policies[i]);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "validate") == 0 && argc == 2)
		return validate();
	if (argc >= 3 && strcmp(argv[1], "compile") == 0)
		return compile(argc - 2, argv + 2);
	if (argc >= 6 && strcmp(argv[1], "bench") == 0)
		return bench(argc - 2, argv + 2);
	return usage();
}
