/* Verifying a recording: recompute each file's hash chain record by record, compare every
 * head with the sidecar's (the first difference names the record and its byte range), then
 * the final digest with the trailer's and with the one kept off the node. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "recording/recording.h"

#define SIDECAR_LINE_MAX 8192
#define RECORDS_MAX	 (64u << 20)

struct chain_record {
	unsigned char h[CHAIN_HASH_LEN];
	int64_t off, len;
};

struct chain_list {
	struct chain_record *v;
	size_t n, alloc;
};

static int chain_list_push(struct chain_list *l, const struct chain_record *rec)
{
	if (l->n == l->alloc) {
		size_t na = l->alloc ? 2 * l->alloc : 256;
		if (na > RECORDS_MAX)
			return -E2BIG;
		struct chain_record *v = realloc(l->v, na * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->v = v;
		l->alloc = na;
	}
	l->v[l->n++] = *rec;
	return 0;
}

static void problem(struct recording_verify_result *res, const char *file, int64_t index,
		    int64_t offset, int64_t length, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
static void problem(struct recording_verify_result *res, const char *file, int64_t index,
		    int64_t offset, int64_t length, const char *fmt, ...)
{
	if (!res->ok)
		return; /* keep the first */
	res->ok = false;
	snprintf(res->file, sizeof(res->file), "%s", file);
	res->index = index;
	res->offset = offset;
	res->length = length;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
	va_end(ap);
}

static FILE *open_part(const char *dir, const char *id, const char *ext)
{
	char path[4096];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s.%s", dir, id, ext) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	return fopen(path, "re");
}

/* Reads the sidecar into the two lists and the trailer. A malformed line is a problem (the
 * sidecar was damaged), not an error. */
