#include "metrics.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"

#define METRIC_SERIES_LIMIT 10000
#define METRIC_LABELS_MAX   8

const double metrics_latency_buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
					  0.01,	  0.025,   0.05,   0.1,	  0.25,	  0.5,
					  1,	  2.5,	   5,	   10};
const size_t metrics_latency_buckets_n = ARRAY_SIZE(metrics_latency_buckets);

struct series {
	char *key; /* label values joined by '\x1f': the sort and lookup key */
	char **label_values;
	double value;			   /* counter/gauge value, or the histogram's sum */
	unsigned long long count;	   /* histograms: observations */
	unsigned long long *bucket_counts; /* histograms: cumulative per bucket */
};

struct metric {
	struct metrics_registry *registry;
	enum metric_type type;
	char *name, *help;
	char *label_names[METRIC_LABELS_MAX];
	size_t n_labels;
	double *buckets;
	size_t n_buckets;
	struct series **series; /* sorted by key */
	size_t n_series, alloc_series;
};

struct collector {
	metrics_collector_fn fn;
	void *userdata;
};

struct metrics_registry {
	pthread_mutex_t lock;
	struct metric **metrics;
	size_t n_metrics;
	struct collector *collectors;
	size_t n_collectors;
	unsigned long long dropped;
};

struct metrics_registry *metrics_registry_new(void)
{
	struct metrics_registry *r = calloc(1, sizeof(*r));
	if (r)
		pthread_mutex_init(&r->lock, NULL);
	return r;
}

static void series_free(struct series *s, size_t n_labels)
{
	if (!s)
		return;
	for (size_t i = 0; i < n_labels; i++)
		free(s->label_values[i]);
	free(s->label_values);
	free(s->bucket_counts);
	free(s->key);
	free(s);
}

static void metric_free(struct metric *m)
{
	for (size_t i = 0; i < m->n_series; i++)
		series_free(m->series[i], m->n_labels);
	for (size_t i = 0; i < m->n_labels; i++)
		free(m->label_names[i]);
	free(m->series);
	free(m->buckets);
	free(m->name);
	free(m->help);
	free(m);
}

struct metrics_registry *metrics_registry_free(struct metrics_registry *r)
{
	if (!r)
		return NULL;
	for (size_t i = 0; i < r->n_metrics; i++)
		metric_free(r->metrics[i]);
	free(r->metrics);
	free(r->collectors);
	pthread_mutex_destroy(&r->lock);
	free(r);
	return NULL;
}

/* Prometheus metric and label names: [a-zA-Z_:][a-zA-Z0-9_:]*. */
static bool valid_name(const char *s)
{
	if (!s || !*s || (*s >= '0' && *s <= '9'))
		return false;
	for (const char *p = s; *p; p++) {
		bool alpha = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z');
		if (!alpha && !(*p >= '0' && *p <= '9') && *p != '_' && *p != ':')
			return false;
	}
	return true;
}

struct metric *metrics_register(struct metrics_registry *r, enum metric_type type, const char *name,
				const char *help, const char *const *label_names,
				const double *buckets, size_t n_buckets)
{
	if (!valid_name(name) || (type == METRIC_HISTOGRAM) != (n_buckets > 0))
		return NULL;
	for (size_t i = 1; i < n_buckets; i++)
		if (!(buckets[i] > buckets[i - 1]))
			return NULL;

	struct metric *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->registry = r;
	m->type = type;
	m->name = strdup(name);
	m->help = strdup(help ? help : "");
	if (!m->name || !m->help)
		goto fail;
	for (; label_names && label_names[m->n_labels]; m->n_labels++) {
		if (m->n_labels == METRIC_LABELS_MAX || !valid_name(label_names[m->n_labels]))
			goto fail;
		m->label_names[m->n_labels] = strdup(label_names[m->n_labels]);
		if (!m->label_names[m->n_labels])
			goto fail;
	}
	if (n_buckets) {
		m->buckets = malloc(n_buckets * sizeof(double));
		if (!m->buckets)
			goto fail;
		memcpy(m->buckets, buckets, n_buckets * sizeof(double));
		m->n_buckets = n_buckets;
	}

	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < r->n_metrics; i++)
		if (strcmp(r->metrics[i]->name, name) == 0) {
			pthread_mutex_unlock(&r->lock);
			goto fail;
		}
	struct metric **grown = realloc(r->metrics, (r->n_metrics + 1) * sizeof(*grown));
	if (!grown) {
		pthread_mutex_unlock(&r->lock);
		goto fail;
	}
	r->metrics = grown;
	r->metrics[r->n_metrics++] = m;
	pthread_mutex_unlock(&r->lock);
	return m;
fail:
	metric_free(m);
	return NULL;
}

static char *series_key(const struct metric *m, const char *const *values)
{
	struct buf b = BUF_INIT(64 * 1024);
	for (size_t i = 0; i < m->n_labels; i++)
		if (buf_append_str(&b, values[i] ? values[i] : "") < 0 ||
		    buf_append(&b, "\x1f", 1) < 0) {
			buf_free(&b);
			return NULL;
		}
	return buf_steal(&b);
}

