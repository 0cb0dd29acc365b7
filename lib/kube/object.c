/* Accessors for Kubernetes objects as json_t; see object.h. */
#include <errno.h>
#include <string.h>

#include "kube/object.h"

static const char *meta_string(const json_t *obj, const char *field)
{
	const json_t *meta = json_object_get(obj, "metadata");
	return json_string_value(json_object_get(meta, field));
}

const char *kube_object_namespace(const json_t *obj)
{
	const char *ns = meta_string(obj, "namespace");
	return ns && *ns ? ns : NULL;
}

const char *kube_object_name(const json_t *obj)
{
	return meta_string(obj, "name");
}

const char *kube_object_resource_version(const json_t *obj)
{
	return meta_string(obj, "resourceVersion");
}

const char *kube_object_uid(const json_t *obj)
{
	return meta_string(obj, "uid");
}

const json_t *kube_object_labels(const json_t *obj)
{
	const json_t *labels = json_object_get(json_object_get(obj, "metadata"), "labels");
	return json_is_object(labels) ? labels : NULL;
}

const char *kube_object_label(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(kube_object_labels(obj), key));
}

int kube_object_key(const json_t *obj, char *ret_key, size_t size)
{
	if (!json_is_object(obj))
		return -EINVAL;
	const char *name = kube_object_name(obj);
	const char *ns = kube_object_namespace(obj);
	if (!name || !*name || strchr(name, '/') || (ns && strchr(ns, '/')))
		return -EINVAL;
	size_t nl = strlen(name), sl = ns ? strlen(ns) : 0;
	size_t need = (ns ? sl + 1 : 0) + nl + 1;
	if (need > size)
		return -ENAMETOOLONG;
	char *p = ret_key;
	if (ns) {
		memcpy(p, ns, sl);
		p[sl] = '/';
		p += sl + 1;
	}
	memcpy(p, name, nl + 1);
	return 0;
}

int kube_key_split(const char *key, char *ret_namespace, size_t ns_size, char *ret_name,
		   size_t name_size)
{
	if (!key || !*key)
		return -EINVAL;
	const char *slash = strchr(key, '/');
	if (slash && strchr(slash + 1, '/'))
		return -EINVAL;
	const char *name = slash ? slash + 1 : key;
	size_t sl = slash ? (size_t)(slash - key) : 0, nl = strlen(name);
	if (nl == 0 || (slash && sl == 0))
		return -EINVAL;
	if (sl + 1 > ns_size || nl + 1 > name_size)
		return -ENAMETOOLONG;
	memcpy(ret_namespace, key, sl);
	ret_namespace[sl] = '\0';
	memcpy(ret_name, name, nl + 1);
	return 0;
}
