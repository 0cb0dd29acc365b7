#include "bundle.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "cleanup.h"
#include "error.h"
#include "pod_spec.h"
#include "proc.h"
#include "seccomp_profile.h"

/* containerd's default capability set for a container that is not privileged. */
static const char *const default_caps[] = {
	"CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",	   "CAP_FOWNER",
	"CAP_MKNOD",   "CAP_NET_RAW",	   "CAP_SETGID",	   "CAP_SETUID",
	"CAP_SETFCAP", "CAP_SETPCAP",	   "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
	"CAP_KILL",    "CAP_AUDIT_WRITE",
};

/* `runc spec` once per process: the template every config starts from. */
static int runc_spec_template(json_t **ret)
{
	static json_t *cached;
	if (!cached) {
		char dir[] = "/tmp/bulwark-harness-spec.XXXXXX";
		if (!mkdtemp(dir))
			return -errno;
		_cleanup_buf_ struct buf out = BUF_INIT(4096);
		int r = harness_run_cmdl(&out, "runc", "spec", "--bundle", dir, NULL);
		char path[128];
		snprintf(path, sizeof(path), "%s/config.json", dir);
		json_error_t jerr;
		if (r == 0)
			cached = json_load_file(path, 0, &jerr);
		unlink(path);
		rmdir(dir);
		if (r != 0)
			return r < 0 ? r : -EIO;
		if (!cached)
			return -EIO;
	}
	*ret = json_deep_copy(cached);
	return *ret ? 0 : -ENOMEM;
}

