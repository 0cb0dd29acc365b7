/* Bytes -> JSON -> netpolicy_validate + netpolicy_compile (alone, and composed with a second
 * Audit section) -> net_entries_build: never a crash, a leak, or an error without a
 * reason; compile accepts exactly what validate accepts; every compiled policy translates into
 * map entries, and the same bytes read as a compiled policy never crash the translation. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "nodeagent/net/net_entries.h"
#include "netpolicy/netpolicy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 64 * 1024)
		return 0;
	json_t *section = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (!section)
		return 0;
	struct field_error err = {0};
	int r = netpolicy_validate(section, "spec.network", &err);
	if (r == -EINVAL && err.reason[0] == '\0')
		abort();

	struct policy_section s[2] = {{"fuzz/a", size % 2 == 0, section},
				      {"fuzz/b", true, section}};
	for (size_t n = 1; n <= 2; n++) {
		json_t *compiled = NULL;
		struct field_error cerr = {0};
		int c = netpolicy_compile(s, n, &compiled, &cerr);
		if (c == -EINVAL && cerr.reason[0] == '\0')
			abort();
		/* Only composition limits may reject what validation accepted. */
		if (c == 0 && r != 0)
			abort();
		if (c == 0) {
			struct net_entries e;
			struct field_error eerr = {0};
			if (net_entries_build(compiled, &e, &eerr) < 0)
				abort();
			net_entries_free(&e);
		}
		json_decref(compiled);
	}

	struct net_entries e;
	struct field_error eerr = {0};
	if (net_entries_build(section, &e, &eerr) == 0)
		net_entries_free(&e);
	else if (eerr.reason[0] == '\0' && eerr.field[0] == '\0')
		abort();
	json_decref(section);
	return 0;
}
