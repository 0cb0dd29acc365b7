/* webhook_load: a closed-loop HTTPS load generator for bench/webhook.sh. N connections (kept
 * alive) each POST the same body again as soon as the previous answer arrived, for a duration,
 * on one thread with libcurl's multi interface. Prints one JSON line:
 *   {"requests", "errors", "seconds", "rps", "p50_us", "p99_us", "p999_us", "max_us"}
 * with client-side latencies (request sent to answer read, loopback and TLS included).
 *
 *   webhook_load --url URL --cacert FILE --body FILE [--connections N] [--seconds S]
 *                [--warmup S] [--expect TEXT] [--rate R]
 * --rate R paces the connections to R requests per second in total (each connection sends at
 * most every N/R s), for latency below saturation; without it the loop is closed (saturation).
 * An answer counts as an error unless it is HTTP 200 and contains TEXT (when given). */
#include <errno.h>
#include <stdbool.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "buf.h"
#include "fileio.h"

#define MAX_CONNECTIONS 256
#define MAX_SAMPLES	(16u << 20)

struct conn {
	CURL *h;
	struct buf answer;
	double next_send; /* with --rate: when this connection may send again */
	bool parked;	  /* done, waiting for next_send */
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static size_t collect(char *data, size_t size, size_t n, void *ud)
{
	struct buf *b = ud;
	return buf_append(b, data, size * n) == 0 ? size * n : 0;
}

static int compare_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return (x > y) - (x < y);
}

static long quantile(const long *sorted, size_t n, double q)
{
	if (n == 0)
		return 0;
	size_t i = (size_t)(q * (double)(n - 1) + 0.5);
	return sorted[i < n ? i : n - 1];
}

int main(int argc, char **argv)
{
	const char *url = NULL, *cacert = NULL, *body_file = NULL, *expect = NULL;
	long connections = 8;
	double seconds = 10, warmup = 1, rate = 0;
	static const struct option options[] = {
		{"url", required_argument, NULL, 'u'},
		{"cacert", required_argument, NULL, 'c'},
		{"body", required_argument, NULL, 'b'},
		{"connections", required_argument, NULL, 'n'},
		{"seconds", required_argument, NULL, 's'},
		{"warmup", required_argument, NULL, 'w'},
		{"expect", required_argument, NULL, 'e'},
		{"rate", required_argument, NULL, 'r'},
		{0},
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'u': url = optarg; break;
		case 'c': cacert = optarg; break;
		case 'b': body_file = optarg; break;
		case 'n': connections = strtol(optarg, NULL, 10); break;
		case 's': seconds = strtod(optarg, NULL); break;
		case 'w': warmup = strtod(optarg, NULL); break;
		case 'e': expect = optarg; break;
		case 'r': rate = strtod(optarg, NULL); break;
		default: return 2;
		}
	}
	if (!url || !body_file || connections < 1 || connections > MAX_CONNECTIONS ||
	    seconds <= 0) {
		fprintf(stderr,
			"usage: webhook_load --url URL [--cacert FILE] --body FILE "
			"[--connections 1..%d] [--seconds S] [--warmup S] [--expect TEXT]\n",
			MAX_CONNECTIONS);
		return 2;
	}
	struct buf body = BUF_INIT(16u << 20);
	if (read_file_capped(body_file, &body) < 0) {
		fprintf(stderr, "cannot read %s\n", body_file);
		return 1;
	}

	curl_global_init(CURL_GLOBAL_DEFAULT);
	CURLM *multi = curl_multi_init();
	struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
	static struct conn conns[MAX_CONNECTIONS];
	for (long i = 0; i < connections; i++) {
		struct conn *c = &conns[i];
		c->answer = BUF_INIT(16u << 20);
		c->h = curl_easy_init();
		curl_easy_setopt(c->h, CURLOPT_URL, url);
		curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, headers);
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, buf_str(&body));
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len);
		curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, collect);
		curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &c->answer);
		curl_easy_setopt(c->h, CURLOPT_PRIVATE, c);
		curl_easy_setopt(c->h, CURLOPT_TIMEOUT, 10L);
		if (cacert)
			curl_easy_setopt(c->h, CURLOPT_CAINFO, cacert);
		c->parked = true; /* added by the loop at its next_send */
	}

	long *samples = malloc(MAX_SAMPLES * sizeof(*samples));
	if (!samples)
		return 1;
	size_t n_samples = 0;
	unsigned long requests = 0, errors = 0;
	double start = now_s(), measure_from = start + warmup, end = measure_from + seconds;
	/* Paced connections start spread over one interval, not all at once. */
	for (long i = 0; i < connections; i++)
		conns[i].next_send = start + (rate > 0 ? (double)i / rate : 0);
	for (;;) {
		int running;
		curl_multi_perform(multi, &running);
		CURLMsg *msg;
		int left;
		double t = now_s();
		while ((msg = curl_multi_info_read(multi, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			struct conn *c;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
			long code = 0;
			curl_off_t us = 0;
			curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &code);
			curl_easy_getinfo(c->h, CURLINFO_TOTAL_TIME_T, &us);
			bool ok = msg->data.result == CURLE_OK && code == 200 &&
				  (!expect || strstr(buf_str(&c->answer), expect));
			if (t >= measure_from && t < end) {
				requests++;
				errors += !ok;
				if (ok && n_samples < MAX_SAMPLES)
					samples[n_samples++] = (long)us;
			}
			buf_reset(&c->answer);
			curl_multi_remove_handle(multi, c->h);
			c->parked = true;
			if (rate > 0)
				c->next_send += (double)connections / rate;
		}
		if (t >= end)
			break;
		/* Re-adding the same handle reuses its connection. */
		int wait_ms = 100;
		for (long i = 0; i < connections; i++) {
			struct conn *c = &conns[i];
			if (!c->parked)
				continue;
			if (c->next_send <= t) {
				c->parked = false;
				curl_multi_add_handle(multi, c->h);
				wait_ms = 0;
			} else if ((c->next_send - t) * 1000 < wait_ms) {
				wait_ms = (int)((c->next_send - t) * 1000);
			}
		}
		curl_multi_poll(multi, NULL, 0, wait_ms, NULL);
	}
	qsort(samples, n_samples, sizeof(*samples), compare_long);
	printf("{\"requests\":%lu,\"errors\":%lu,\"seconds\":%.3f,\"rps\":%.1f,\"p50_us\":%ld,"
	       "\"p99_us\":%ld,\"p999_us\":%ld,\"max_us\":%ld}\n",
	       requests, errors, seconds, (double)requests / seconds,
	       quantile(samples, n_samples, 0.5), quantile(samples, n_samples, 0.99),
	       quantile(samples, n_samples, 0.999), n_samples ? samples[n_samples - 1] : 0L);
	for (long i = 0; i < connections; i++) {
		curl_multi_remove_handle(multi, conns[i].h);
		curl_easy_cleanup(conns[i].h);
		buf_free(&conns[i].answer);
	}
	curl_multi_cleanup(multi);
	curl_slist_free_all(headers);
	curl_global_cleanup();
	free(samples);
	buf_free(&body);
	return errors ? 1 : 0;
}