static int read_sidecar(FILE *f, struct chain_list *cast, struct chain_list *log,
			json_t **ret_trailer, struct recording_verify_result *res)
{
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int64_t lineno = 0, off = 0;
	while ((n = getline(&line, &cap, f)) > 0) {
		lineno++;
		int64_t this_off = off;
		off += n;
		if (n > SIDECAR_LINE_MAX || line[n - 1] != '\n') {
			problem(res, "chain", lineno - 1, this_off, n,
				"sidecar line %" PRId64 " is truncated or too long", lineno);
			return 0;
		}
		if (*ret_trailer) {
			problem(res, "chain", lineno - 1, this_off, n,
				"sidecar has a line after its trailer");
			return 0;
		}
		json_t *j = json_loadb(line, (size_t)n - 1, JSON_REJECT_DUPLICATES, NULL);
		if (!j) {
			problem(res, "chain", lineno - 1, this_off, n,
				"sidecar line %" PRId64 " is not JSON", lineno);
			return 0;
		}
		if (json_is_true(json_object_get(j, "final"))) {
			*ret_trailer = j;
			continue;
		}
		const char *fname = json_string_value(json_object_get(j, "f"));
		struct chain_list *l = fname && !strcmp(fname, "cast")	? cast
				       : fname && !strcmp(fname, "log") ? log
									: NULL;
		struct chain_record rec = {
			.off = json_integer_value(json_object_get(j, "off")),
			.len = json_integer_value(json_object_get(j, "len")),
		};
		json_t *i = json_object_get(j, "i");
		if (!l || !json_is_integer(i) || (size_t)json_integer_value(i) != l->n ||
		    hash_from_hex(json_string_value(json_object_get(j, "h")), rec.h) < 0) {
			json_decref(j);
			problem(res, "chain", lineno - 1, this_off, n,
				"sidecar line %" PRId64 " is not a valid chain record", lineno);
			return 0;
		}
		json_decref(j);
		int r = chain_list_push(l, &rec);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Recomputes one file's chain and compares it with the sidecar's records. */
static int check_file(FILE *f, const char *tag, const struct chain_list *want,
		      struct hash_chain *chain, struct recording_verify_result *res)
{
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int64_t off = 0;
	hash_chain_init(chain);
	while ((n = getline(&line, &cap, f)) > 0) {
		size_t idx = chain->records;
		bool complete = line[n - 1] == '\n';
		size_t len = complete ? (size_t)n - 1 : (size_t)n;
		int r = hash_chain_append(chain, line, len);
		if (r < 0)
			return r;
		if (idx >= want->n) {
			problem(res, tag, (int64_t)idx, off, (int64_t)len,
				"record %zu at byte %" PRId64
				" is not in the chain (the chain has %zu "
				"records): data was appended",
				idx, off, want->n);
		} else if (!complete) {
			problem(res, tag, (int64_t)idx, off, (int64_t)len,
				"file truncated at byte %" PRId64
				", inside record %zu (recorded as "
				"bytes %" PRId64 "..%" PRId64 ")",
				off + (int64_t)len, idx, want->v[idx].off,
				want->v[idx].off + want->v[idx].len);
		} else if (memcmp(chain->head, want->v[idx].h, CHAIN_HASH_LEN) != 0) {
			problem(res, tag, (int64_t)idx, off, (int64_t)len,
				"record %zu (bytes %" PRId64 "..%" PRId64 ") differs from what was "
				"recorded%s",
				idx, off, off + (int64_t)len,
				want->v[idx].len != (int64_t)len ? " (its length changed too)"
				: want->v[idx].off != off ? " (it moved: bytes before it changed)"
							  : "");
		}
		if (!res->ok)
			return 0;
		off += n;
	}
	if (chain->records < want->n) {
		const struct chain_record *m = &want->v[chain->records];
		problem(res, tag, (int64_t)chain->records, off, 0,
			"file truncated at byte %" PRId64
			": %llu of %zu records present, record %llu "
			"was at bytes %" PRId64 "..%" PRId64,
			off, (unsigned long long)chain->records, want->n,
			(unsigned long long)chain->records, m->off, m->off + m->len);
	}
	return 0;
}

int recording_verify(const char *dir, const char *id, const char *expected_digest,
		     struct recording_verify_result *ret)
{
	struct recording_verify_result res = {.ok = true, .index = -1, .offset = -1};
	if (!recording_id_valid(id))
		return -EINVAL;
	_cleanup_fclose_ FILE *cast = open_part(dir, id, "cast");
	if (!cast)
		return -errno;
	_cleanup_fclose_ FILE *log = open_part(dir, id, "log");
	if (!log)
		return -errno;
	_cleanup_fclose_ FILE *side = open_part(dir, id, "chain");
	if (!side)
		return -errno;

	struct chain_list want_cast = {0}, want_log = {0};
	json_t *trailer = NULL;
	struct hash_chain cast_chain, log_chain;
	int r = read_sidecar(side, &want_cast, &want_log, &trailer, &res);
	if (r >= 0)
		r = check_file(cast, "cast", &want_cast, &cast_chain, &res);
	if (r >= 0)
		r = check_file(log, "log", &want_log, &log_chain, &res);
	if (r >= 0)
		r = recording_digest(&cast_chain, &log_chain, res.digest);
	if (r < 0)
		goto out;
	res.cast_records = cast_chain.records;
	res.log_records = log_chain.records;
	res.finished = trailer != NULL;
	if (trailer) {
		const char *td = json_string_value(json_object_get(trailer, "digest"));
		if (!td || strcmp(td, res.digest) != 0)
			problem(&res, "chain", -1, -1, 0,
				"the trailer's digest %s does not match the files' %s",
				td ? td : "(none)", res.digest);
	} else if (!expected_digest) {
		problem(&res, "chain", -1, -1, 0,
			"the recording has no trailer: it is still being recorded, or the agent "
			"stopped before finishing it");
	}
	if (expected_digest && strcmp(expected_digest, res.digest) != 0)
		problem(&res, "chain", -1, -1, 0,
			"the digest recorded off the node (%s) differs from the files' (%s): the "
			"recording and its sidecar were rewritten together",
			expected_digest, res.digest);
	*ret = res;
out:
	json_decref(trailer);
	free(want_cast.v);
	free(want_log.v);
	return r < 0 ? r : 0;
}
