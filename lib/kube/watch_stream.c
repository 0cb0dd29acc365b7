/* Newline-delimited watch stream parsing; see watch_stream.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kube/watch_stream.h"

void kube_watch_stream_init(struct kube_watch_stream *s, size_t max_line, kube_watch_event_fn fn,
			    void *userdata)
{
	memset(s, 0, sizeof(*s));
	buf_init(&s->line, max_line ? max_line : KUBE_WATCH_DEFAULT_MAX_LINE);
	s->on_event = fn;
	s->userdata = userdata;
}

void kube_watch_stream_free(struct kube_watch_stream *s)
{
	buf_free(&s->line);
}

void kube_watch_stream_reset(struct kube_watch_stream *s)
{
	buf_reset(&s->line);
}

static int parse_type(const char *t, enum kube_event_type *ret)
{
	static const struct {
		const char *name;
		enum kube_event_type type;
	} types[] = {
		{"ADDED", KUBE_EVENT_ADDED},	 {"MODIFIED", KUBE_EVENT_MODIFIED},
		{"DELETED", KUBE_EVENT_DELETED}, {"BOOKMARK", KUBE_EVENT_BOOKMARK},
		{"ERROR", KUBE_EVENT_ERROR},
	};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(t, types[i].name) == 0) {
			*ret = types[i].type;
			return 0;
		}
	return -EINVAL;
}

/* One complete line (without its newline). Malformed lines are skipped, not fatal. */
static int handle_line(struct kube_watch_stream *s, const char *p, size_t n)
{
	json_error_t jerr;
	enum kube_event_type type;

	if (n > 0 && p[n - 1] == '\r')
		n--;
	/* Blank lines carry nothing (some proxies send them as keepalives). */
	while (n > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	if (n == 0)
		return 0;

	json_t *ev = json_loadb(p, n, JSON_REJECT_DUPLICATES, &jerr);
	if (!ev) {
		s->skipped++;
		snprintf(s->last_error, sizeof(s->last_error),
			 "malformed JSON at column %d: %.100s", jerr.column, jerr.text);
		return 0;
	}
	const char *t = json_string_value(json_object_get(ev, "type"));
	json_t *obj = json_object_get(ev, "object");
	int r = 0;
	if (!json_is_object(ev) || !t) {
		s->skipped++;
		snprintf(s->last_error, sizeof(s->last_error), "type: missing or not a string");
	} else if (parse_type(t, &type) < 0) {
		s->skipped++;
		snprintf(s->last_error, sizeof(s->last_error), "type: unknown event type \"%.40s\"",
			 t);
	} else if (!json_is_object(obj)) {
		s->skipped++;
		snprintf(s->last_error, sizeof(s->last_error), "object: missing or not an object");
	} else {
		s->events++;
		r = s->on_event ? s->on_event(type, obj, s->userdata) : 0;
	}
	json_decref(ev);
	return r < 0 ? r : 0;
}

int kube_watch_stream_feed(struct kube_watch_stream *s, const void *data, size_t len)
{
	const char *p = data, *end = p + len;
	int r;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl) {
			r = buf_append(&s->line, p, (size_t)(end - p));
			if (r < 0)
				buf_reset(&s->line);
			return r;
		}
		if (s->line.len == 0) {
			/* The common case: the whole line is in this chunk, parse it in place. */
			if ((size_t)(nl - p) > s->line.max)
				return -EMSGSIZE;
			r = handle_line(s, p, (size_t)(nl - p));
		} else {
			r = buf_append(&s->line, p, (size_t)(nl - p));
			if (r < 0) {
				buf_reset(&s->line);
				return r;
			}
			r = handle_line(s, s->line.data, s->line.len);
			buf_reset(&s->line);
		}
		if (r < 0)
			return r;
		p = nl + 1;
	}
	return 0;
}

int kube_watch_stream_finish(struct kube_watch_stream *s)
{
	if (s->line.len == 0)
		return 0;
	buf_reset(&s->line);
	return -EPIPE;
}
