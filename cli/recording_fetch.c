#include "cli/recording_fetch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "cleanup.h"
#include "kube/client.h"
#include "kube/config.h"

#define API_PREFIX   "/apis/recordings.bulwark.dev/v1/namespaces/"
#define STATUS_BYTES 4096 /* of an error body kept to print its message */

static const char prog[] = "kubectl-bulwark";

/* The id is used as a file name: it must be one, whatever the server says. */
static bool id_valid(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n >= sizeof(((struct fetched_recording *)0)->id) || id[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') ||
		      (id[i] >= '0' && id[i] <= '9') || id[i] == '-' || id[i] == '_' ||
		      id[i] == '.'))
			return false;
	return true;
}

struct sink {
	int fd;
	int err;
};

static size_t write_to_fd(char *data, size_t size, size_t n, void *ud)
{
	struct sink *s = ud;
	size_t len = size * n, done = 0;
	while (done < len) {
		ssize_t w = write(s->fd, data + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			s->err = errno ? -errno : -EIO;
			return 0;
		}
		done += (size_t)w;
	}
	return len;
}

/* Prints why the API server (or the controller behind it) refused: the Status message. */
static void print_refusal(const char *what, long code, int fd)
{
	char body[STATUS_BYTES + 1];
	ssize_t n = pread(fd, body, STATUS_BYTES, 0);
	body[n > 0 ? n : 0] = '\0';
	json_auto_t *st = json_loads(body, 0, NULL);
	const char *msg = json_string_value(json_object_get(st, "message"));
	fprintf(stderr, "%s: %s: %ld %s\n", prog, what, code, msg ? msg : body);
}

/* GET path into the file dir/file (0600). */
static int download(struct kube_client *c, const char *server, const char *path, const char *dir,
		    const char *file)
{
	char url[2048], dest[PATH_MAX + 256];
	snprintf(url, sizeof(url), "%s%s", server, path);
	snprintf(dest, sizeof(dest), "%s/%s", dir, file);
	_cleanup_close_ int fd = open(dest, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	CURL *h = curl_easy_init();
	if (!h)
		return -ENOMEM;
	struct curl_slist *headers = NULL;
	struct sink s = {.fd = fd};
	int r = kube_client_prepare_handle(c, h, url, &headers);
	if (r == 0) {
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers); /* Accept and credentials */
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_to_fd);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
		/* No overall deadline (a long session is large); a stalled one is given up. */
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
		CURLcode cc = curl_easy_perform(h);
		long code = 0;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
		if (cc != CURLE_OK) {
			fprintf(stderr, "%s: downloading %s: %s\n", prog, path,
				curl_easy_strerror(cc));
			r = s.err ? s.err : kube_curl_errno(cc);
		} else if (code != 200) {
			print_refusal(path, code, fd);
			r = code == 404 ? -ENOENT : code == 401 || code == 403 ? -EACCES : -EIO;
		}
	}
	curl_slist_free_all(headers);
	curl_easy_cleanup(h);
	if (r < 0)
		unlink(dest);
	return r;
}

int cli_fetch_recording(const char *kubeconfig, const char *context, const char *ns,
			const char *name, bool all, struct fetched_recording *ret)
{
	struct field_error ferr = {0};
	struct kube_config *cfg = NULL;
	struct kube_client *c = NULL;
	int r = kube_config_load_default(kubeconfig, context, &cfg, &ferr);
	if (r < 0) {
		fprintf(stderr, "%s: kubeconfig: %s: %s\n", prog, ferr.field, ferr.reason);
		return r;
	}
	struct fetched_recording f = {0};
	char base[1024], path[1200];
	snprintf(base, sizeof(base), API_PREFIX "%s/recordings/%s", ns ? ns : cfg->namespace, name);
	json_auto_t *summary = NULL;
	struct kube_status st = {0};
	if ((r = kube_client_new(cfg, NULL, &c)) < 0)
		goto out;
	char url[1400];
	snprintf(url, sizeof(url), "%s%s", cfg->server, base);
	if ((r = kube_request(c, "GET", url, NULL, NULL, &summary, &st)) < 0) {
		fprintf(stderr, "%s: reading recording %s: %s\n", prog, name,
			st.message[0] ? st.message : strerror(-r));
		goto out;
	}
	const char *id = json_string_value(json_object_get(summary, "recordingID"));
	if (!id || !id_valid(id)) {
		fprintf(stderr, "%s: the recordings API named no usable recording id for %s\n",
			prog, name);
		r = -EBADMSG;
		goto out;
	}
	snprintf(f.id, sizeof(f.id), "%s", id);
	snprintf(f.digest, sizeof(f.digest), "%s",
		 json_string_value(json_object_get(summary, "digest")) ?: "");
	f.complete = json_is_true(json_object_get(summary, "complete"));
	const char *tmp = getenv("TMPDIR");
	snprintf(f.dir, sizeof(f.dir), "%s/kubectl-bulwark-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(f.dir)) {
		r = -errno;
		goto out;
	}
	static const char *const parts[] = {"cast", "log", "chain"};
	for (size_t i = 0; i < (all ? 3u : 1u) && r >= 0; i++) {
		char file[160];
		snprintf(path, sizeof(path), "%s/%s", base, parts[i]);
		snprintf(file, sizeof(file), "%s.%s", f.id, parts[i]);
		r = download(c, cfg->server, path, f.dir, file);
	}
	if (r < 0)
		cli_fetched_recording_remove(&f);
	else
		*ret = f;
out:
	kube_client_free(c);
	kube_config_free(cfg);
	return r;
}

void cli_fetched_recording_remove(struct fetched_recording *f)
{
	if (!f->dir[0])
		return;
	static const char *const parts[] = {"cast", "log", "chain"};
	for (size_t i = 0; i < 3; i++) {
		char p[PATH_MAX + 256];
		snprintf(p, sizeof(p), "%s/%s.%s", f->dir, f->id, parts[i]);
		unlink(p);
	}
	rmdir(f->dir);
	f->dir[0] = '\0';
}
