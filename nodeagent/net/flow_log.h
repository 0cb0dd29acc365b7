/* The agent's network flow log: sampled flow events as JSON lines in <state-dir>/flows.jsonl,
 * rotated to flows.jsonl.1 past FLOW_LOG_MAX, and read back (newest last) for /flows and
 * `kubectl bulwark flows`. */
#pragma once

#include <jansson.h>
#include <stdio.h>

#define FLOW_LOG_MAX	  (16u << 20)
#define FLOW_LOG_TAIL_MAX 10000

/* Opens path for appending, rotating it first when it has grown past FLOW_LOG_MAX.
 * NULL with errno set on failure. */
FILE *flow_log_open_append(const char *path);

/* The last limit (1..FLOW_LOG_TAIL_MAX) flows of pod ("namespace/name"; NULL: every pod),
 * oldest first, from path.1 and path, as a new JSON array. Unparseable lines are skipped. */
int flow_log_tail(const char *path, const char *pod, size_t limit, json_t **ret);
