#include "netpolicy/rule.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

static const char *const protocol_names[NETPOLICY_PROTOS] = {
	[NETPOLICY_PROTO_ANY] = "Any",	     [NETPOLICY_PROTO_TCP] = "TCP",
	[NETPOLICY_PROTO_UDP] = "UDP",	     [NETPOLICY_PROTO_ICMP] = "ICMP",
	[NETPOLICY_PROTO_ICMPV6] = "ICMPv6", [NETPOLICY_PROTO_SCTP] = "SCTP",
};

static const uint8_t protocol_numbers[NETPOLICY_PROTOS] = {
	[NETPOLICY_PROTO_ANY] = 0,
	[NETPOLICY_PROTO_TCP] = IPPROTO_TCP,
	[NETPOLICY_PROTO_UDP] = IPPROTO_UDP,
	[NETPOLICY_PROTO_ICMP] = IPPROTO_ICMP,
	[NETPOLICY_PROTO_ICMPV6] = IPPROTO_ICMPV6,
	[NETPOLICY_PROTO_SCTP] = IPPROTO_SCTP,
};

int netpolicy_protocol_from_name(const char *name)
{
	for (int i = 0; i < NETPOLICY_PROTOS; i++)
		if (strcmp(name, protocol_names[i]) == 0)
			return i;
	return -EINVAL;
}

const char *netpolicy_protocol_name(enum netpolicy_protocol p)
{
	return (unsigned)p < NETPOLICY_PROTOS ? protocol_names[p] : "?";
}

uint8_t netpolicy_protocol_number(enum netpolicy_protocol p)
{
	return (unsigned)p < NETPOLICY_PROTOS ? protocol_numbers[p] : 0;
}

bool netpolicy_protocol_has_ports(enum netpolicy_protocol p)
{
	return p == NETPOLICY_PROTO_TCP || p == NETPOLICY_PROTO_UDP || p == NETPOLICY_PROTO_SCTP;
}

int netpolicy_action_is_deny(const char *name)
{
	if (strcmp(name, "Allow") == 0)
		return 0;
	if (strcmp(name, "Deny") == 0)
		return 1;
	return -EINVAL;
}
