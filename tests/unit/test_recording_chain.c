/* Recordings: asciicast lines round-trip through the writer and the parser, UTF-8 split
 * across writes is carried over, gaps are marked, and verification finds one changed byte
 * (naming the record and its byte range), a truncated file, appended data, a rewritten
 * sidecar and a digest that differs from the one kept off the node. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "recording/cast.h"
#include "recording/recording.h"

static char dir[64];
static char digest[RECORDING_DIGEST_LEN];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/test-recording-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void path_of(const char *id, const char *ext, char *out, size_t n)
{
	snprintf(out, n, "%s/%s.%s", dir, id, ext);
}

/* A small session: header, typing, output with a euro sign split across two writes, a
 * resize (after two to no size, which write nothing), a gap and an exec in the log. */
static void write_sample(const char *id)
{
	json_t *k = json_pack("{s:s,s:s,s:s,s:s,s:[s,s]}", "namespace", "prod", "pod", "web-0",
			      "container", "app", "node", "n1", "command", "sh", "-i");
	struct recording_meta m = {.id = id,
				   .width = 100,
				   .height = 30,
				   .start_unix_us = 1700000000000000ull,
				   .kubernetes = k};
	struct recording *r = NULL;
	assert_int_equal(recording_open(dir, &m, &r), 0);
	json_decref(k);
	assert_int_equal(recording_data(r, 1000, RECORDING_OUTPUT, "$ ", 2), 0);
	assert_int_equal(recording_data(r, 2000, RECORDING_INPUT, "ls\n", 3), 0);
	assert_int_equal(recording_data(r, 2500, RECORDING_OUTPUT, "price: \xe2\x82", 9), 0);
	assert_int_equal(recording_data(r, 2600, RECORDING_OUTPUT, "\xac 5\r\n\"q\"\t\x1b[0m", 13),
			 0);
	assert_int_equal(recording_resize(r, 2800, 0, 0), 0);
	assert_int_equal(recording_resize(r, 2900, 120, 0), 0);
	assert_int_equal(recording_resize(r, 3000, 120, 40), 0);
	assert_int_equal(recording_gap(r, 3500, 2, 16384), 0);
	json_t *ev = json_pack("{s:s,s:[s]}", "type", "exec", "argv", "ls");
	assert_int_equal(recording_log(r, 2100, ev), 0);
	json_decref(ev);
	assert_int_equal(recording_data(r, 4000, RECORDING_OUTPUT, "bye\r\n", 5), 0);
	assert_int_equal(recording_finish(r, NULL, digest), 0);
	recording_free(r);
	assert_int_equal(strncmp(digest, "sha256:", 7), 0);
	assert_int_equal(strlen(digest), 7 + 64);
}

static void test_round_trip(void **state)
{
	write_sample("rt");
	char p[256];
	path_of("rt", "cast", p, sizeof(p));
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	FILE *f = fopen(p, "re");
	assert_non_null(f);
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, f);
	struct field_error err = {0};
	json_t *h = NULL;
	assert_int_equal(cast_parse_header(line, (size_t)n - 1, &h, &err), 0);
	assert_int_equal(json_integer_value(json_object_get(h, "width")), 100);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(h, "kubernetes"), "pod")),
		"web-0");
	json_decref(h);
	struct buf out = BUF_INIT(4096), in = BUF_INIT(4096);
	int markers = 0, resizes = 0, sizes = 0;
	uint64_t last_t = 0;
	while ((n = getline(&line, &cap, f)) > 0) {
		struct cast_event e;
		assert_int_equal(cast_parse_event(line, (size_t)n - 1, &e, &err), 0);
		assert_true(e.t_us >= last_t);
		last_t = e.t_us;
		if (!strcmp(e.type, "o"))
			buf_append(&out, e.data, e.len);
		else if (!strcmp(e.type, "i"))
			buf_append(&in, e.data, e.len);
		else if (!strcmp(e.type, "r"))
			resizes += !strcmp(e.data, "120x40"), sizes++;
		else if (!strcmp(e.type, "m"))
			markers += strstr(e.data, "16384 bytes lost in 2 events") != NULL;
		cast_event_clear(&e);
	}
	free(line);
	fclose(f);
	assert_string_equal(buf_str(&out), "$ price: \xe2\x82\xac 5\r\n\"q\"\t\x1b[0mbye\r\n");
	assert_string_equal(buf_str(&in), "ls\n");
	assert_int_equal(markers, 1);
	assert_int_equal(resizes, 1);
	assert_int_equal(sizes, 1);
	buf_free(&out);
	buf_free(&in);

	struct recording_verify_result v;
	assert_int_equal(recording_verify(dir, "rt", digest, &v), 0);
	assert_true(v.ok);
	assert_true(v.finished);
	assert_string_equal(v.digest, digest);
	assert_int_equal(v.cast_records, 8);
	assert_int_equal(v.log_records, 2);
}

