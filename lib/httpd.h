/* The HTTPS server every Bulwark binary uses (webhook reviews, the controller's push stream,
 * /metrics and /healthz), on libmicrohttpd with GnuTLS.
 *
 * - TLS 1.2+ only. The certificate and key are read from files and re-read when the files
 *   change (checked at most once a second, at handshake time), so a rotated certificate is
 *   served without a restart and in-flight connections keep theirs.
 * - Every request body is capped (max_body); a larger one gets 413 and is never buffered.
 * - Idle connections time out (timeout_s); the connection count is bounded.
 * - Two threading modes: a fixed pool (short requests: admission reviews) or a thread per
 *   connection (long-lived streams whose reader may block until it has data).
 * Plain HTTP is available only when no certificate is configured, for loopback-only
 * endpoints and tests. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct httpd;
struct httpd_request;

enum httpd_threading {
	HTTPD_THREAD_POOL,
	HTTPD_THREAD_PER_CONNECTION,
};

struct httpd_config {
	const char *address;	  /* listen address, e.g. "127.0.0.1" or "::"; NULL: all IPv4 */
	uint16_t port;		  /* 0: any free port, see httpd_port() */
	const char *cert_file;	  /* PEM certificate chain; NULL with key_file NULL: plain HTTP */
	const char *key_file;	  /* PEM private key */
	size_t max_body;	  /* request body cap in bytes (default 1 MiB) */
	unsigned threads;	  /* HTTPD_THREAD_POOL size (default 4) */
	unsigned timeout_s;	  /* idle connection timeout (default 10 s) */
	unsigned max_connections; /* default 1024 */
	enum httpd_threading threading;
	/* PEM CA bundle: a client certificate is asked for (not required) and
	 * httpd_request_client_cert() reports whether it chains to one of these. TLS only. */
	const char *client_ca_pem;
};

/* A streamed response body: read() fills up to max bytes of buf and returns how many, 0 to
 * mean "nothing yet, call again" (HTTPD_THREAD_PER_CONNECTION only: it may block a while
 * instead), -1 to end the stream, or HTTPD_STREAM_ABORT when the body cannot be completed:
 * the connection is then closed without the final chunk, so the client sees a truncated
 * transfer, never a short body that looks whole. free_ctx() runs once when the connection is
 * done. */
#define HTTPD_STREAM_ABORT (-2)
struct httpd_stream {
	long (*read)(void *ctx, char *buf, size_t max);
	void (*free_ctx)(void *ctx);
	void *ctx;
};

struct httpd_response {
	int status;		    /* default 200 */
	const char *content_type;   /* default application/json */
	struct buf body;	    /* capped at 64 MiB */
	struct httpd_stream stream; /* set read to stream instead of sending body */
};

/* Returns 0 or a negative errno; on error without a status set, the server answers 500. */
typedef int (*httpd_handler_fn)(const struct httpd_request *req, struct httpd_response *resp,
				void *userdata);

int httpd_new(const struct httpd_config *config, struct httpd **ret);
/* Stops accepting, waits for handlers to return, frees. NULL-safe; returns NULL. */
struct httpd *httpd_free(struct httpd *h);

/* Routes are matched in registration order; a path ending in '*' matches by prefix.
 * method NULL matches any method. Register before httpd_start(). */
int httpd_route(struct httpd *h, const char *method, const char *path, httpd_handler_fn fn,
		void *userdata);
int httpd_start(struct httpd *h);
uint16_t httpd_port(const struct httpd *h);

const char *httpd_request_method(const struct httpd_request *req);
const char *httpd_request_path(const struct httpd_request *req);
/* NULL when absent. */
const char *httpd_request_header(const struct httpd_request *req, const char *name);
const char *httpd_request_query(const struct httpd_request *req, const char *name);
const char *httpd_request_body(const struct httpd_request *req, size_t *ret_len);
/* Every value of a header that may repeat (X-Remote-Group), at most max into ret; the count. */
size_t httpd_request_header_values(const struct httpd_request *req, const char *name,
				   const char **ret, size_t max);
/* The verified client certificate (see client_ca_pem): 0 with its subject's common name in
 * ret_cn; -ENOENT when none was presented (or the server asks for none); -EACCES when it does
 * not chain to the configured CAs, has expired, or is not meant for client authentication. */
int httpd_request_client_cert(const struct httpd_request *req, char *ret_cn, size_t size);
/* The client's certificate chain as it was presented (DER, leaf first), NOT verified: for a
 * caller that verifies it against a trust list that changes while the server runs (the
 * daemon's own list is fixed at httpd_start()). The TLS handshake has proven that the client
 * holds the leaf's key. Up to max certificates into ret, valid until the handler returns;
 * the count, 0 when none was presented. */
struct httpd_der {
	const unsigned char *data;
	size_t len;
};
size_t httpd_request_client_chain(const struct httpd_request *req, struct httpd_der *ret,
				  size_t max);
/* "Bearer TOKEN" → TOKEN, else NULL. */
const char *httpd_request_bearer_token(const struct httpd_request *req);

/* Convenience for handlers: a JSON error body {"error": msg} with the status. */
int httpd_respond_error(struct httpd_response *resp, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
