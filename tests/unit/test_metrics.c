/* Prometheus exposition: counters, gauges, histograms, escaping, limits, collectors. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"

static char *render(struct metrics_registry *r)
{
	struct buf b = BUF_INIT(1 << 20);
	assert_int_equal(metrics_render(r, &b), 0);
	return buf_steal(&b);
}

static void counters_and_gauges(void **state)
{
	struct metrics_registry *r = metrics_registry_new();
	const char *const labels[] = {"direction", "verdict", NULL};
	struct metric *c = metrics_register(r, METRIC_COUNTER, "bulwark_bytes_total", "Bytes.",
					    labels, NULL, 0);
	struct metric *g =
		metrics_register(r, METRIC_GAUGE, "bulwark_agents", "Agents.", NULL, NULL, 0);
	assert_non_null(c);
	assert_non_null(g);
	assert_int_equal(metric_add(c, (const char *[]){"egress", "deny"}, 10), 0);
	assert_int_equal(metric_add(c, (const char *[]){"egress", "deny"}, 5), 0);
	assert_int_equal(metric_add(c, (const char *[]){"egress", "allow"}, 1), 0);
	assert_int_equal(metric_add(c, (const char *[]){"egress", "allow"}, -1), -EINVAL);
	assert_int_equal(metric_set(g, NULL, 3), 0);
	assert_int_equal(metric_set(c, (const char *[]){"a", "b"}, 1), -EINVAL);
	assert_true(metric_value(c, (const char *[]){"egress", "deny"}) == 15);

	char *text = render(r);
	assert_non_null(strstr(text,
			       "# HELP bulwark_bytes_total Bytes.\n"
			       "# TYPE bulwark_bytes_total counter\n"
			       "bulwark_bytes_total{direction=\"egress\",verdict=\"allow\"} 1\n"
			       "bulwark_bytes_total{direction=\"egress\",verdict=\"deny\"} 15\n"));
	assert_non_null(strstr(text, "bulwark_agents 3\n"));
	free(text);

	metric_remove(c, (const char *[]){"egress", "deny"});
	text = render(r);
	assert_null(strstr(text, "verdict=\"deny\""));
	free(text);
	metrics_registry_free(r);
}

static void histogram_buckets_are_cumulative(void **state)
{
	struct metrics_registry *r = metrics_registry_new();
	const double buckets[] = {0.1, 1};
	struct metric *h = metrics_register(r, METRIC_HISTOGRAM, "lat_seconds", "Latency.",
					    (const char *[]){"op", NULL}, buckets, 2);
	assert_non_null(h);
	assert_int_equal(metric_observe(h, (const char *[]){"CREATE"}, 0.05), 0);
	assert_int_equal(metric_observe(h, (const char *[]){"CREATE"}, 0.5), 0);
	assert_int_equal(metric_observe(h, (const char *[]){"CREATE"}, 5), 0);
	char *text = render(r);
	assert_non_null(strstr(text, "lat_seconds_bucket{op=\"CREATE\",le=\"0.1\"} 1\n"
				     "lat_seconds_bucket{op=\"CREATE\",le=\"1\"} 2\n"
				     "lat_seconds_bucket{op=\"CREATE\",le=\"+Inf\"} 3\n"
				     "lat_seconds_sum{op=\"CREATE\"} 5.5499999999999998\n"
				     "lat_seconds_count{op=\"CREATE\"} 3\n"));
	free(text);
	metrics_registry_free(r);
}

static void bad_registrations_are_refused(void **state)
{
	struct metrics_registry *r = metrics_registry_new();
	assert_null(metrics_register(r, METRIC_COUNTER, "9bad", "", NULL, NULL, 0));
	assert_null(metrics_register(r, METRIC_COUNTER, "bad-name", "", NULL, NULL, 0));
	assert_null(metrics_register(r, METRIC_COUNTER, "ok", "",
				     (const char *[]){"bad label", NULL}, NULL, 0));
	assert_null(metrics_register(r, METRIC_HISTOGRAM, "h", "", NULL, NULL, 0));
	assert_null(metrics_register(r, METRIC_HISTOGRAM, "h", "", NULL, (double[]){2, 1}, 2));
	assert_non_null(metrics_register(r, METRIC_COUNTER, "dup", "", NULL, NULL, 0));
	assert_null(metrics_register(r, METRIC_COUNTER, "dup", "", NULL, NULL, 0));
	metrics_registry_free(r);
}

static void label_values_are_escaped(void **state)
{
	struct metrics_registry *r = metrics_registry_new();
	struct metric *c = metrics_register(r, METRIC_COUNTER, "c", "line1\nline2 \\",
					    (const char *[]){"pod", NULL}, NULL, 0);
	assert_int_equal(metric_add(c, (const char *[]){"a\"b\\c\nd"}, 1), 0);
	char *text = render(r);
	assert_non_null(strstr(text, "# HELP c line1\\nline2 \\\\\n"));
	assert_non_null(strstr(text, "c{pod=\"a\\\"b\\\\c\\nd\"} 1\n"));
	free(text);
	metrics_registry_free(r);
}

static void series_limit_is_enforced(void **state)
{
	struct metrics_registry *r = metrics_registry_new();
	struct metric *c =
		metrics_register(r, METRIC_COUNTER, "c", "", (const char *[]){"i", NULL}, NULL, 0);
	char v[16];
	int last = 0;
	for (int i = 0; i < 10001; i++) {
		snprintf(v, sizeof(v), "%d", i);
		last = metric_add(c, (const char *[]){v}, 1);
	}
	assert_int_equal(last, -E2BIG);
	char *text = render(r);
	assert_non_null(strstr(text, "bulwark_metrics_series_dropped_total 1\n"));
	free(text);
	metrics_registry_free(r);
}

static int pod_collector(struct buf *out, void *userdata)
{
	int *calls = userdata;
	(*calls)++;
	return metrics_write_header(out, "pod_bytes", "From a map.", "counter")
		       ?: metrics_write_sample(out, "pod_bytes", (const char *[]){"pod", NULL},
					       (const char *[]){"web-1"}, 42);
}

static void collectors_run_at_render(void **state)
{
	struct metrics_registry *r = metrics_registry_new();
	int calls = 0;
	assert_int_equal(metrics_add_collector(r, pod_collector, &calls), 0);
	char *text = render(r);
	assert_int_equal(calls, 1);
	assert_non_null(strstr(text, "# TYPE pod_bytes counter\npod_bytes{pod=\"web-1\"} 42\n"));
	free(text);
	metrics_registry_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(counters_and_gauges),
		cmocka_unit_test(histogram_buckets_are_cumulative),
		cmocka_unit_test(bad_registrations_are_refused),
		cmocka_unit_test(label_values_are_escaped),
		cmocka_unit_test(series_limit_is_enforced),
		cmocka_unit_test(collectors_run_at_render),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
