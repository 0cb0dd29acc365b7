/* Reading a recording through the API server (recordings.bulwark.dev/v1, served by
 * bulwark-controller behind an APIService), so RBAC decides: an auditor needs `get` on
 * recordings, recordings/cast, recordings/log and recordings/chain in the session's namespace
 * (deploy/rbac/auditor.yaml). The files land in a private temporary directory, where the
 * directory-based commands (replay, export, verify, replay --web) read them. */
#pragma once

#include <limits.h>
#include <stdbool.h>

struct fetched_recording {
	char dir[PATH_MAX]; /* mode 0700, removed by cli_fetched_recording_remove() */
	char id[128];	    /* the recording id: DIR/ID.cast ... */
	char digest[96];    /* the ExecSession's status.digest, "" while recording */
	bool complete;	    /* the agent finished the recording (its chain has a trailer) */
};

/* Downloads ExecSession ns/name's recording: the .cast, and with all set the .log and .chain
 * too (verify). ns NULL: the kubeconfig context's namespace. 0, or a negative errno after
 * printing the API server's reason on stderr. */
int cli_fetch_recording(const char *kubeconfig, const char *context, const char *ns,
			const char *name, bool all, struct fetched_recording *ret);
void cli_fetched_recording_remove(struct fetched_recording *f);
