/* One session's recording on disk, in a directory only root can read (0700, files 0600):
 *
 *   <id>.cast   asciicast v2: header line (with a "kubernetes" object), then
 *               [time, "o"|"i"|"r"|"m", data] events; "m" markers name gaps
 *   <id>.log    JSON lines: {"t_us":..,"type":"exec"|"exit"|"gap"|"end"|...} the session's
 *               event log (argv of every exec, exit statuses, gaps with byte counts)
 *   <id>.chain  JSON lines: one {"f":"cast"|"log","i":N,"off":O,"len":L,"h":HEX} per record
 *               of the two files, each h the head of that file's hash chain after the record
 *               (recording/chain.h); last, the trailer {"final":true,...,"digest":"sha256:.."}
 *
 * The digest also goes to the ExecSession's status, outside the node, so a rewritten file and
 * sidecar still fail verification against it. Not thread-safe: one thread owns a recording. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "recording/chain.h"

#define RECORDING_ID_MAX     96
#define RECORDING_DIGEST_LEN (7 + 2 * CHAIN_HASH_LEN + 1)

enum recording_stream {
	RECORDING_OUTPUT, /* "o" */
	RECORDING_INPUT,  /* "i" */
};

struct recording_meta {
	const char *id;		  /* file name stem: [A-Za-z0-9._-], at most RECORDING_ID_MAX */
	unsigned width, height;	  /* the terminal size at the start (80x24 when unknown) */
	uint64_t start_unix_us;	  /* wall clock of the session's start */
	const json_t *kubernetes; /* {namespace,pod,container,node,user,command}; borrowed */
	const json_t *env;	  /* optional, e.g. {"TERM": "xterm"}; borrowed */
	/* The header is written by recording_commit_header() (who asked for the session is
	 * learnt from the API server a moment after it starts); records wait in memory until
	 * then, at most RECORDING_PENDING_MAX bytes, past which the header goes out as it is. */
	bool defer_header;
};

#define RECORDING_PENDING_MAX (16u << 20)

struct recording;

/* True when id is a valid recording id (no path separators, no leading dot). */
bool recording_id_valid(const char *id);

/* Creates the three files (O_EXCL: -EEXIST for an id in use) and writes the header. */
int recording_open(const char *dir, const struct recording_meta *meta, struct recording **ret);

/* Writes the deferred header, its "kubernetes" object updated with the keys of kubernetes
 * (borrowed, may be NULL), then the records that waited for it. -EALREADY when the header is
 * out already (not deferred, committed, or past the pending cap). Finishing commits it too. */
int recording_commit_header(struct recording *r, const json_t *kubernetes);
bool recording_header_pending(const struct recording *r);
size_t recording_pending_bytes(const struct recording *r);

/* Terminal bytes at t_us (since the start). Split UTF-8 characters are carried to the next
 * call of the same stream. */
int recording_data(struct recording *r, uint64_t t_us, enum recording_stream stream,
		   const void *data, size_t len);
/* A "r" event "COLSxROWS"; a size with a zero in it says no size and writes nothing. */
int recording_resize(struct recording *r, uint64_t t_us, unsigned cols, unsigned rows);
/* A gap: a "m" marker in the cast and a "gap" line in the log, both with the counts. */
int recording_gap(struct recording *r, uint64_t t_us, uint64_t lost_events, uint64_t lost_bytes);
/* A gap of unknown size, with why: a "m" marker "gap: <reason>" in the cast and a "gap" line
 * {"reason": ..., "capture_delay_us": delay_us} in the log. */
int recording_gap_reason(struct recording *r, uint64_t t_us, const char *reason, uint64_t delay_us);
/* One log line: event (borrowed) gets "t_us" (microseconds since the start) added and is
 * written canonically. */
int recording_log(struct recording *r, uint64_t t_us, const json_t *event);

/* Flushes buffered lines to the files (the tracker calls it periodically). */
int recording_flush(struct recording *r);

/* Writes the trailer and closes the files; *ret_digest gets "sha256:<hex>". summary
 * (borrowed, may be NULL) is copied into the trailer. After this only recording_free(). */
int recording_finish(struct recording *r, const json_t *summary,
		     char ret_digest[RECORDING_DIGEST_LEN]);

/* Closes (without a trailer if not finished: verify reports it unfinished). NULL-safe. */
struct recording *recording_free(struct recording *r);

/* Terminal bytes recorded so far (both streams, before UTF-8 sanitizing). */
uint64_t recording_bytes(const struct recording *r);
/* Bytes replaced by U+FFFD because they were not UTF-8. */
uint64_t recording_replaced_bytes(const struct recording *r);

/* ---- verification --------------------------------------------------------------------- */

struct recording_verify_result {
	bool ok;       /* every record matches, the trailer's digest and expected (if given) too */
	bool finished; /* the sidecar has its trailer */
	char digest[RECORDING_DIGEST_LEN]; /* recomputed from the files */
	uint64_t cast_records, log_records;
	/* The first problem found, when !ok: which file, which record (0 is the cast header),
	 * where it starts in the file and how long it is, and why. */
	char file[8]; /* "cast", "log", "chain" */
	int64_t index;
	int64_t offset;
	int64_t length;
	char reason[512];
};

/* Recomputes both chains from the files in dir and compares them record by record with the
 * sidecar, then the digest with the trailer's and with expected_digest (NULL: none known).
 * Returns 0 when the check could be made (the verdict is in ret->ok), or a negative errno
 * when the files cannot be read at all (-ENOENT for an unknown id). */
int recording_verify(const char *dir, const char *id, const char *expected_digest,
		     struct recording_verify_result *ret);

/* ---- retention ------------------------------------------------------------------------ */

/* Deletes finished recordings older than max_age_s (0: no age limit), then the oldest
 * finished ones until all recordings take at most max_bytes (0: no size limit). Unfinished
 * recordings (an agent crash leaves them without a trailer) count too and go by age, but never
 * the ids in keep (open sessions). *ret_deleted (may be NULL) gets how many were removed. */
int recording_prune(const char *dir, uint64_t max_age_s, uint64_t max_bytes, uint64_t now_unix_s,
		    const char *const *keep, size_t n_keep, unsigned *ret_deleted);
