/* Translation of a compiled network policy (netpolicy.h) into the entries of the BPF maps
 * (nodeagent/net/net_abi.h): a pure function, so what the kernel enforces can be checked
 * without a kernel. net_entries_verdict() evaluates a packet over the entries exactly as
 * nodeagent/net/net.bpf.c does.
 *
 * CIDR trie: rules that share (action, audit, protocol, ports) form a class (one bit). Every
 * distinct prefix P among all cidrs and excepts gets the bitmap of classes having a rule that
 * covers P: one of the rule's cidrs contains P and none of its excepts does. A longest-prefix
 * lookup of an address then yields exactly the classes whose rules cover that address, because
 * every cidr or except containing the address contains its longest matching prefix too. An
 * entry equal to its parent's is left out. Ports: the port ranges of each protocol are cut into
 * segments with a constant class set, each segment into aligned prefixes of the port space. */
#pragma once

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "nodeagent/net/net_abi.h"

struct net_prefix_entry {
	uint8_t family; /* 4 or 6 */
	uint8_t prefixlen;
	uint8_t addr[16];
	uint64_t classes;
};

struct net_port_entry {
	uint8_t proto;	   /* IPPROTO_TCP, IPPROTO_UDP or IPPROTO_SCTP */
	uint8_t prefixlen; /* 0..16 */
	uint16_t port;	   /* first port of the prefix, host order */
	uint64_t classes;
};

struct net_dir_entries {
	struct np_dir_rules rules;
	struct net_prefix_entry *prefixes;
	size_t n_prefixes;
	struct net_port_entry *ports;
	size_t n_ports;
};

struct net_entries {
	struct net_dir_entries dir[NP_DIRECTIONS];
};

/* 0, -EINVAL with err naming the field under "network", or -ENOMEM. */
int net_entries_build(const json_t *compiled, struct net_entries *ret, struct field_error *err);
void net_entries_free(struct net_entries *e);

/* The verdict for a packet that opens a connection: family 4 or 6, addr the remote address
 * (IPv4 in the first 4 bytes), proto an IPPROTO_* number, port the destination port. */
enum np_verdict net_entries_verdict(const struct net_entries *e, enum np_direction dir,
				    uint8_t family, const uint8_t addr[16], uint8_t proto,
				    uint16_t port);
