/* Prometheus metrics (text exposition format 0.0.4) for every Bulwark binary.
 *
 * Counters, gauges and histograms with a fixed set of label names each; a series (one
 * combination of label values) is created on first use. Every operation is thread-safe.
 * Series that would come from kernel maps (per-pod network counters, say) are not copied
 * here: a collector callback appends them when /metrics is rendered, so a scrape always
 * reads the kernel's current numbers and we keep no second copy per pod.
 *
 * Cardinality is bounded: a metric refuses new series past its limit (default 10000) and
 * counts the refusals in bulwark_metrics_series_dropped_total. */
#pragma once

#include <stddef.h>

#include "buf.h"

struct metrics_registry;
struct metric;

enum metric_type {
	METRIC_COUNTER,
	METRIC_GAUGE,
	METRIC_HISTOGRAM,
};

struct metrics_registry *metrics_registry_new(void);
struct metrics_registry *metrics_registry_free(struct metrics_registry *r);

/* Registers a metric. label_names is NULL-terminated (NULL for none); buckets (histograms
 * only) are upper bounds in increasing order, n_buckets of them, +Inf is implicit.
 * NULL on a bad name, a duplicate name or allocation failure. */
struct metric *metrics_register(struct metrics_registry *r, enum metric_type type, const char *name,
				const char *help, const char *const *label_names,
				const double *buckets, size_t n_buckets);

/* label_values has one entry per label name, in order (NULL when the metric has none).
 * Return 0, -E2BIG past the series limit, -ENOMEM, or -EINVAL on a type mismatch. */
int metric_add(struct metric *m, const char *const *label_values, double delta);
int metric_set(struct metric *m, const char *const *label_values, double value);
int metric_observe(struct metric *m, const char *const *label_values, double value);

/* Drops one series, e.g. the gauges of a deleted pod. */
void metric_remove(struct metric *m, const char *const *label_values);

/* The current value of a counter or gauge series (0 if it does not exist): for tests. */
double metric_value(struct metric *m, const char *const *label_values);

/* Appends extra exposition text at render time (see above). Return 0 or negative errno. */
typedef int (*metrics_collector_fn)(struct buf *out, void *userdata);
int metrics_add_collector(struct metrics_registry *r, metrics_collector_fn fn, void *userdata);

/* Renders every metric and collector into out. 0 or negative errno. */
int metrics_render(struct metrics_registry *r, struct buf *out);

/* Exposition helpers for collectors: HELP/TYPE lines, and one sample with escaped labels. */
int metrics_write_header(struct buf *out, const char *name, const char *help, const char *type);
int metrics_write_sample(struct buf *out, const char *name, const char *const *label_names,
			 const char *const *label_values, double value);

/* Default latency buckets in seconds, 100 µs .. 10 s. */
extern const double metrics_latency_buckets[];
extern const size_t metrics_latency_buckets_n;
