/* TokenReview, the agent's identity checks, and the review cache (agent_auth.h). */
#include "agent_auth.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canonical.h"
#include "kube/hashtab.h"

int token_identity_from_review(const json_t *review, struct token_identity *ret)
{
	const json_t *status = json_object_get(review, "status");
	if (!json_is_object(status))
		return -EINVAL;
	struct token_identity id = {0};
	id.authenticated = json_is_true(json_object_get(status, "authenticated"));
	const json_t *user = json_object_get(status, "user");
	const char *username = json_string_value(json_object_get(user, "username"));
	snprintf(id.username, sizeof(id.username), "%s", username ? username : "");
	const json_t *nodes =
		json_object_get(json_object_get(user, "extra"), AGENT_AUTH_NODE_EXTRA);
	/* A bound token names exactly one node; anything else names none. */
	if (json_array_size(nodes) == 1)
		snprintf(id.node, sizeof(id.node), "%s",
			 json_string_value(json_array_get(nodes, 0)) ?: "");
	const char *error = json_string_value(json_object_get(status, "error"));
	snprintf(id.error, sizeof(id.error), "%s", error ? error : "");
	*ret = id;
	return 0;
}

int agent_auth_check(const struct token_identity *id, const char *service_account_user,
		     const char *node, char *msg, size_t msg_size)
{
	if (!id->authenticated) {
		snprintf(msg, msg_size, "token not authenticated%s%s", *id->error ? ": " : "",
			 id->error);
		return -EACCES;
	}
	if (strcmp(id->username, service_account_user) != 0) {
		snprintf(msg, msg_size, "%s may not receive policies: only %s may", id->username,
			 service_account_user);
		return -EPERM;
	}
	if (!*id->node) {
		snprintf(msg, msg_size,
			 "token is not bound to a node (no %s extra): use a projected token of "
			 "the agent pod, or kubectl create token --bound-object-kind Node",
			 AGENT_AUTH_NODE_EXTRA);
		return -EPERM;
	}
	if (strcmp(id->node, node) != 0) {
		snprintf(msg, msg_size, "token is bound to node %s, not to %s", id->node, node);
		return -EPERM;
	}
	return 0;
}

/* ---- the cache ------------------------------------------------------------------------------- */

struct cached {
	char digest[65];
	uint64_t expires_ms;
	struct token_identity id;
};

struct token_cache {
	pthread_mutex_t lock;
	struct hashtab table;
	size_t max;
	uint64_t ttl_ok_ms, ttl_denied_ms;
};

static bool cached_eq(const void *item, const void *key)
{
	return strcmp(((const struct cached *)item)->digest, key) == 0;
}

struct token_cache *token_cache_new(size_t max, uint64_t ttl_ok_ms, uint64_t ttl_denied_ms)
{
	struct token_cache *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	pthread_mutex_init(&c->lock, NULL);
	c->max = max ? max : 1;
	c->ttl_ok_ms = ttl_ok_ms;
	c->ttl_denied_ms = ttl_denied_ms;
	return c;
}

struct token_cache *token_cache_free(struct token_cache *c)
{
	if (!c)
		return NULL;
	void *item;
	for (size_t pos = 0; (item = hashtab_next(&c->table, &pos));)
		free(item);
	hashtab_free(&c->table);
	pthread_mutex_destroy(&c->lock);
	free(c);
	return NULL;
}

int token_cache_get(struct token_cache *c, const char *token, uint64_t now_ms,
		    struct token_identity *ret)
{
	char digest[65];
	int r = sha256_hex(token, strlen(token), digest);
	if (r < 0)
		return r;
	pthread_mutex_lock(&c->lock);
	r = -ENOENT;
	struct cached *e = hashtab_get(&c->table, hashtab_hash_str(digest), digest, cached_eq);
	if (e && e->expires_ms > now_ms) {
		*ret = e->id;
		r = 0;
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

/* Makes room for one entry: drops every expired one, then, if still full, the entry that
 * expires first. */
static void evict(struct token_cache *c, uint64_t now_ms)
{
	struct cached *e, *soonest = NULL;
	bool removed;
	do {
		removed = false;
		for (size_t pos = 0; (e = hashtab_next(&c->table, &pos));) {
			if (e->expires_ms <= now_ms) {
				hashtab_remove(&c->table, hashtab_hash_str(e->digest), e->digest,
					       cached_eq);
				free(e);
				removed = true;
				break; /* the table changed: iterate afresh */
			}
		}
	} while (removed);
	if (c->table.n < c->max)
		return;
	for (size_t pos = 0; (e = hashtab_next(&c->table, &pos));)
		if (!soonest || e->expires_ms < soonest->expires_ms)
			soonest = e;
	if (soonest) {
		hashtab_remove(&c->table, hashtab_hash_str(soonest->digest), soonest->digest,
			       cached_eq);
		free(soonest);
	}
}

int token_cache_put(struct token_cache *c, const char *token, const struct token_identity *id,
		    uint64_t now_ms)
{
	char digest[65];
	int r = sha256_hex(token, strlen(token), digest);
	if (r < 0)
		return r;
	uint64_t h = hashtab_hash_str(digest);
	pthread_mutex_lock(&c->lock);
	struct cached *e = hashtab_get(&c->table, h, digest, cached_eq);
	if (!e) {
		if (c->table.n >= c->max)
			evict(c, now_ms);
		e = calloc(1, sizeof(*e));
		if (!e || hashtab_put(&c->table, h, e) < 0) {
			free(e);
			pthread_mutex_unlock(&c->lock);
			return -ENOMEM;
		}
		memcpy(e->digest, digest, sizeof(digest));
	}
	e->id = *id;
	e->expires_ms = now_ms + (id->authenticated ? c->ttl_ok_ms : c->ttl_denied_ms);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

size_t token_cache_size(struct token_cache *c)
{
	pthread_mutex_lock(&c->lock);
	size_t n = c->table.n;
	pthread_mutex_unlock(&c->lock);
	return n;
}

/* ---- the review ------------------------------------------------------------------------------ */

int agent_auth_review(struct kube_client *client, struct token_cache *cache, const char *token,
		      uint64_t now_ms, struct token_identity *ret)
{
	if (token_cache_get(cache, token, now_ms, ret) == 0)
		return 0;
	const char *server = kube_client_config(client)->server;
	size_t len = strlen(server) + 64;
	char *url = malloc(len);
	if (!url)
		return -ENOMEM;
	snprintf(url, len, "%s/apis/authentication.k8s.io/v1/tokenreviews", server);
	json_t *body = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "authentication.k8s.io/v1",
				 "kind", "TokenReview", "spec", "token", token);
	json_t *review = NULL;
	struct kube_status st;
	int r = body ? kube_request(client, "POST", url, "application/json", body, &review, &st)
		     : -ENOMEM;
	free(url);
	json_decref(body);
	if (r < 0)
		return r;
	struct token_identity id;
	r = token_identity_from_review(review, &id);
	json_decref(review);
	if (r < 0)
		return -EPROTO;
	token_cache_put(cache, token, &id, now_ms);
	*ret = id;
	return 0;
}
