/* Landlock access rights by name and by ABI version.
 *
 * Names are the Landlock maintainers' landlockconfig vocabulary ("read_file", "bind_tcp",
 * "signal"); bits are the kernel's. Every name records the ABI that introduced it, so the
 * launcher can say exactly which rights an older kernel lacks. */
#pragma once

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* The newest ABI this build knows (Linux 6.15: audit logging flags). */
#define LANDLOCK_ABI_LATEST 7

enum landlock_kind {
	LANDLOCK_KIND_FS,    /* handledAccessFs / pathBeneath.allowedAccess */
	LANDLOCK_KIND_NET,   /* handledAccessNet / netPort.allowedAccess */
	LANDLOCK_KIND_SCOPE, /* scoped */
};

/* A set of rights of every kind: what a layer handles, or what an ABI supports. */
struct landlock_rights {
	uint64_t fs;
	uint64_t net;
	uint64_t scope;
};

/* Rights that mean something on a file (not only on a directory). */
#define LANDLOCK_ACCESS_FS_FILE_ONLY_MASK \
	0xc007ULL /* execute write_file read_file truncate ioctl_dev */

/* Every right ABI abi knows; abi 0 (no Landlock) knows none, abi above LANDLOCK_ABI_LATEST
 * knows what LANDLOCK_ABI_LATEST knows. */
struct landlock_rights landlock_abi_rights(int abi);

/* landlock_restrict_self() flags that ABI abi accepts (the logging flags came with 7). */
uint32_t landlock_abi_restrict_flags(int abi);

/* The bit of a named right: 0, or -ENOENT for a name this kind does not have. */
int landlock_right_from_name(enum landlock_kind kind, const char *name, uint64_t *ret_bit);

/* The name of one bit, NULL when it has none. */
const char *landlock_right_name(enum landlock_kind kind, uint64_t bit);

/* The ABI that introduced a bit, 0 when unknown. */
int landlock_right_abi(enum landlock_kind kind, uint64_t bit);

/* Every right of a kind, whatever the ABI. */
uint64_t landlock_kind_all(enum landlock_kind kind);

/* A JSON array of the names of the set bits, in bit order; NULL on allocation failure. */
json_t *landlock_rights_to_json(enum landlock_kind kind, uint64_t bits);

/* "read_file,write_file" (bit order) into buf, "" for none; returns buf, truncated to fit. */
const char *landlock_rights_format(enum landlock_kind kind, uint64_t bits, char *buf, size_t size);

/* "execute, write_file, ..." every known name of a kind, for error messages. */
const char *landlock_kind_names(enum landlock_kind kind);

/* "filesystem access right", "network access right", "scope". */
const char *landlock_kind_noun(enum landlock_kind kind);
