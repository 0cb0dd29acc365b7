#include "cli/web.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cleanup.h"
#include "fileio.h"
#include "httpd.h"
#include "recording/recording.h"

#define ASSET_MAX (8u << 20)

struct web {
	char cast[PATH_MAX];
	char js[PATH_MAX];
	char css[PATH_MAX];
	char title[RECORDING_ID_MAX + 1];
	double speed, idle_limit;
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = 1;
}

int web_default_player_dir(char *out, size_t size)
{
	const char *env = getenv("BULWARK_PLAYER_DIR");
	if (env && *env) {
		if ((size_t)snprintf(out, size, "%s", env) >= size)
			return -ENAMETOOLONG;
		return 0;
	}
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return -errno;
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	if ((size_t)snprintf(out, size, "%s/../share/asciinema-player", exe) >= size)
		return -ENAMETOOLONG;
	return 0;
}

static int serve_file(struct httpd_response *resp, const char *path, const char *type)
{
	int r = read_file_capped(path, &resp->body);
	if (r < 0)
		return httpd_respond_error(resp, 404, "not found");
	resp->content_type = type;
	return 0;
}

struct file_stream {
	int fd;
};

static long file_read(void *ctx, char *b, size_t max)
{
	struct file_stream *s = ctx;
	ssize_t n = read(s->fd, b, max);
	return n > 0 ? (long)n : -1;
}

static void file_free(void *ctx)
{
	struct file_stream *s = ctx;
	close(s->fd);
	free(s);
}

static int handle(const struct httpd_request *req, struct httpd_response *resp, void *ud)
{
	struct web *w = ud;
	const char *path = httpd_request_path(req);
	if (!strcmp(path, "/player.js"))
		return serve_file(resp, w->js, "text/javascript");
	if (!strcmp(path, "/player.css"))
		return serve_file(resp, w->css, "text/css");
	if (!strcmp(path, "/session.cast")) {
		/* Streamed: a long session's cast can be far larger than a response buffer. */
		struct file_stream *s = malloc(sizeof(*s));
		if (!s)
			return -ENOMEM;
		s->fd = open(w->cast, O_RDONLY | O_CLOEXEC);
		if (s->fd < 0) {
			free(s);
			return httpd_respond_error(resp, 404, "no such recording");
		}
		resp->content_type = "application/x-asciicast";
		resp->stream = (struct httpd_stream){file_read, file_free, s};
		return 0;
	}
	if (strcmp(path, "/") != 0)
		return httpd_respond_error(resp, 404, "not found");
	resp->content_type = "text/html; charset=utf-8";
	char opts[128];
	snprintf(opts, sizeof(opts), "autoPlay: true, fit: 'width', speed: %g", w->speed);
	if (w->idle_limit > 0) {
		size_t used = strlen(opts);
		snprintf(opts + used, sizeof(opts) - used, ", idleTimeLimit: %g", w->idle_limit);
	}
	/* The id is [A-Za-z0-9._-] (recording_id_valid), safe in HTML and JavaScript as is. */
	int r = buf_printf(&resp->body,
			   "<!doctype html>\n<html><head><meta charset=\"utf-8\">\n"
			   "<title>%s - kubectl bulwark replay</title>\n"
			   "<link rel=\"stylesheet\" href=\"/player.css\">\n"
			   "<style>body{background:#121314;color:#ccc;font-family:sans-serif;"
			   "margin:1em}</style>\n</head><body>\n<h3>session %s</h3>\n"
			   "<div id=\"player\"></div>\n<script src=\"/player.js\"></script>\n"
			   "<script>AsciinemaPlayer.create('/session.cast', "
			   "document.getElementById('player'), {%s});</script>\n</body></html>\n",
			   w->title, w->title, opts);
	return r < 0 ? r : 0;
}

int cli_replay_web(const char *dir, const char *id, const struct web_opts *o)
{
	if (!recording_id_valid(id))
		return -EINVAL;
	struct web w = {.speed = o->speed > 0 ? o->speed : 1.0, .idle_limit = o->idle_limit};
	snprintf(w.title, sizeof(w.title), "%s", id);
	if ((size_t)snprintf(w.cast, sizeof(w.cast), "%s/%s.cast", dir, id) >= sizeof(w.cast) ||
	    (size_t)snprintf(w.js, sizeof(w.js), "%s/asciinema-player.min.js", o->player_dir) >=
		    sizeof(w.js) ||
	    (size_t)snprintf(w.css, sizeof(w.css), "%s/asciinema-player.css", o->player_dir) >=
		    sizeof(w.css))
		return -ENAMETOOLONG;
	if (access(w.cast, R_OK) < 0)
		return -errno;
	if (access(w.js, R_OK) < 0) {
		fprintf(stderr,
			"kubectl-bulwark: the web player is not at %s (build it with make, "
			"or set BULWARK_PLAYER_DIR)\n",
			o->player_dir);
		return -ENOENT;
	}
	struct httpd_config cfg = {.address = "127.0.0.1", .port = o->port, .threads = 2};
	struct httpd *h = NULL;
	int r = httpd_new(&cfg, &h);
	if (r >= 0)
		r = httpd_route(h, "GET", "/*", handle, &w);
	if (r >= 0)
		r = httpd_start(h);
	if (r < 0) {
		httpd_free(h);
		return r;
	}
	printf("serving %s on http://127.0.0.1:%u/ (Ctrl-C to stop)\n", id, httpd_port(h));
	fflush(stdout);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	for (unsigned waited = 0; !interrupted && (!o->serve_seconds || waited < o->serve_seconds);
	     waited++)
		sleep(1);
	httpd_free(h);
	return 0;
}