static json_t *strv_to_json(char *const *v)
{
	json_t *a = json_array();
	for (size_t i = 0; a && v && v[i]; i++)
		if (json_array_append_new(a, json_string(v[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static int cap_name(const json_t *v, char *out, size_t n)
{
	const char *s = json_string_value(v);
	if (!s || !*s || strlen(s) > 40)
		return -EINVAL;
	snprintf(out, n, "%s%s", strncmp(s, "CAP_", 4) ? "CAP_" : "", s);
	for (char *p = out; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	return 0;
}

static int build_caps(const json_t *container, json_t **ret, struct field_error *err)
{
	const json_t *sc = json_object_get(container, "securityContext");
	if (json_is_true(json_object_get(sc, "privileged")))
		return field_error_set(
			err, "securityContext.privileged",
			"privileged containers are not supported by the node harness");
	const json_t *caps = json_object_get(sc, "capabilities");
	json_auto_t *set = json_array();
	if (!set)
		return -ENOMEM;
	bool drop_all = false;
	size_t i;
	const json_t *c;
	json_array_foreach (json_object_get(caps, "drop"), i, c)
		if (json_is_string(c) && !strcmp(json_string_value(c), "ALL"))
			drop_all = true;
	for (size_t k = 0; k < ARRAY_SIZE(default_caps) && !drop_all; k++) {
		bool dropped = false;
		json_array_foreach (json_object_get(caps, "drop"), i, c) {
			char name[64];
			if (cap_name(c, name, sizeof(name)) < 0)
				return field_error_set(err, "securityContext.capabilities.drop",
						       "[%zu] must be a capability name", i);
			dropped |= !strcmp(name, default_caps[k]);
		}
		if (!dropped && json_array_append_new(set, json_string(default_caps[k])) < 0)
			return -ENOMEM;
	}
	json_array_foreach (json_object_get(caps, "add"), i, c) {
		char name[64];
		if (cap_name(c, name, sizeof(name)) < 0)
			return field_error_set(err, "securityContext.capabilities.add",
					       "[%zu] must be a capability name", i);
		if (json_array_append_new(set, json_string(name)) < 0)
			return -ENOMEM;
	}
	*ret = TAKE_PTR(set);
	return 0;
}

static int add_mount(json_t *mounts, const char *dest, const char *src, bool ro)
{
	return json_array_append_new(mounts,
				     json_pack("{s:s,s:s,s:s,s:[s,s,s]}", "destination", dest,
					       "type", "bind", "source", src, "options", "rbind",
					       "rprivate", ro ? "ro" : "rw")) < 0
		       ? -ENOMEM
		       : 0;
}

static const json_t *find_volume(const json_t *pod, const char *name)
{
	size_t i;
	const json_t *v;
	json_array_foreach (json_object_get(json_object_get(pod, "spec"), "volumes"), i, v) {
		const char *n = json_string_value(json_object_get(v, "name"));
		if (n && !strcmp(n, name))
			return v;
	}
	return NULL;
}

static int volume_mounts(const struct bundle_request *req, json_t *mounts, struct field_error *err)
{
	size_t i;
	const json_t *m;
	json_array_foreach (json_object_get(req->container, "volumeMounts"), i, m) {
		char field[64];
		snprintf(field, sizeof(field), "volumeMounts[%zu]", i);
		const char *name = json_string_value(json_object_get(m, "name"));
		const char *dest = json_string_value(json_object_get(m, "mountPath"));
		const char *sub = json_string_value(json_object_get(m, "subPath"));
		bool ro = json_is_true(json_object_get(m, "readOnly"));
		if (!name || !dest || dest[0] != '/')
			return field_error_set(err, field,
					       "name and an absolute mountPath are required");
		if (sub && (sub[0] == '/' || strstr(sub, "..")))
			return field_error_set(err, field, "subPath must be relative without '..'");
		const json_t *vol = find_volume(req->pod, name);
		if (!vol)
			return field_error_set(err, field, "no volume named %s in the pod", name);
		char src[PATH_MAX];
		const json_t *host = json_object_get(vol, "hostPath");
		if (host) {
			const char *p = json_string_value(json_object_get(host, "path"));
			const char *type = json_string_value(json_object_get(host, "type"));
			if (!p || p[0] != '/')
				return field_error_set(err, field,
						       "hostPath.path must be absolute");
			if (type && !strcmp(type, "DirectoryOrCreate") && mkdir(p, 0755) < 0 &&
			    errno != EEXIST)
				return field_error_set(err, field, "cannot create hostPath %s", p);
			snprintf(src, sizeof(src), "%s", p);
		} else if (json_object_get(vol, "emptyDir") ||
			   json_object_get(vol, "downwardAPI")) {
			snprintf(src, sizeof(src), "%s/%s", req->volumes_dir, name);
			/* Downward API files are projected read-only, as the kubelet does. */
			if (json_object_get(vol, "downwardAPI"))
				ro = true;
		} else {
			return field_error_set(err, field,
					       "volume %s: only emptyDir, downwardAPI and hostPath "
					       "volumes are supported by the node harness",
					       name);
		}
		if (sub) {
			size_t len = strlen(src);
			snprintf(src + len, sizeof(src) - len, "/%s", sub);
			if (mkdir(src, 0755) < 0 && errno != EEXIST && errno != ENOTDIR)
				return field_error_set(err, field, "cannot create subPath %s", sub);
		}
		int r = add_mount(mounts, dest, src, ro);
		if (r < 0)
			return r;
	}
	return 0;
}

static int set_user(const struct bundle_request *req, json_t *process, struct field_error *err)
{
	const json_t *uid = podspec_security_field(req->pod, req->container, "runAsUser");
	const json_t *gid = podspec_security_field(req->pod, req->container, "runAsGroup");
	const json_t *non_root = podspec_security_field(req->pod, req->container, "runAsNonRoot");
	json_int_t u = json_is_integer(uid) ? json_integer_value(uid) : 0;
	/* Without runAsGroup the image's group for that user applies: busybox's /etc/passwd
	 * knows only root and nobody, so it is 0 (root) or, for nobody, 65534. */
	json_int_t g = json_is_integer(gid) ? json_integer_value(gid) : (u == 65534 ? 65534 : 0);
	if (u < 0 || u > UINT32_MAX - 1 || g < 0 || g > UINT32_MAX - 1)
		return field_error_set(err, "securityContext.runAsUser", "out of range");
	/* The image's user is root, so runAsNonRoot without runAsUser cannot start. */
	if (json_is_true(non_root) && u == 0)
		return field_error_set(err, "securityContext.runAsNonRoot",
				       "container has runAsNonRoot and image will run as root");
	return json_object_set_new(process, "user", json_pack("{s:I,s:I}", "uid", u, "gid", g)) < 0
		       ? -ENOMEM
		       : 0;
}

static int set_seccomp(const struct harness_config *cfg, const struct bundle_request *req,
		       json_t *linux_, const json_t *caps, struct field_error *err)
{
	enum seccomp_kind kind;
	const char *localhost;
	int r = podspec_container_seccomp(req->pod, req->container, &kind, &localhost, err);
	if (r < 0)
		return r;
	json_t *profile = NULL;
	switch (kind) {
	case SECCOMP_UNCONFINED: json_object_del(linux_, "seccomp"); return 0;
	case SECCOMP_RUNTIME_DEFAULT:
		r = harness_seccomp_runtime_default(caps, &profile, err);
		if (r < 0)
			return r == -ENOMEM ? r : -EINVAL;
		break;
	case SECCOMP_LOCALHOST:
		r = harness_seccomp_load(cfg->kubelet_root, localhost, caps, &profile, err);
		if (r < 0)
			return r == -ENOMEM ? r : -EINVAL;
		break;
	}
	if (!profile)
		return -ENOMEM;
	return json_object_set_new(linux_, "seccomp", profile) < 0 ? -ENOMEM : 0;
}

static int set_namespaces(json_t *linux_, const char *netns_path)
{
	json_t *ns = json_object_get(linux_, "namespaces");
	size_t i;
	json_t *n;
	json_array_foreach (ns, i, n) {
		const char *type = json_string_value(json_object_get(n, "type"));
		if (type && !strcmp(type, "network"))
			return json_object_set_new(n, "path", json_string(netns_path)) < 0 ? -ENOMEM
											   : 0;
	}
	return json_array_append_new(
		       ns, json_pack("{s:s,s:s}", "type", "network", "path", netns_path)) < 0
		       ? -ENOMEM
		       : 0;
}

static int set_annotations(const struct bundle_request *req, json_t *config)
{
	struct pod_meta m;
	if (podspec_meta(req->pod, &m, NULL) < 0)
		return -EINVAL;
	const char *cname = json_string_value(json_object_get(req->container, "name"));
	/* The annotations containerd's CRI puts on a container, so tools that read them work. */
	json_t *a = json_pack(
		"{s:s,s:s,s:s,s:s,s:s,s:s}", "io.kubernetes.cri.container-type", "container",
		"io.kubernetes.cri.container-name", cname ? cname : "",
		"io.kubernetes.cri.sandbox-name", m.name, "io.kubernetes.cri.sandbox-namespace",
		m.namespace, "io.kubernetes.cri.sandbox-uid", m.uid, "io.kubernetes.cri.image-name",
		json_string_value(json_object_get(req->container, "image")) ?: "");
	return json_object_set_new(config, "annotations", a) < 0 ? -ENOMEM : 0;
}

int bundle_write_config(const struct harness_config *cfg, const struct bundle_request *req,
			const char *dir, struct field_error *err)
{
	json_auto_t *config = NULL;
	int r = runc_spec_template(&config);
	if (r < 0)
		return r;
	json_t *process = json_object_get(config, "process");
	json_t *linux_ = json_object_get(config, "linux");
	struct pod_meta m;
	if ((r = podspec_meta(req->pod, &m, err)) < 0)
		return r;

	/* containerd adds HOSTNAME after the image's variables and before the pod's. */
	const char *base_env[18];
	char hostname_env[300];
	size_t n_env = 0;
	for (const char *const *e = req->image->env; e && *e && n_env < 16; e++)
		base_env[n_env++] = *e;
	snprintf(hostname_env, sizeof(hostname_env), "HOSTNAME=%s", m.name);
	base_env[n_env++] = hostname_env;
	base_env[n_env] = NULL;
	char **env = NULL, **argv = NULL;
	r = podspec_container_env(req->pod, req->container, req->pod_ip, base_env, &env, err);
	if (r == 0) {
		r = podspec_container_argv(req->container, req->image->entrypoint, req->image->cmd,
					   env, &argv, err);
	}
	if (r == 0) {
		json_object_set_new(process, "args", strv_to_json(argv));
		json_object_set_new(process, "env", strv_to_json(env));
	}
	harness_strv_free(env);
	harness_strv_free(argv);
	if (r < 0)
		return r;
	const char *cwd = json_string_value(json_object_get(req->container, "workingDir"));
	if (cwd && cwd[0] != '/')
		return field_error_set(err, "workingDir", "must be absolute");
	json_object_set_new(process, "cwd", json_string(cwd ? cwd : "/"));
	json_object_set_new(process, "terminal", json_false());
	json_object_del(process, "rlimits");
	if ((r = set_user(req, process, err)) < 0)
		return r;

	json_t *caps = NULL;
	if ((r = build_caps(req->container, &caps, err)) < 0)
		return r;
	json_object_set_new(process, "capabilities",
			    json_pack("{s:O,s:O,s:O,s:o}", "bounding", caps, "effective", caps,
				      "permitted", caps, "ambient", json_array()));
	const json_t *ape = json_object_get(json_object_get(req->container, "securityContext"),
					    "allowPrivilegeEscalation");
	json_object_set_new(process, "noNewPrivileges", json_boolean(json_is_false(ape)));

	const json_t *rorootfs = json_object_get(json_object_get(req->container, "securityContext"),
						 "readOnlyRootFilesystem");
	json_object_set_new(
		config, "root",
		json_pack("{s:s,s:b}", "path", "rootfs", "readonly", json_is_true(rorootfs)));
	json_object_set_new(config, "hostname", json_string(m.name));
	if ((r = volume_mounts(req, json_object_get(config, "mounts"), err)) < 0) {
		json_decref(caps);
		return r;
	}
	r = set_seccomp(cfg, req, linux_, caps, err);
	json_decref(caps);
	if (r < 0)
		return r;
	if ((r = set_namespaces(linux_, req->netns_path)) < 0)
		return r;
	json_object_set_new(linux_, "cgroupsPath", json_string(req->cgroups_path));
	if ((r = set_annotations(req, config)) < 0)
		return r;

	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/config.json", dir);
	return json_dump_file(config, path, JSON_INDENT(2)) < 0 ? -EIO : 0;
}
