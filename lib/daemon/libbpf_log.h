/* libbpf's own messages, routed to our JSON-lines log: warnings at verbosity 4, the rest
 * (program loading, BTF, relocations) at 6, so a default -v shows none of its chatter but a
 * failing load can be explained with -v 6. */
#pragma once

/* Routes libbpf's print callback to the log; idempotent, any thread. */
void libbpf_log_route(void);
