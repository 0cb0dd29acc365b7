/* Vocabulary of a network rule shared by the validator, the compiler and the map-entry
 * builder: protocol and action names. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

enum netpolicy_protocol {
	NETPOLICY_PROTO_ANY = 0,
	NETPOLICY_PROTO_TCP,
	NETPOLICY_PROTO_UDP,
	NETPOLICY_PROTO_ICMP,
	NETPOLICY_PROTO_ICMPV6,
	NETPOLICY_PROTO_SCTP,
	NETPOLICY_PROTOS,
};

/* The protocol's enum value, or -EINVAL for a name that is not one (names are exact). */
int netpolicy_protocol_from_name(const char *name);
const char *netpolicy_protocol_name(enum netpolicy_protocol p);
/* IPPROTO_* number; 0 for Any. */
uint8_t netpolicy_protocol_number(enum netpolicy_protocol p);
/* Only these protocols have ports. */
bool netpolicy_protocol_has_ports(enum netpolicy_protocol p);

/* "Allow" -> 0, "Deny" -> 1, anything else -> -EINVAL. */
int netpolicy_action_is_deny(const char *name);