static void flip_byte(const char *id, const char *ext, long offset)
{
	char p[256];
	path_of(id, ext, p, sizeof(p));
	int fd = open(p, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	char c;
	assert_int_equal(pread(fd, &c, 1, offset), 1);
	c = c == 'x' ? 'y' : 'x';
	assert_int_equal(pwrite(fd, &c, 1, offset), 1);
	close(fd);
}

/* The byte range of record idx of a file, by counting lines. */
static void record_range(const char *id, const char *ext, int idx, long *ret_off, long *ret_len)
{
	char p[256];
	path_of(id, ext, p, sizeof(p));
	FILE *f = fopen(p, "re");
	assert_non_null(f);
	char *line = NULL;
	size_t cap = 0;
	long off = 0;
	ssize_t n = 0;
	for (int i = 0; i <= idx; i++) {
		if (i)
			off += n;
		n = getline(&line, &cap, f);
		assert_true(n > 0);
	}
	*ret_off = off;
	*ret_len = n - 1;
	free(line);
	fclose(f);
}

static void test_changed_byte_is_located(void **state)
{
	write_sample("flip");
	long off, len;
	record_range("flip", "cast", 4, &off, &len);
	flip_byte("flip", "cast", off + len - 3);
	struct recording_verify_result v;
	assert_int_equal(recording_verify(dir, "flip", digest, &v), 0);
	assert_false(v.ok);
	assert_string_equal(v.file, "cast");
	assert_int_equal(v.index, 4);
	assert_int_equal(v.offset, off);
	assert_int_equal(v.length, len);
	assert_non_null(strstr(v.reason, "differs"));

	/* The same in the event log. */
	write_sample("flip-log");
	record_range("flip-log", "log", 1, &off, &len);
	flip_byte("flip-log", "log", off + 2);
	assert_int_equal(recording_verify(dir, "flip-log", digest, &v), 0);
	assert_false(v.ok);
	assert_string_equal(v.file, "log");
	assert_int_equal(v.index, 1);
	assert_int_equal(v.offset, off);
}

static void test_truncated_and_appended(void **state)
{
	write_sample("trunc");
	long off, len;
	record_range("trunc", "cast", 6, &off, &len);
	char p[256];
	path_of("trunc", "cast", p, sizeof(p));
	assert_int_equal(truncate(p, off + 5), 0);
	struct recording_verify_result v;
	assert_int_equal(recording_verify(dir, "trunc", NULL, &v), 0);
	assert_false(v.ok);
	assert_string_equal(v.file, "cast");
	assert_int_equal(v.index, 6);
	assert_non_null(strstr(v.reason, "truncated"));

	/* Whole records cut off. */
	assert_int_equal(truncate(p, off), 0);
	assert_int_equal(recording_verify(dir, "trunc", NULL, &v), 0);
	assert_false(v.ok);
	assert_int_equal(v.index, 6);
	assert_int_equal(v.offset, off);
	assert_non_null(strstr(v.reason, "truncated"));

	write_sample("append");
	path_of("append", "cast", p, sizeof(p));
	FILE *f = fopen(p, "ae");
	fputs("[9.000000,\"o\",\"rm -rf /\"]\n", f);
	fclose(f);
	assert_int_equal(recording_verify(dir, "append", NULL, &v), 0);
	assert_false(v.ok);
	assert_int_equal(v.index, 8);
	assert_non_null(strstr(v.reason, "appended"));
}

/* Rewriting a record and recomputing the sidecar to match is caught by the digest kept off
 * the node. */
static void test_rewritten_sidecar(void **state)
{
	write_sample("forged");
	char keep[RECORDING_DIGEST_LEN];
	memcpy(keep, digest, sizeof(keep));
	/* Forge: write a different session under the same id, in a scratch dir, and move it in. */
	char p[256], q[256];
	path_of("forged", "cast", p, sizeof(p));
	path_of("forged", "log", q, sizeof(q));
	unlink(p);
	unlink(q);
	path_of("forged", "chain", p, sizeof(p));
	unlink(p);
	json_t *k = json_pack("{s:s}", "pod", "web-0");
	struct recording_meta m = {.id = "forged", .width = 100, .height = 30, .kubernetes = k};
	struct recording *r = NULL;
	assert_int_equal(recording_open(dir, &m, &r), 0);
	json_decref(k);
	assert_int_equal(recording_data(r, 1000, RECORDING_OUTPUT, "nothing to see", 14), 0);
	char other[RECORDING_DIGEST_LEN];
	assert_int_equal(recording_finish(r, NULL, other), 0);
	recording_free(r);
	struct recording_verify_result v;
	assert_int_equal(recording_verify(dir, "forged", NULL, &v), 0);
	assert_true(v.ok); /* self-consistent */
	assert_int_equal(recording_verify(dir, "forged", keep, &v), 0);
	assert_false(v.ok);
	assert_non_null(strstr(v.reason, "rewritten"));
}

static void test_unfinished_and_unknown(void **state)
{
	struct recording_meta m = {.id = "open", .width = 80, .height = 24};
	struct recording *r = NULL;
	assert_int_equal(recording_open(dir, &m, &r), 0);
	assert_int_equal(recording_data(r, 1, RECORDING_OUTPUT, "x", 1), 0);
	assert_int_equal(recording_flush(r), 0);
	struct recording_verify_result v;
	assert_int_equal(recording_verify(dir, "open", NULL, &v), 0);
	assert_false(v.ok);
	assert_false(v.finished);
	assert_non_null(strstr(v.reason, "no trailer"));
	recording_free(r);
	assert_int_equal(recording_open(dir, &m, &r), -EEXIST);
	assert_int_equal(recording_verify(dir, "missing", NULL, &v), -ENOENT);
	assert_int_equal(recording_verify(dir, "../etc", NULL, &v), -EINVAL);
	assert_false(recording_id_valid(".hidden"));
	assert_false(recording_id_valid("a/b"));
}

static void test_utf8_sanitize(void **state)
{
	struct buf out = BUF_INIT(1024);
	struct utf8_carry c = {0};
	size_t rep = 0;
	/* Invalid bytes become U+FFFD; a split 4-byte character is carried. */
	assert_int_equal(utf8_sanitize(&c,
				       "a\xff"
				       "b\xf0\x9f",
				       5, false, &out, &rep),
			 0);
	assert_int_equal(rep, 1);
	assert_string_equal(buf_str(&out), "a\xef\xbf\xbd"
					   "b");
	assert_int_equal(c.n, 2);
	assert_int_equal(utf8_sanitize(&c, "\x98\x80!", 3, false, &out, &rep), 0);
	assert_string_equal(buf_str(&out), "a\xef\xbf\xbd"
					   "b\xf0\x9f\x98\x80!");
	/* A carried prefix followed by something else: the prefix is replaced, the rest kept. */
	buf_reset(&out);
	assert_int_equal(utf8_sanitize(&c, "\xe2", 1, false, &out, &rep), 0);
	assert_int_equal(utf8_sanitize(&c, "A\xe2\x82\xac", 4, false, &out, &rep), 0);
	assert_string_equal(buf_str(&out), "\xef\xbf\xbd"
					   "A\xe2\x82\xac");
	/* Overlong and surrogate encodings are invalid. */
	buf_reset(&out);
	assert_int_equal(utf8_sanitize(&c, "\xc0\xaf\xed\xa0\x80", 5, true, &out, &rep), 0);
	assert_int_equal(rep, 5);
	buf_free(&out);
}

/* The escaper against the plainest possible one, over runs longer than its staging block
 * and every byte value that needs escaping. */
static void test_escape_long_runs(void **state)
{
	size_t n = 70000;
	char *in = malloc(n);
	assert_non_null(in);
	for (size_t i = 0; i < n; i++)
		in[i] = (char)('a' + i % 26);
	/* Escapes at the start, densely in one place, and none for 20000 bytes after that. */
	for (size_t i = 0; i < 300; i++)
		in[100 + i] = (char)(i % 0x20);
	in[0] = '"', in[1] = '\\', in[2] = 0x7f, in[20000] = '\n', in[n - 1] = '\r';
	struct buf got = BUF_INIT(8 * n), want = BUF_INIT(8 * n);
	assert_int_equal(json_escape_append(&got, in, n), 0);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		char e[8];
		if (c == '"' || c == '\\')
			snprintf(e, sizeof(e), "\\%c", c);
		else if (c == '\n')
			snprintf(e, sizeof(e), "\\n");
		else if (c == '\r')
			snprintf(e, sizeof(e), "\\r");
		else if (c == '\t')
			snprintf(e, sizeof(e), "\\t");
		else if (c < 0x20 || c == 0x7f)
			snprintf(e, sizeof(e), "\\u%04x", c);
		else
			e[0] = (char)c, e[1] = '\0';
		assert_int_equal(buf_append_str(&want, e), 0);
	}
	assert_int_equal(got.len, want.len);
	assert_memory_equal(got.data, want.data, want.len);
	/* ASCII read eight bytes at a time, then a character that is not at a word boundary. */
	struct buf out = BUF_INIT(1024);
	struct utf8_carry c = {0};
	size_t replaced = 0;
	assert_int_equal(utf8_sanitize(&c,
				       "0123456789abc\xe2\x82\xac\xff"
				       "def",
				       20, false, &out, &replaced),
			 0);
	assert_string_equal(buf_str(&out), "0123456789abc\xe2\x82\xac\xef\xbf\xbd"
					   "def");
	assert_int_equal(replaced, 1);
	buf_free(&out);
	buf_free(&got);
	buf_free(&want);
	free(in);
}

