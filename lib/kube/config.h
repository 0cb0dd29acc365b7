/* Where the apiserver is and how to authenticate to it: a kubeconfig file or the in-cluster
 * service-account mount.
 *
 * Supported kubeconfig fields: current-context; contexts[].context.{cluster,user,namespace};
 * clusters[].cluster.{server,certificate-authority,certificate-authority-data};
 * users[].user.{client-certificate,client-certificate-data,client-key,
 * client-key-data,token,tokenFile}. Relative paths resolve against the kubeconfig's directory.
 * Refused with an error naming the field: insecure-skip-tls-verify: true (TLS verification is
 * always on), tls-server-name and proxy-url, exec and auth-provider plugins, username/password, an
 * http:// server, YAML aliases. Only the first file of a colon-separated KUBECONFIG is read (no
 * merging).
 *
 * Files referenced by the kubeconfig (CA, client certificate and key) are read once at load;
 * a bearer token from a file (tokenFile, or the in-cluster projected token, which the kubelet
 * rotates) is re-read at most every KUBE_TOKEN_REFRESH_SEC by kube_config_token(); when a user has
 * both, the token read from tokenFile takes precedence over the inline token (as in client-go).
 *
 * Thread-safety: a loaded config is immutable except for the token cache, which
 * kube_config_token() guards with a mutex; share one config between threads freely. */
#pragma once

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define KUBE_CONFIG_MAX_SIZE	 (1u << 20) /* a kubeconfig, CA bundle, cert, key or token */
#define KUBE_TOKEN_REFRESH_SEC	 60
#define KUBE_SERVICEACCOUNT_ROOT "/var/run/secrets/kubernetes.io/serviceaccount"

struct kube_config {
	char *server; /* "https://host:port", no trailing slash */
	char *ca_pem; /* CA bundle (PEM) or NULL for the system store */
	size_t ca_len;
	char *cert_pem; /* client certificate (PEM) or NULL */
	size_t cert_len;
	char *key_pem; /* client key (PEM) or NULL */
	size_t key_len;
	char *namespace; /* the context's namespace, "default" when unset */
	char *context;	 /* the context used ("in-cluster" for the service account) */

	/* Bearer token: static, or read from token_file and refreshed. */
	pthread_mutex_t token_lock;
	char *token;
	char *token_file;
	uint64_t token_read_ms; /* CLOCK_MONOTONIC of the last read of token_file */
};

/* Parses a kubeconfig held in memory; relative paths resolve against dir (NULL: the current
 * directory). context NULL means current-context. Returns 0, -EINVAL with err filled
 * ("users[0].user.client-key-data: not valid base64"), -ENOENT/-EACCES for a referenced
 * file (err names the field and path), -EFBIG, or -ENOMEM. */
int kube_config_parse(const char *data, size_t len, const char *dir, const char *context,
		      struct kube_config **ret, struct field_error *err);

/* Reads and parses the kubeconfig at path (at most KUBE_CONFIG_MAX_SIZE bytes). */
int kube_config_load_file(const char *path, const char *context, struct kube_config **ret,
			  struct field_error *err);

/* The in-cluster config from KUBERNETES_SERVICE_HOST/PORT and the service-account files under
 * root (NULL: KUBE_SERVICEACCOUNT_ROOT). -ENXIO when the environment variables are unset. */
int kube_config_in_cluster(const char *root, struct kube_config **ret, struct field_error *err);

/* What kubectl would pick: path when given, else $KUBECONFIG, else in-cluster when
 * KUBERNETES_SERVICE_HOST is set, else ~/.kube/config. */
int kube_config_load_default(const char *path, const char *context, struct kube_config **ret,
			     struct field_error *err);

/* The current bearer token (a copy to free()) or NULL in *ret when the config has none.
 * Re-reads the token file when the cached copy is older than KUBE_TOKEN_REFRESH_SEC, or
 * always when force is set (after a 401). A failed re-read keeps the cached token. */
int kube_config_token(struct kube_config *cfg, int force, char **ret);

struct kube_config *kube_config_free(struct kube_config *cfg);
