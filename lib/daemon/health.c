/* /healthz, /readyz and /metrics (health.h). */
#include "daemon/health.h"

#include "httpd.h"
#include "metrics.h"

static int on_healthz(const struct httpd_request *req, struct httpd_response *resp, void *ud)
{
	const struct daemon_health *h = ud;
	if (h->health)
		return h->health(h->userdata, resp);
	resp->content_type = "text/plain";
	return buf_append_str(&resp->body, "ok\n");
}

static int on_readyz(const struct httpd_request *req, struct httpd_response *resp, void *ud)
{
	const struct daemon_health *h = ud;
	char reason[256] = "not ready";
	resp->content_type = "text/plain";
	if (h->ready && !h->ready(h->userdata, reason, sizeof(reason))) {
		resp->status = 503;
		return buf_printf(&resp->body, "%s\n", reason);
	}
	return buf_append_str(&resp->body, "ok\n");
}

static int on_metrics(const struct httpd_request *req, struct httpd_response *resp, void *ud)
{
	const struct daemon_health *h = ud;
	resp->content_type = "text/plain; version=0.0.4";
	return metrics_render(h->registry, &resp->body);
}

int daemon_health_routes(struct httpd *h, const struct daemon_health *health)
{
	int r = httpd_route(h, "GET", "/healthz", on_healthz, (void *)health);
	r = r ?: httpd_route(h, "GET", "/readyz", on_readyz, (void *)health);
	if (health->registry)
		r = r ?: httpd_route(h, "GET", "/metrics", on_metrics, (void *)health);
	return r;
}
