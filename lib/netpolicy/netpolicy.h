/* The `network` section of a BulwarkPolicy: semantic validation, and composition of every
 * selecting policy's section into one pod's compiled network policy (docs/policy-api.md).
 *
 * Compiled form (deterministic: same sections in any order give canonically equal JSON):
 *   {"egress":  {"defaultAction": "Allow"|"Deny",       enforced default
 *                "auditDefaultAction": "Allow"|"Deny",  the default if Audit policies were
 *                                                       enforced too (a would-deny when it
 *                                                       differs)
 *                "rules": [{"action": "Allow"|"Deny", "audit": bool,
 *                           "protocol": "Any"|"TCP"|"UDP"|"ICMP"|"ICMPv6"|"SCTP",
 *                           "ports": [{"port": N, "endPort": M}],  merged, sorted
 *                           "cidrs": ["10.0.0.0/8", ...],          canonical, sorted
 *                           "except": [...]}]},                    canonical, sorted
 *    "ingress": {...}}
 * Rules are sorted by their canonical bytes and deduplicated; a rule with no cidrs means
 * every address (0.0.0.0/0 and ::/0). nodeagent/net/net_entries.h turns this into map entries. */
#pragma once

#include <jansson.h>
#include <stddef.h>

#include "error.h"
#include "policy_section.h"

/* Bounds on what one policy may ask for, so validation and compilation stay bounded. */
#define NETPOLICY_MAX_RULES	  1024	 /* per direction of one policy */
#define NETPOLICY_MAX_CIDRS	  131072 /* per rule */
#define NETPOLICY_MAX_EXCEPT	  4096	 /* per rule */
#define NETPOLICY_MAX_PORTS	  256	 /* per rule */
#define NETPOLICY_MAX_PREFIXES	  262144 /* cidrs + except of one direction after composition */
#define NETPOLICY_MAX_CLASSES	  64 /* distinct (action, audit, protocol, ports) per direction */
#define NETPOLICY_MAX_CIDR_STRLEN 64

/* 0, or -EINVAL with err naming the offending field under `field` ("spec.network"). */
int netpolicy_validate(const json_t *section, const char *field, struct field_error *err);

/* Composes n sections (each validated here) into *ret. 0, -EINVAL with err (the reason names
 * the policy), or -ENOMEM. */
int netpolicy_compile(const struct policy_section *sections, size_t n, json_t **ret,
		      struct field_error *err);
