/* What a mechanism compiler (netpolicy, seccomp_policy, landlock_policy) receives: one
 * selecting policy's section of that mechanism. See docs/policy-api.md. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

struct policy_section {
	const char *policy; /* "namespace/name" of the BulwarkPolicy, for provenance and messages */
	bool audit;	    /* spec.mode is Audit */
	const json_t *section; /* spec.network / spec.seccomp / spec.landlock, never NULL */
};