/* Binary search; *ret_pos is where the key is or would be inserted. */
static struct series *series_find(struct metric *m, const char *key, size_t *ret_pos)
{
	size_t lo = 0, hi = m->n_series;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(m->series[mid]->key, key);
		if (c == 0) {
			*ret_pos = mid;
			return m->series[mid];
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*ret_pos = lo;
	return NULL;
}

/* Called with the registry lock held. */
static int series_get(struct metric *m, const char *const *values, struct series **ret)
{
	_cleanup_free_ char *key = series_key(m, values);
	if (!key)
		return -ENOMEM;
	size_t pos;
	struct series *s = series_find(m, key, &pos);
	if (s) {
		*ret = s;
		return 0;
	}
	if (m->n_series >= METRIC_SERIES_LIMIT) {
		m->registry->dropped++;
		return -E2BIG;
	}
	if (m->n_series == m->alloc_series) {
		size_t alloc = m->alloc_series ? m->alloc_series * 2 : 8;
		struct series **grown = realloc(m->series, alloc * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		m->series = grown;
		m->alloc_series = alloc;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->label_values = calloc(m->n_labels + 1, sizeof(char *));
	if (!s->label_values)
		goto fail;
	for (size_t i = 0; i < m->n_labels; i++)
		if (!(s->label_values[i] = strdup(values[i] ? values[i] : "")))
			goto fail;
	if (m->n_buckets && !(s->bucket_counts = calloc(m->n_buckets, sizeof(unsigned long long))))
		goto fail;
	s->key = TAKE_PTR(key);
	memmove(m->series + pos + 1, m->series + pos, (m->n_series - pos) * sizeof(*m->series));
	m->series[pos] = s;
	m->n_series++;
	*ret = s;
	return 0;
fail:
	series_free(s, m->n_labels);
	return -ENOMEM;
}

static int metric_update(struct metric *m, const char *const *values, double v, int op)
{
	struct series *s;
	pthread_mutex_lock(&m->registry->lock);
	int r = series_get(m, values, &s);
	if (r == 0) {
		if (op == METRIC_HISTOGRAM) {
			for (size_t i = 0; i < m->n_buckets; i++)
				if (v <= m->buckets[i])
					s->bucket_counts[i]++;
			s->count++;
			s->value += v;
		} else if (op == METRIC_GAUGE) {
			s->value = v;
		} else {
			s->value += v;
		}
	}
	pthread_mutex_unlock(&m->registry->lock);
	return r;
}

int metric_add(struct metric *m, const char *const *label_values, double delta)
{
	if (m->type == METRIC_HISTOGRAM || (m->type == METRIC_COUNTER && delta < 0))
		return -EINVAL;
	return metric_update(m, label_values, delta, METRIC_COUNTER);
}

int metric_set(struct metric *m, const char *const *label_values, double value)
{
	if (m->type != METRIC_GAUGE)
		return -EINVAL;
	return metric_update(m, label_values, value, METRIC_GAUGE);
}

int metric_observe(struct metric *m, const char *const *label_values, double value)
{
	if (m->type != METRIC_HISTOGRAM)
		return -EINVAL;
	return metric_update(m, label_values, value, METRIC_HISTOGRAM);
}

void metric_remove(struct metric *m, const char *const *label_values)
{
	_cleanup_free_ char *key = series_key(m, label_values);
	if (!key)
		return;
	pthread_mutex_lock(&m->registry->lock);
	size_t pos;
	struct series *s = series_find(m, key, &pos);
	if (s) {
		memmove(m->series + pos, m->series + pos + 1,
			(m->n_series - pos - 1) * sizeof(*m->series));
		m->n_series--;
		series_free(s, m->n_labels);
	}
	pthread_mutex_unlock(&m->registry->lock);
}

double metric_value(struct metric *m, const char *const *label_values)
{
	_cleanup_free_ char *key = series_key(m, label_values);
	double v = 0;
	if (!key)
		return 0;
	pthread_mutex_lock(&m->registry->lock);
	size_t pos;
	struct series *s = series_find(m, key, &pos);
	if (s)
		v = s->value;
	pthread_mutex_unlock(&m->registry->lock);
	return v;
}

int metrics_add_collector(struct metrics_registry *r, metrics_collector_fn fn, void *userdata)
{
	pthread_mutex_lock(&r->lock);
	struct collector *grown = realloc(r->collectors, (r->n_collectors + 1) * sizeof(*grown));
	if (!grown) {
		pthread_mutex_unlock(&r->lock);
		return -ENOMEM;
	}
	r->collectors = grown;
	r->collectors[r->n_collectors++] = (struct collector){fn, userdata};
	pthread_mutex_unlock(&r->lock);
	return 0;
}

static int write_number(struct buf *out, double v)
{
	if (isinf(v))
		return buf_append_str(out, v > 0 ? "+Inf" : "-Inf");
	if (isnan(v))
		return buf_append_str(out, "NaN");
	if (v == floor(v) && fabs(v) < 1e15)
		return buf_printf(out, "%.0f", v);
	return buf_printf(out, "%.17g", v);
}

static int write_label_value(struct buf *out, const char *v)
{
	int r = 0;
	for (const char *p = v; *p && r == 0; p++) {
		if (*p == '\\')
			r = buf_append_str(out, "\\\\");
		else if (*p == '"')
			r = buf_append_str(out, "\\\"");
		else if (*p == '\n')
			r = buf_append_str(out, "\\n");
		else
			r = buf_append(out, p, 1);
	}
	return r;
}

int metrics_write_header(struct buf *out, const char *name, const char *help, const char *type)
{
	int r = buf_printf(out, "# HELP %s ", name);
	/* HELP text escapes only backslash and newline. */
	for (const char *p = help; *p && r == 0; p++)
		r = *p == '\\'	 ? buf_append_str(out, "\\\\")
		    : *p == '\n' ? buf_append_str(out, "\\n")
				 : buf_append(out, p, 1);
	return r ?: buf_printf(out, "\n# TYPE %s %s\n", name, type);
}

/* One sample line; extra_name/extra_value add the histogram's "le" label. */
static int write_sample(struct buf *out, const char *name, const char *suffix, char *const *names,
			const char *const *values, size_t n, const char *extra_name,
			const char *extra_value, double value)
{
	int r = buf_printf(out, "%s%s", name, suffix);
	if (r == 0 && (n || extra_name)) {
		r = buf_append_str(out, "{");
		for (size_t i = 0; i < n && r == 0; i++) {
			r = buf_printf(out, "%s%s=\"", i ? "," : "", names[i]);
			r = r ?: write_label_value(out, values[i] ? values[i] : "");
			r = r ?: buf_append_str(out, "\"");
		}
		if (r == 0 && extra_name)
			r = buf_printf(out, "%s%s=\"%s\"", n ? "," : "", extra_name, extra_value);
		r = r ?: buf_append_str(out, "}");
	}
	r = r ?: buf_append_str(out, " ");
	r = r ?: write_number(out, value);
	return r ?: buf_append_str(out, "\n");
}

int metrics_write_sample(struct buf *out, const char *name, const char *const *label_names,
			 const char *const *label_values, double value)
{
	size_t n = 0;
	while (label_names && label_names[n])
		n++;
	return write_sample(out, name, "", (char *const *)label_names, label_values, n, NULL, NULL,
			    value);
}

static int render_metric(struct buf *out, const struct metric *m)
{
	static const char *const type_names[] = {"counter", "gauge", "histogram"};
	int r = metrics_write_header(out, m->name, m->help, type_names[m->type]);
	for (size_t i = 0; i < m->n_series && r == 0; i++) {
		const struct series *s = m->series[i];
		const char *const *values = (const char *const *)s->label_values;
		if (m->type != METRIC_HISTOGRAM) {
			r = write_sample(out, m->name, "", m->label_names, values, m->n_labels,
					 NULL, NULL, s->value);
			continue;
		}
		for (size_t b = 0; b < m->n_buckets && r == 0; b++) {
			char le[32];
			snprintf(le, sizeof(le), "%g", m->buckets[b]);
			r = write_sample(out, m->name, "_bucket", m->label_names, values,
					 m->n_labels, "le", le, (double)s->bucket_counts[b]);
		}
		r = r
			    ?: write_sample(out, m->name, "_bucket", m->label_names, values,
					    m->n_labels, "le", "+Inf", (double)s->count);
		r = r
			    ?: write_sample(out, m->name, "_sum", m->label_names, values,
					    m->n_labels, NULL, NULL, s->value);
		r = r
			    ?: write_sample(out, m->name, "_count", m->label_names, values,
					    m->n_labels, NULL, NULL, (double)s->count);
	}
	return r;
}

int metrics_render(struct metrics_registry *r, struct buf *out)
{
	int ret = 0;
	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < r->n_metrics && ret == 0; i++)
		ret = render_metric(out, r->metrics[i]);
	if (ret == 0) {
		ret = metrics_write_header(
			out, "bulwark_metrics_series_dropped_total",
			"Series refused because a metric reached its series limit.", "counter");
		ret = ret
			      ?: buf_printf(out, "bulwark_metrics_series_dropped_total %llu\n",
					    r->dropped);
	}
	/* Collectors run outside the lock: they read kernel maps and may be slow. */
	size_t n = r->n_collectors;
	struct collector *copy = n ? malloc(n * sizeof(*copy)) : NULL;
	if (copy)
		memcpy(copy, r->collectors, n * sizeof(*copy));
	pthread_mutex_unlock(&r->lock);
	if (n && !copy)
		return -ENOMEM;
	for (size_t i = 0; i < n && ret == 0; i++)
		ret = copy[i].fn(out, copy[i].userdata);
	free(copy);
	return ret;
}
