/* A parser for the apiserver's watch stream: newline-delimited JSON objects
 *   {"type":"ADDED","object":{...}}\n
 * fed in whatever chunks the network delivers. A line split across chunks is reassembled in a
 * bounded buffer; a line longer than the cap is an error (the stream must be abandoned and
 * the watch restarted), never unbounded growth. A malformed line or an event without a known
 * type or an object is counted, described in last_error and skipped: the next line parses.
 *
 * Pure: no I/O, no threads. One stream per watch connection. */
#pragma once

#include <stddef.h>

#include <jansson.h>

#include "buf.h"
#include "kube/event.h"

/* Called once per event. object is borrowed (json_incref() it to keep it). A negative return
 * stops the feed and is returned by kube_watch_stream_feed(). */
typedef int (*kube_watch_event_fn)(enum kube_event_type type, json_t *object, void *userdata);

struct kube_watch_stream {
	struct buf line; /* a partial line carried over between chunks */
	kube_watch_event_fn on_event;
	void *userdata;
	unsigned long events;  /* delivered */
	unsigned long skipped; /* malformed lines skipped */
	char last_error[160];  /* why the last line was skipped */
};

#define KUBE_WATCH_DEFAULT_MAX_LINE (16u << 20)

void kube_watch_stream_init(struct kube_watch_stream *s, size_t max_line, kube_watch_event_fn fn,
			    void *userdata);
void kube_watch_stream_free(struct kube_watch_stream *s);
/* Forgets a partial line (a new connection starts clean); keeps the counters. */
void kube_watch_stream_reset(struct kube_watch_stream *s);

/* 0; -EMSGSIZE when a line exceeds the cap (the partial line is dropped); -ENOMEM; or the
 * callback's negative return. Events before the failing point have been delivered. */
int kube_watch_stream_feed(struct kube_watch_stream *s, const void *data, size_t len);

/* At end of stream: 0 when no partial line is pending, else -EPIPE (the connection was cut
 * mid-event; the partial line is dropped). */
int kube_watch_stream_finish(struct kube_watch_stream *s);
