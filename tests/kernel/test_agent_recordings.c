/* The controller → agent recordings leg end to end on loopback: the agent's real recordings
 * listener (self-signed key, bearer secret) over a temp recordings dir, and the controller's
 * agent_recordings_fetch() with the pin and token the agent would announce on its stream.
 * Right token and pin: the bytes of a 6 MiB file arrive unchanged; the summary; wrong token:
 * 401 and nothing written; wrong pin: an error naming the pin; bad id: 400; unknown: 404;
 * nothing listening: connection refused. The pin is also compared with the openssl CLI's
 * digest of the certificate's public key. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "controller/recordings/agent_recordings.h"
#include "nodeagent/exec/recordings_server.h"

#define ID	  "node-a-00000000000000ff"
#define BIG_BYTES (6u << 20)

struct fixture {
	char dir[64], rec[96], state[96];
	struct recordings_server *srv;
	struct recordings_advert adv;
	struct agent_recordings_ep ep;
};

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/bulwark-agentrec-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->rec, sizeof(f->rec), "%s/recordings", f->dir);
	snprintf(f->state, sizeof(f->state), "%s/state", f->dir);
	assert_int_equal(mkdir(f->rec, 0700), 0);
	assert_int_equal(mkdir(f->state, 0700), 0);

	/* A large cast with every byte value, a log, and a chain ending in its trailer. */
	unsigned char *big = malloc(BIG_BYTES);
	for (size_t i = 0; i < BIG_BYTES; i++)
		big[i] = (unsigned char)(i * 7 + i / 4093);
	write_file(f->rec, ID ".cast", big, BIG_BYTES);
	free(big);
	write_file(f->rec, ID ".log", "{\"t_us\":0,\"type\":\"open\"}\n", 25);
	static const char chain[] = "{\"f\":\"cast\",\"h\":\"00\",\"i\":0,\"len\":1,\"off\":0}\n"
				    "{\"digest\":\"sha256:00\",\"final\":true}\n";
	write_file(f->rec, ID ".chain", chain, sizeof(chain) - 1);
	write_file(f->rec, "unfinished.chain", chain, 44);

	struct recordings_server_config cfg = {
		.address = "127.0.0.1", .port = 0, .recordings_dir = f->rec, .state_dir = f->state};
	assert_int_equal(recordings_server_new(&cfg, &f->srv), 0);
	assert_int_equal(recordings_server_advert(f->srv, &f->adv), 0);
	/* What the controller makes of the stream headers. */
	struct field_error err = {0};
	assert_int_equal(
		agent_recordings_ep_parse(f->adv.url, f->adv.pin, f->adv.token, &f->ep, &err), 0);
	*state = f;
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	recordings_server_free(f->srv);
	nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* A fetch into a fresh temp file; returns the file's fd (at offset 0) or -1 for an error. */
static int fetch(const struct agent_recordings_ep *ep, const char *id, const char *kind,
		 int *ret_rc, int *ret_status, char *err, size_t size)
{
	char path[] = "/tmp/bulwark-agentrec-out-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	*ret_status = -1;
	*ret_rc = agent_recordings_fetch(ep, id, kind, fd, ret_status, err, size);
	lseek(fd, 0, SEEK_SET);
	return fd;
}

static void assert_same_bytes(int fd, const char *path)
{
	FILE *a = fdopen(fd, "r"), *b = fopen(path, "re");
	assert_non_null(a);
	assert_non_null(b);
	size_t n = 0;
	for (;;) {
		int ca = fgetc(a), cb = fgetc(b);
		assert_int_equal(ca, cb);
		if (ca == EOF)
			break;
		n++;
	}
	assert_true(n > 0);
	fclose(a);
	fclose(b);
}

static void files_and_summary(void **state)
{
	struct fixture *f = *state;
	char err[512] = "", path[256];
	int rc, status;
	static const char *const kinds[] = {"cast", "log", "chain"};
	for (size_t i = 0; i < 3; i++) {
		int fd = fetch(&f->ep, ID, kinds[i], &rc, &status, err, sizeof(err));
		assert_int_equal(rc, 0);
		assert_int_equal(status, 200);
		snprintf(path, sizeof(path), "%s/" ID ".%s", f->rec, kinds[i]);
		assert_same_bytes(fd, path);
	}

	int fd = fetch(&f->ep, ID, NULL, &rc, &status, err, sizeof(err));
	assert_int_equal(rc, 0);
	assert_int_equal(status, 200);
	FILE *in = fdopen(fd, "r");
	json_t *j = json_loadf(in, 0, NULL);
	fclose(in);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "id")), ID);
	json_t *files = json_object_get(j, "files");
	assert_int_equal(json_integer_value(json_object_get(files, "cast")), BIG_BYTES);
	assert_int_equal(json_integer_value(json_object_get(files, "log")), 25);
	assert_true(json_is_true(json_object_get(j, "complete")));
	json_decref(j);

	/* A chain without its trailer: not complete; no cast or log: absent from files. */
	fd = fetch(&f->ep, "unfinished", NULL, &rc, &status, err, sizeof(err));
	assert_int_equal(status, 200);
	in = fdopen(fd, "r");
	j = json_loadf(in, 0, NULL);
	fclose(in);
	assert_true(json_is_false(json_object_get(j, "complete")));
	assert_null(json_object_get(json_object_get(j, "files"), "cast"));
	json_decref(j);
}

