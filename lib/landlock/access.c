#include "landlock/access.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "landlock_compat.h"

struct right {
	const char *name;
	uint64_t bit;
	int abi; /* the ABI that introduced it */
};

static const struct right fs_rights[] = {
	{"execute", 1ULL << 0, 1},    {"write_file", 1ULL << 1, 1}, {"read_file", 1ULL << 2, 1},
	{"read_dir", 1ULL << 3, 1},   {"remove_dir", 1ULL << 4, 1}, {"remove_file", 1ULL << 5, 1},
	{"make_char", 1ULL << 6, 1},  {"make_dir", 1ULL << 7, 1},   {"make_reg", 1ULL << 8, 1},
	{"make_sock", 1ULL << 9, 1},  {"make_fifo", 1ULL << 10, 1}, {"make_block", 1ULL << 11, 1},
	{"make_sym", 1ULL << 12, 1},  {"refer", 1ULL << 13, 2},	    {"truncate", 1ULL << 14, 3},
	{"ioctl_dev", 1ULL << 15, 5},
};
static const struct right net_rights[] = {
	{"bind_tcp", 1ULL << 0, 4},
	{"connect_tcp", 1ULL << 1, 4},
};
static const struct right scopes[] = {
	{"abstract_unix_socket", 1ULL << 0, 6},
	{"signal", 1ULL << 1, 6},
};

static const struct right *table(enum landlock_kind kind, size_t *ret_n)
{
	switch (kind) {
	case LANDLOCK_KIND_FS: *ret_n = ARRAY_SIZE(fs_rights); return fs_rights;
	case LANDLOCK_KIND_NET: *ret_n = ARRAY_SIZE(net_rights); return net_rights;
	case LANDLOCK_KIND_SCOPE: *ret_n = ARRAY_SIZE(scopes); return scopes;
	}
	*ret_n = 0;
	return NULL;
}

static uint64_t kind_mask(enum landlock_kind kind, int abi)
{
	size_t n;
	const struct right *t = table(kind, &n);
	uint64_t mask = 0;
	for (size_t i = 0; i < n; i++)
		if (t[i].abi <= abi)
			mask |= t[i].bit;
	return mask;
}

struct landlock_rights landlock_abi_rights(int abi)
{
	if (abi > LANDLOCK_ABI_LATEST)
		abi = LANDLOCK_ABI_LATEST;
	return (struct landlock_rights){
		.fs = kind_mask(LANDLOCK_KIND_FS, abi),
		.net = kind_mask(LANDLOCK_KIND_NET, abi),
		.scope = kind_mask(LANDLOCK_KIND_SCOPE, abi),
	};
}

uint32_t landlock_abi_restrict_flags(int abi)
{
	return abi >= 7 ? LANDLOCK_RESTRICT_SELF_LOG_SAME_EXEC_OFF |
				  LANDLOCK_RESTRICT_SELF_LOG_NEW_EXEC_ON |
				  LANDLOCK_RESTRICT_SELF_LOG_SUBDOMAINS_OFF
			: 0;
}

uint64_t landlock_kind_all(enum landlock_kind kind)
{
	return kind_mask(kind, LANDLOCK_ABI_LATEST);
}

int landlock_right_from_name(enum landlock_kind kind, const char *name, uint64_t *ret_bit)
{
	size_t n;
	const struct right *t = table(kind, &n);
	for (size_t i = 0; i < n; i++)
		if (strcmp(t[i].name, name) == 0) {
			*ret_bit = t[i].bit;
			return 0;
		}
	return -ENOENT;
}

static const struct right *find_bit(enum landlock_kind kind, uint64_t bit)
{
	size_t n;
	const struct right *t = table(kind, &n);
	for (size_t i = 0; i < n; i++)
		if (t[i].bit == bit)
			return &t[i];
	return NULL;
}

const char *landlock_right_name(enum landlock_kind kind, uint64_t bit)
{
	const struct right *r = find_bit(kind, bit);
	return r ? r->name : NULL;
}

int landlock_right_abi(enum landlock_kind kind, uint64_t bit)
{
	const struct right *r = find_bit(kind, bit);
	return r ? r->abi : 0;
}

json_t *landlock_rights_to_json(enum landlock_kind kind, uint64_t bits)
{
	size_t n;
	const struct right *t = table(kind, &n);
	json_t *a = json_array();
	if (!a)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if ((bits & t[i].bit) && json_array_append_new(a, json_string(t[i].name)) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

const char *landlock_rights_format(enum landlock_kind kind, uint64_t bits, char *buf, size_t size)
{
	size_t n, len = 0;
	const struct right *t = table(kind, &n);
	if (size == 0)
		return buf;
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (!(bits & t[i].bit))
			continue;
		int w = snprintf(buf + len, size - len, "%s%s", len ? "," : "", t[i].name);
		if (w < 0 || (size_t)w >= size - len)
			break;
		len += (size_t)w;
	}
	return buf;
}

const char *landlock_kind_names(enum landlock_kind kind)
{
	switch (kind) {
	case LANDLOCK_KIND_FS:
		return "execute, write_file, read_file, read_dir, remove_dir, remove_file, "
		       "make_char, make_dir, make_reg, make_sock, make_fifo, make_block, make_sym, "
		       "refer, truncate, ioctl_dev";
	case LANDLOCK_KIND_NET: return "bind_tcp, connect_tcp";
	case LANDLOCK_KIND_SCOPE: return "abstract_unix_socket, signal";
	}
	return "";
}

const char *landlock_kind_noun(enum landlock_kind kind)
{
	switch (kind) {
	case LANDLOCK_KIND_FS: return "filesystem access right";
	case LANDLOCK_KIND_NET: return "network access right";
	case LANDLOCK_KIND_SCOPE: return "scope";
	}
	return "";
}
