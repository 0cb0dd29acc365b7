/* Images, as far as the harness has them: the name of an image reference (registry, tag and
 * digest dropped) picks a root filesystem built on the host. "busybox" is busybox-static with
 * its applets; --image NAME=DIR adds images that are busybox plus DIR's contents. */
#pragma once

#include "harness.h"

struct image_config {
	const char *const *entrypoint; /* NULL-terminated; may be empty */
	const char *const *cmd;
	const char *const *env;
};

/* The image's name ("registry.k8s.io/busybox:1.36" -> "busybox"), into out. */
int harness_image_name(const char *ref, char *out, size_t n);

/* Builds the image's root filesystem at dir (created). -ENOENT when the harness does not
 * have the image; ret_config gets the image's entrypoint, cmd and env. */
int harness_rootfs_build(const struct harness_config *cfg, const char *ref, const char *dir,
			 struct image_config *ret_config);
/* The images this harness provides, for an ErrImagePull message. */
int harness_rootfs_known_images(const struct harness_config *cfg, char *out, size_t n);