/* A gap of unknown size (capture attached after the first exec) says why, in both files. */
static void test_gap_reason(void **state)
{
	struct recording_meta m = {.id = "late", .width = 80, .height = 24, .start_unix_us = 1};
	struct recording *r = NULL;
	assert_int_equal(recording_open(dir, &m, &r), 0);
	assert_int_equal(
		recording_gap_reason(r, 10, "capture attached 1234 us after the start", 1234), 0);
	assert_int_equal(recording_data(r, 2000, RECORDING_OUTPUT, "x", 1), 0);
	char d[RECORDING_DIGEST_LEN];
	assert_int_equal(recording_finish(r, NULL, d), 0);
	recording_free(r);
	struct recording_verify_result v;
	assert_int_equal(recording_verify(dir, "late", d, &v), 0);
	assert_true(v.ok);
	char path[128], b[4096];
	path_of("late", "cast", path, sizeof(path));
	FILE *f = fopen(path, "re");
	assert_non_null(f);
	size_t got = fread(b, 1, sizeof(b) - 1, f);
	b[got] = '\0';
	fclose(f);
	assert_non_null(
		strstr(b, "[0.000010,\"m\",\"gap: capture attached 1234 us after the start\"]"));
	path_of("late", "log", path, sizeof(path));
	f = fopen(path, "re");
	assert_non_null(f);
	got = fread(b, 1, sizeof(b) - 1, f);
	b[got] = '\0';
	fclose(f);
	assert_string_equal(b, "{\"capture_delay_us\":1234,\"reason\":\"capture attached 1234 us "
			       "after the start\",\"t_us\":10,\"type\":\"gap\"}\n");
}

