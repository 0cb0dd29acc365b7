/* Who may hold a node's push stream: a bearer token the apiserver vouches for (TokenReview),
 * of the agent's ServiceAccount, bound to that node. Reviews are cached by the SHA-256 of the
 * token (never the token itself) so a reconnect storm or a busy ack path costs the apiserver
 * one review per token and minute, not one per request. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "kube/client.h"

#define AGENT_AUTH_NODE_EXTRA "authentication.kubernetes.io/node-name"

/* What a TokenReview said about a token. */
struct token_identity {
	bool authenticated;
	char username[256];
	char node[254]; /* the node-name extra of a node- or pod-bound token; "" when absent */
	char error[256];
};

/* Fills ret from a TokenReview response (its status). -EINVAL when it is not one. */
int token_identity_from_review(const json_t *review, struct token_identity *ret);

/* Whether identity may stream node's policies: 0; -EACCES (answer 401) for a token the
 * apiserver did not authenticate; -EPERM (answer 403) for another account or another node.
 * msg receives the reason for the response body. */
int agent_auth_check(const struct token_identity *id, const char *service_account_user,
		     const char *node, char *msg, size_t msg_size);

/* ---- the cache ------------------------------------------------------------------------------- */

struct token_cache;

/* At most max entries; positive reviews live ttl_ok_ms, negative ones ttl_denied_ms (short:
 * a token may become valid, and a flood of bad tokens should still not reach the apiserver
 * once per request). NULL on ENOMEM. */
struct token_cache *token_cache_new(size_t max, uint64_t ttl_ok_ms, uint64_t ttl_denied_ms);
struct token_cache *token_cache_free(struct token_cache *c);

/* 0 and *ret on a live entry, -ENOENT otherwise. */
int token_cache_get(struct token_cache *c, const char *token, uint64_t now_ms,
		    struct token_identity *ret);
/* Stores id for token; when full, expired entries go first, then the one closest to expiry. */
int token_cache_put(struct token_cache *c, const char *token, const struct token_identity *id,
		    uint64_t now_ms);
size_t token_cache_size(struct token_cache *c);

/* ---- the review ------------------------------------------------------------------------------ */

/* Looks the token up in the cache, else posts a TokenReview (authentication.k8s.io/v1) and
 * caches the answer. 0 with *ret filled (authenticated or not), or a negative errno when the
 * apiserver could not be asked (answer 503: the agent retries). */
int agent_auth_review(struct kube_client *client, struct token_cache *cache, const char *token,
		      uint64_t now_ms, struct token_identity *ret);
