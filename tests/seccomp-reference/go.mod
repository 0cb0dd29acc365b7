// The reference Bulwark's RuntimeDefault follows, pinned here and nowhere else: the require of
// github.com/moby/profiles/seccomp below. See docs/seccomp-groups.md ("The RuntimeDefault base")
// for how to bump it.
module bulwark.dev/tests/seccomp-reference

go 1.24.0

require (
	github.com/moby/profiles/seccomp v0.3.0
	github.com/opencontainers/runtime-spec v1.2.1
	golang.org/x/sys v0.33.0
)