/* The session's records, the same in both modes. */
static void write_body(struct recording *r)
{
	assert_int_equal(recording_data(r, 1000, RECORDING_OUTPUT, "$ ", 2), 0);
	json_t *ev = json_pack("{s:s,s:[s]}", "type", "exec", "argv", "id");
	assert_int_equal(recording_log(r, 1500, ev), 0);
	json_decref(ev);
	assert_int_equal(recording_data(r, 2000, RECORDING_OUTPUT, "uid=0\r\n", 7), 0);
}

static int file_cmp(const char *a, const char *b)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "cmp -s '%s' '%s'", a, b);
	return system(cmd);
}

/* A header committed after records were written makes the same files as one that was
 * known at the start; finishing, or passing the pending cap, commits it as it is. */
static void test_deferred_header(void **state)
{
	json_t *k = json_pack("{s:s,s:s}", "namespace", "prod", "pod", "web-0");
	json_t *who = json_pack("{s:{s:s,s:[s]},s:s}", "user", "username", "alice", "groups",
				"auditors", "execSession", "exec-1");
	json_t *full = json_deep_copy(k);
	json_object_update(full, who);
	char d1[RECORDING_DIGEST_LEN], d2[RECORDING_DIGEST_LEN], d3[RECORDING_DIGEST_LEN];

	struct recording_meta m = {
		.id = "known", .start_unix_us = 1700000000000000ull, .kubernetes = full};
	struct recording *r = NULL;
	assert_int_equal(recording_open(dir, &m, &r), 0);
	assert_false(recording_header_pending(r));
	assert_int_equal(recording_commit_header(r, who), -EALREADY);
	write_body(r);
	assert_int_equal(recording_finish(r, NULL, d1), 0);
	recording_free(r);

	m = (struct recording_meta){.id = "later",
				    .start_unix_us = 1700000000000000ull,
				    .kubernetes = k,
				    .defer_header = true};
	assert_int_equal(recording_open(dir, &m, &r), 0);
	assert_true(recording_header_pending(r));
	write_body(r);
	assert_int_equal(recording_flush(r), 0);
	char p1[256], p2[256];
	path_of("later", "cast", p1, sizeof(p1));
	struct stat st;
	assert_int_equal(stat(p1, &st), 0);
	assert_int_equal(st.st_size, 0); /* nothing reaches the file before the header */
	assert_true(recording_pending_bytes(r) > 0);
	assert_int_equal(recording_commit_header(r, who), 0);
	assert_false(recording_header_pending(r));
	assert_int_equal(recording_finish(r, NULL, d2), 0);
	recording_free(r);
	assert_string_equal(d1, d2);
	static const char *const exts[] = {"cast", "log", "chain"};
	for (size_t i = 0; i < 3; i++) {
		path_of("known", exts[i], p1, sizeof(p1));
		path_of("later", exts[i], p2, sizeof(p2));
		assert_int_equal(file_cmp(p1, p2), 0);
	}
	struct recording_verify_result v;
	assert_int_equal(recording_verify(dir, "later", d1, &v), 0);
	assert_true(v.ok);

	/* Never committed: finishing writes the header without the identity. */
	m.id = "never";
	assert_int_equal(recording_open(dir, &m, &r), 0);
	write_body(r);
	assert_int_equal(recording_finish(r, NULL, d3), 0);
	recording_free(r);
	assert_int_equal(recording_verify(dir, "never", d3, &v), 0);
	assert_true(v.ok);
	assert_int_equal(v.cast_records, 3);
	path_of("never", "cast", p1, sizeof(p1));
	FILE *f = fopen(p1, "r");
	assert_non_null(f);
	char line[1024];
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	assert_non_null(strstr(line, "\"pod\":\"web-0\""));
	assert_null(strstr(line, "alice"));

	/* Past the cap the header goes out as it is and nothing is lost. */
	m.id = "big";
	assert_int_equal(recording_open(dir, &m, &r), 0);
	static char chunk[64 << 10];
	memset(chunk, 'x', sizeof(chunk));
	size_t total = 0;
	for (uint64_t t = 1; recording_header_pending(r); t++) {
		assert_int_equal(recording_data(r, t, RECORDING_OUTPUT, chunk, sizeof(chunk)), 0);
		total += sizeof(chunk);
		assert_true(total <= 2 * RECORDING_PENDING_MAX);
	}
	assert_int_equal(recording_pending_bytes(r), 0);
	assert_int_equal(recording_commit_header(r, who), -EALREADY);
	assert_int_equal(recording_finish(r, NULL, d3), 0);
	assert_int_equal(recording_bytes(r), total);
	recording_free(r);
	assert_int_equal(recording_verify(dir, "big", d3, &v), 0);
	assert_true(v.ok);
	assert_int_equal(v.cast_records, 1 + total / sizeof(chunk));

	json_decref(k);
	json_decref(who);
	json_decref(full);
}

