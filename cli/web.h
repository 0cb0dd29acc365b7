/* `kubectl bulwark replay --web`: serves a page with the asciinema web player (installed from
 * the npm registry at build time, never a CDN) and the session's cast, on loopback only. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct web_opts {
	const char *player_dir; /* asciinema-player.min.js and .css */
	uint16_t port;		/* 0: any free port */
	unsigned serve_seconds; /* 0: until interrupted */
	double speed, idle_limit;
};

/* Where the player is when not given: $BULWARK_PLAYER_DIR, else ../share/asciinema-player
 * next to the executable (the build tree's layout). */
int web_default_player_dir(char *out, size_t size);

int cli_replay_web(const char *dir, const char *id, const struct web_opts *o);
