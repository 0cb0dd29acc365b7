/* Writing a recording: every line goes to its file and, with the new head of that file's hash
 * chain, to the sidecar. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "canonical.h"
#include "cleanup.h"
#include "recording/cast.h"
#include "recording/recording.h"

#define FILE_BUFFER (256u << 10)

struct rec_file {
	FILE *f;
	const char *tag; /* "cast", "log" */
	struct hash_chain chain;
	uint64_t offset;
};

struct recording {
	struct rec_file cast, log;
	FILE *sidecar;
	struct utf8_carry carry[2];
	struct buf line, text;
	uint64_t bytes, replaced;
	uint64_t last_t_us;
	bool finished;
	int error; /* the first write error: later calls return it */
	/* A deferred header (meta->defer_header) until recording_commit_header(): every record
	 * of both files waits in pending, as [file][length][line], because the chains start
	 * with the header. */
	json_t *header;
	struct buf pending;
};

enum { PENDING_CAST = 'c', PENDING_LOG = 'l' };

bool recording_id_valid(const char *id)
{
	size_t n = id ? strlen(id) : 0;
	if (n == 0 || n > RECORDING_ID_MAX || id[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static int open_exclusive(const char *dir, const char *id, const char *ext, FILE **ret)
{
	char path[4096];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s.%s", dir, id, ext) >= sizeof(path))
		return -ENAMETOOLONG;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	FILE *f = fdopen(fd, "w");
	if (!f) {
		int r = -errno;
		close(fd);
		unlink(path);
		return r;
	}
	setvbuf(f, NULL, _IOFBF, FILE_BUFFER);
	*ret = f;
	return 0;
}

static int write_record(struct recording *r, struct rec_file *rf, const char *line, size_t len);

/* A record while the header waits; past RECORDING_PENDING_MAX the header goes out as it is,
 * so a slow identity never costs data. */
static int hold_record(struct recording *r, struct rec_file *rf, const char *line, size_t len)
{
	uint32_t n = (uint32_t)len;
	char tag = rf == &r->cast ? PENDING_CAST : PENDING_LOG;
	if (r->pending.len + 1 + sizeof(n) + len > RECORDING_PENDING_MAX) {
		int err = recording_commit_header(r, NULL);
		return err < 0 ? err : write_record(r, rf, line, len);
	}
	if (buf_append(&r->pending, &tag, 1) < 0 || buf_append(&r->pending, &n, sizeof(n)) < 0 ||
	    buf_append(&r->pending, line, len) < 0)
		return r->error = -ENOMEM;
	return 0;
}

/* Appends one record (line without newline) to file rf and its hash to the sidecar. */
static int write_record(struct recording *r, struct rec_file *rf, const char *line, size_t len)
{
	if (r->error)
		return r->error;
	if (r->header)
		return hold_record(r, rf, line, len);
	int ret = hash_chain_append(&rf->chain, line, len);
	if (ret < 0)
		return r->error = ret;
	char hex[2 * CHAIN_HASH_LEN + 1];
	hash_hex(rf->chain.head, hex);
	if (fwrite(line, 1, len, rf->f) != len || fputc('\n', rf->f) == EOF ||
	    fprintf(r->sidecar, "{\"f\":\"%s\",\"i\":%llu,\"off\":%llu,\"len\":%zu,\"h\":\"%s\"}\n",
		    rf->tag, (unsigned long long)(rf->chain.records - 1),
		    (unsigned long long)rf->offset, len, hex) < 0)
		return r->error = -EIO;
	rf->offset += len + 1;
	return 0;
}

int recording_open(const char *dir, const struct recording_meta *meta, struct recording **ret)
{
	if (!recording_id_valid(meta->id))
		return -EINVAL;
	struct recording *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->cast.tag = "cast";
	r->log.tag = "log";
	hash_chain_init(&r->cast.chain);
	hash_chain_init(&r->log.chain);
	buf_init(&r->line, 4 * CAST_LINE_MAX);
	buf_init(&r->text, 4 * CAST_LINE_MAX);
	buf_init(&r->pending, RECORDING_PENDING_MAX);

	static const char *const exts[] = {"cast", "log", "chain"};
	FILE **files[] = {&r->cast.f, &r->log.f, &r->sidecar};
	int err = 0;
	for (size_t i = 0; i < ARRAY_SIZE(exts) && !err; i++)
		err = open_exclusive(dir, meta->id, exts[i], files[i]);
	if (err < 0) {
		/* Remove only what we created. */
		for (size_t i = 0; i < ARRAY_SIZE(exts); i++) {
			if (!*files[i])
				continue;
			fclose(*files[i]);
			*files[i] = NULL;
			char path[4096];
			snprintf(path, sizeof(path), "%s/%s.%s", dir, meta->id, exts[i]);
			unlink(path);
		}
		recording_free(r);
		return err;
	}

	json_t *h = json_pack("{s:i,s:i,s:i,s:I}", "version", 2, "width",
			      meta->width ? (int)meta->width : 80, "height",
			      meta->height ? (int)meta->height : 24, "timestamp",
			      (json_int_t)(meta->start_unix_us / 1000000));
	if (h && meta->env)
		json_object_set_new(h, "env", json_deep_copy(meta->env));
	if (h && meta->kubernetes)
		json_object_set_new(h, "kubernetes", json_deep_copy(meta->kubernetes));
	if (!h) {
		recording_free(r);
		return -ENOMEM;
	}
	r->header = h;
	if (!meta->defer_header && (err = recording_commit_header(r, NULL)) < 0) {
		recording_free(r);
		return err;
	}
	*ret = r;
	return 0;
}

bool recording_header_pending(const struct recording *r)
{
	return r->header != NULL;
}

size_t recording_pending_bytes(const struct recording *r)
{
	return r->pending.len;
}

int recording_commit_header(struct recording *r, const json_t *kubernetes)
{
	if (!r->header)
		return -EALREADY;
	json_t *h = r->header;
	r->header = NULL;
	json_t *k = json_object_get(h, "kubernetes");
	if (kubernetes && json_is_object(k))
		json_object_update(k, (json_t *)kubernetes);
	else if (kubernetes)
		json_object_set_new(h, "kubernetes", json_deep_copy(kubernetes));
	/* Not r->line: a cast event that overflowed the pending cap is in it. */
	struct buf line = BUF_INIT(4 * CAST_LINE_MAX);
	int err = cast_header_line(&line, h);
	json_decref(h);
	if (err >= 0)
		err = write_record(r, &r->cast, line.data, line.len);
	buf_free(&line);
	/* Then what waited, in the order it came. */
	for (size_t off = 0; err >= 0 && off < r->pending.len;) {
		char tag = r->pending.data[off];
		uint32_t n;
		memcpy(&n, r->pending.data + off + 1, sizeof(n));
		const char *line = r->pending.data + off + 1 + sizeof(n);
		err = write_record(r, tag == PENDING_CAST ? &r->cast : &r->log, line, n);
		off += 1 + sizeof(n) + n;
	}
	buf_free(&r->pending);
	if (err < 0)
		r->error = err;
	return err;
}

static int cast_event(struct recording *r, uint64_t t_us, const char *type, const char *text,
		      size_t len)
{
	/* Players expect times that never go back; events of different CPUs can be a few
	 * microseconds out of order. */
	if (t_us < r->last_t_us)
		t_us = r->last_t_us;
	r->last_t_us = t_us;
	buf_reset(&r->line);
	int err = cast_event_line(&r->line, t_us, type, text, len);
	if (err < 0)
		return err;
	return write_record(r, &r->cast, r->line.data, r->line.len);
}

int recording_data(struct recording *r, uint64_t t_us, enum recording_stream stream,
		   const void *data, size_t len)
{
	if (r->finished)
		return -EINVAL;
	size_t replaced = 0;
	buf_reset(&r->text);
	int err = utf8_sanitize(&r->carry[stream], data, len, false, &r->text, &replaced);
	if (err < 0)
		return err;
	r->bytes += len;
	r->replaced += replaced;
	if (r->text.len == 0)
		return 0; /* only part of a character so far */
	return cast_event(r, t_us, stream == RECORDING_INPUT ? "i" : "o", r->text.data,
			  r->text.len);
}

int recording_resize(struct recording *r, uint64_t t_us, unsigned cols, unsigned rows)
{
	/* A 0x0 size is a terminal nobody sized yet (a runtime copying an unsized pty's winsize
	 * on start): asciicast players would shrink the screen to nothing. */
	if (cols == 0 || rows == 0)
		return 0;
	char size[32];
	int n = snprintf(size, sizeof(size), "%ux%u", cols, rows);
	return cast_event(r, t_us, "r", size, (size_t)n);
}

int recording_log(struct recording *r, uint64_t t_us, const json_t *event)
{
	if (r->finished)
		return -EINVAL;
	json_t *copy = json_deep_copy(event);
	if (!copy || json_object_set_new(copy, "t_us", json_integer((json_int_t)t_us)) < 0) {
		json_decref(copy);
		return -ENOMEM;
	}
	_cleanup_free_ char *s = json_canonical_dump(copy);
	json_decref(copy);
	if (!s)
		return -ENOMEM;
	return write_record(r, &r->log, s, strlen(s));
}

int recording_gap(struct recording *r, uint64_t t_us, uint64_t lost_events, uint64_t lost_bytes)
{
	char label[128];
	int n = snprintf(label, sizeof(label), "gap: %llu bytes lost in %llu events",
			 (unsigned long long)lost_bytes, (unsigned long long)lost_events);
	int err = cast_event(r, t_us, "m", label, (size_t)n);
	if (err < 0)
		return err;
	json_t *ev = json_pack("{s:s,s:I,s:I}", "type", "gap", "lost_events",
			       (json_int_t)lost_events, "lost_bytes", (json_int_t)lost_bytes);
	if (!ev)
		return -ENOMEM;
	err = recording_log(r, t_us, ev);
	json_decref(ev);
	return err;
}

int recording_gap_reason(struct recording *r, uint64_t t_us, const char *reason, uint64_t delay_us)
{
	char label[512];
	int n = snprintf(label, sizeof(label), "gap: %s", reason);
	if (n < 0 || (size_t)n >= sizeof(label))
		return -EINVAL;
	int err = cast_event(r, t_us, "m", label, (size_t)n);
	if (err < 0)
		return err;
	json_t *ev = json_pack("{s:s,s:s,s:I}", "type", "gap", "reason", reason, "capture_delay_us",
			       (json_int_t)delay_us);
	if (!ev)
		return -ENOMEM;
	err = recording_log(r, t_us, ev);
	json_decref(ev);
	return err;
}

int recording_flush(struct recording *r)
{
	if (r->error)
		return r->error;
	if (r->header)
		return 0; /* in memory until the header is committed */
	if (fflush(r->cast.f) || fflush(r->log.f) || fflush(r->sidecar))
		return r->error = -errno;
	return 0;
}

int recording_finish(struct recording *r, const json_t *summary,
		     char ret_digest[RECORDING_DIGEST_LEN])
{
	if (r->finished)
		return -EINVAL;
	if (r->header) {
		int err = recording_commit_header(r, NULL);
		if (err < 0)
			return err;
	}
	/* A character cut off at the very end is replaced, not dropped. */
	for (int s = 0; s < 2; s++) {
		if (!r->carry[s].n)
			continue;
		size_t replaced = 0;
		buf_reset(&r->text);
		int err = utf8_sanitize(&r->carry[s], "", 0, true, &r->text, &replaced);
		r->replaced += replaced;
		if (err >= 0 && r->text.len)
			err = cast_event(r, r->last_t_us, s == RECORDING_INPUT ? "i" : "o",
					 r->text.data, r->text.len);
		if (err < 0)
			return err;
	}
	char digest[RECORDING_DIGEST_LEN], cast_hex[65], log_hex[65];
	int err = recording_digest(&r->cast.chain, &r->log.chain, digest);
	if (err < 0)
		return err;
	hash_hex(r->cast.chain.head, cast_hex);
	hash_hex(r->log.chain.head, log_hex);
	json_t *t = json_pack("{s:b,s:{s:I,s:s},s:{s:I,s:s},s:s}", "final", 1, "cast", "records",
			      (json_int_t)r->cast.chain.records, "head", cast_hex, "log", "records",
			      (json_int_t)r->log.chain.records, "head", log_hex, "digest", digest);
	if (!t)
		return -ENOMEM;
	if (summary)
		json_object_set_new(t, "summary", json_deep_copy(summary));
	_cleanup_free_ char *s = json_canonical_dump(t);
	json_decref(t);
	if (!s)
		return -ENOMEM;
	if (fprintf(r->sidecar, "%s\n", s) < 0)
		return -EIO;
	err = recording_flush(r);
	FILE **files[] = {&r->cast.f, &r->log.f, &r->sidecar};
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		if (fsync(fileno(*files[i])) < 0 && !err)
			err = -errno;
		if (fclose(*files[i]) && !err)
			err = -EIO;
		*files[i] = NULL;
	}
	r->finished = true;
	if (err < 0)
		return err;
	memcpy(ret_digest, digest, RECORDING_DIGEST_LEN);
	return 0;
}

struct recording *recording_free(struct recording *r)
{
	if (!r)
		return NULL;
	/* What waited for a header is not thrown away with it. */
	if (r->header && r->cast.f && !r->error)
		recording_commit_header(r, NULL);
	json_decref(r->header);
	buf_free(&r->pending);
	if (r->cast.f)
		fclose(r->cast.f);
	if (r->log.f)
		fclose(r->log.f);
	if (r->sidecar)
		fclose(r->sidecar);
	buf_free(&r->line);
	buf_free(&r->text);
	free(r);
	return NULL;
}

uint64_t recording_bytes(const struct recording *r)
{
	return r->bytes;
}

uint64_t recording_replaced_bytes(const struct recording *r)
{
	return r->replaced;
}