static void test_prune(void **state)
{
	write_sample("old-1");
	write_sample("old-2");
	char p[256];
	path_of("old-1", "chain", p, sizeof(p));
	unsigned deleted = 0;
	const char *keep[] = {"old-2"};
	/* Everything is "older" than 0 s in the future: all but the kept one go. */
	assert_int_equal(recording_prune(dir, 1, 0, (uint64_t)time(NULL) + 3600, keep, 1, &deleted),
			 0);
	assert_true(deleted >= 1);
	assert_int_equal(access(p, F_OK), -1);
	path_of("old-2", "chain", p, sizeof(p));
	assert_int_equal(access(p, F_OK), 0);
	/* Size limit: nothing kept, everything goes. */
	assert_int_equal(recording_prune(dir, 0, 1, (uint64_t)time(NULL), NULL, 0, &deleted), 0);
	assert_int_equal(access(p, F_OK), -1);
}

static void test_parse_rejects(void **state)
{
	struct field_error err = {0};
	struct cast_event e;
	json_t *h;
	assert_int_equal(cast_parse_event("[1,\"o\"]", 7, &e, &err), -EINVAL);
	assert_string_equal(err.field, "event");
	memset(&err, 0, sizeof(err));
	assert_int_equal(cast_parse_event("[-1,\"o\",\"x\"]", 12, &e, &err), -EINVAL);
	assert_string_equal(err.field, "event[0]");
	memset(&err, 0, sizeof(err));
	assert_int_equal(cast_parse_header("{\"version\":1}", 13, &h, &err), -EINVAL);
	assert_string_equal(err.field, "header.version");
	memset(&err, 0, sizeof(err));
	assert_int_equal(
		cast_parse_header("{\"version\":2,\"width\":0,\"height\":2}", 34, &h, &err),
		-EINVAL);
	assert_string_equal(err.field, "header.width");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_changed_byte_is_located),
		cmocka_unit_test(test_truncated_and_appended),
		cmocka_unit_test(test_rewritten_sidecar),
		cmocka_unit_test(test_unfinished_and_unknown),
		cmocka_unit_test(test_utf8_sanitize),
		cmocka_unit_test(test_escape_long_runs),
		cmocka_unit_test(test_gap_reason),
		cmocka_unit_test(test_deferred_header),
		cmocka_unit_test(test_prune),
		cmocka_unit_test(test_parse_rejects),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