static void refusals(void **state)
{
	struct fixture *f = *state;
	char err[512] = "";
	int rc, status;

	/* Wrong token: 401, and nothing reaches the output. */
	struct agent_recordings_ep wrong = f->ep;
	wrong.token[10] = wrong.token[10] == 'a' ? 'b' : 'a';
	int fd = fetch(&wrong, ID, "cast", &rc, &status, err, sizeof(err));
	assert_int_equal(rc, 0);
	assert_int_equal(status, 401);
	assert_int_equal(lseek(fd, 0, SEEK_END), 0);
	assert_non_null(strstr(err, "401"));
	close(fd);

	/* Unknown id: 404 with the agent's reason. */
	fd = fetch(&f->ep, "node-a-0000000000000000", "log", &rc, &status, err, sizeof(err));
	assert_int_equal(rc, 0);
	assert_int_equal(status, 404);
	assert_non_null(strstr(err, "not on this node"));
	close(fd);
	fd = fetch(&f->ep, "node-a-0000000000000000", NULL, &rc, &status, err, sizeof(err));
	assert_int_equal(status, 404);
	close(fd);

	/* Ids the fetcher itself refuses never leave the controller. */
	fd = fetch(&f->ep, "../state/recordings-tls", "key", &rc, &status, err, sizeof(err));
	assert_int_equal(rc, -EINVAL);
	close(fd);
	fd = fetch(&f->ep, "a..b", "cast", &rc, &status, err, sizeof(err));
	assert_int_equal(rc, -EINVAL);
	close(fd);

	/* Wrong pin (another key's): refused, and the error names the pin. */
	struct cert_options o = {.dns_names = (const char *const[]){"bulwark-agent"},
				 .n_dns_names = 1};
	char *cert, *key;
	assert_int_equal(certs_self_signed(&o, time(NULL), &cert, &key), 0);
	struct agent_recordings_ep other = f->ep;
	assert_int_equal(certs_pin(cert, other.pin), 0);
	free(cert);
	free(key);
	fd = fetch(&other, ID, "cast", &rc, &status, err, sizeof(err));
	assert_int_equal(rc, -EKEYREJECTED);
	assert_non_null(strstr(err, "pin"));
	assert_int_equal(lseek(fd, 0, SEEK_END), 0);
	close(fd);

	/* Nothing listening there. */
	struct agent_recordings_ep gone = f->ep;
	snprintf(gone.url, sizeof(gone.url), "https://127.0.0.1:1");
	fd = fetch(&gone, ID, "cast", &rc, &status, err, sizeof(err));
	assert_int_equal(rc, -ECONNREFUSED);
	assert_non_null(strstr(err, "connect"));
	close(fd);
}

/* The agent's own checks, with requests the fetcher would not send. */
static long raw_get(struct fixture *f, const char *path, const char *token)
{
	char url[256], auth[128];
	snprintf(url, sizeof(url), "%s%s", f->adv.url, path);
	CURL *h = curl_easy_init();
	struct curl_slist *headers = NULL;
	if (token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		headers = curl_slist_append(headers, auth);
	}
	FILE *sink = fopen("/dev/null", "we");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, f->adv.pin);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, sink);
	assert_int_equal(curl_easy_perform(h), CURLE_OK);
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	fclose(sink);
	curl_slist_free_all(headers);
	curl_easy_cleanup(h);
	return status;
}

static void agent_checks(void **state)
{
	struct fixture *f = *state;
	const char *token = f->adv.token;
	assert_int_equal(raw_get(f, "/v1/recordings/" ID ".cast", NULL), 401);
	assert_int_equal(raw_get(f, "/v1/recordings/" ID ".cast", "short"), 401);
	assert_int_equal(raw_get(f, "/v1/recordings/" ID ".cast", token), 200);
	assert_int_equal(raw_get(f, "/v1/recordings/a..b.cast", token), 400);
	assert_int_equal(raw_get(f, "/v1/recordings/.hidden.log", token), 400);
	assert_int_equal(raw_get(f, "/v1/recordings/a%2Fb.log", token), 400);
	assert_int_equal(raw_get(f, "/v1/recordings/../state/recordings-tls.key", token), 400);
	assert_int_equal(raw_get(f, "/v1/recordings/", token), 400);
	/* A link in the recordings dir is not followed. */
	char target[160], link[160];
	snprintf(target, sizeof(target), "%s/recordings-tls.key", f->state);
	snprintf(link, sizeof(link), "%s/linked.cast", f->rec);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(raw_get(f, "/v1/recordings/linked.cast", token), 404);
}

/* The key and certificate files are 0600 and the pin is what the openssl CLI computes from
 * the certificate's public key. */
static void pin_matches_openssl(void **state)
{
	struct fixture *f = *state;
	char path[160];
	static const char *const files[] = {"recordings-tls.crt", "recordings-tls.key"};
	for (size_t i = 0; i < 2; i++) {
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", f->state, files[i]);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
	}
	if (system("command -v openssl >/dev/null 2>&1") != 0) {
		print_message("# openssl CLI not installed: pin comparison skipped\n");
		skip();
	}
	char cmd[512];
	snprintf(cmd, sizeof(cmd),
		 "openssl x509 -in %s/recordings-tls.crt -pubkey -noout | openssl pkey -pubin "
		 "-outform der | openssl dgst -sha256 -binary | base64",
		 f->state);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	char out[128] = "";
	assert_non_null(fgets(out, sizeof(out), p));
	assert_int_equal(pclose(p), 0);
	out[strcspn(out, "\n")] = '\0';
	char expected[160];
	snprintf(expected, sizeof(expected), "sha256//%s", out);
	assert_string_equal(f->adv.pin, expected);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(files_and_summary, setup, teardown),
		cmocka_unit_test_setup_teardown(refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(agent_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(pin_matches_openssl, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
