// seccomp-reference prints the reference that Bulwark's RuntimeDefault follows: the default
// seccomp profile of github.com/moby/profiles/seccomp at the version go.mod pins, resolved the
// way the runtime resolves it for a container, as JSON on stdout:
//
//	{"module": "...", "version": "v...", "kernel": "6.18", "capabilities": [...],
//	 "profiles": {"SCMP_ARCH_X86_64": {OCI linux.seccomp}, "SCMP_ARCH_AARCH64": {...}}}
//
// The profile is upstream's own data (seccomp.DefaultProfile), never a copy of it. Upstream
// resolves its arch/caps/minKernel conditions for the architecture the runtime was built for
// (runtime.GOARCH); resolve() below applies the same rules for a named architecture, so one
// binary describes every architecture, and main checks that resolve() gives exactly what
// upstream's own seccomp.GetDefaultProfile gives for the architecture it runs on.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/profiles/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

const module = "github.com/moby/profiles/seccomp"

// The capability set containerd and moby give a container that asks for none: what a
// Kubernetes pod with RuntimeDefault and no securityContext.capabilities runs with.
var defaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// The architectures Bulwark's profiles cover, by the name upstream's conditions use (its
// GOARCH-derived "native" names) and the OCI name of the main architecture.
var arches = []struct{ native, oci string }{
	{"amd64", string(specs.ArchX86_64)},
	{"arm64", string(specs.ArchAARCH64)},
}

type kernel struct{ major, minor uint64 }

func hostKernel() (kernel, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return kernel{}, err
	}
	release := unix.ByteSliceToString(u.Release[:])
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return kernel{}, fmt.Errorf("cannot read a kernel version from %q", release)
	}
	major, err1 := strconv.ParseUint(parts[0], 10, 32)
	minor, err2 := strconv.ParseUint(strings.TrimRightFunc(parts[1], func(r rune) bool {
		return r < '0' || r > '9'
	}), 10, 32)
	if err1 != nil || err2 != nil {
		return kernel{}, fmt.Errorf("cannot read a kernel version from %q", release)
	}
	return kernel{major, minor}, nil
}

func (k kernel) atLeast(v *seccomp.KernelVersion) bool {
	return k.major > v.Kernel || (k.major == v.Kernel && k.minor >= v.Major)
}

// resolve turns upstream's profile (with includes/excludes) into the linux.seccomp a container
// gets on arch with caps, by the rules of upstream's setupSeccomp.
func resolve(p *seccomp.Seccomp, arch string, caps []string, k kernel) (*specs.LinuxSeccomp, error) {
	if len(p.Architectures) != 0 && len(p.ArchMap) != 0 {
		return nil, fmt.Errorf("the profile has both architectures and archMap")
	}
	out := p.LinuxSeccomp
	out.Syscalls = nil
	for _, a := range p.ArchMap {
		if strings.EqualFold(string(a.Arch), "SCMP_ARCH_"+ociSuffix(arch)) {
			out.Architectures = append(append(out.Architectures, a.Arch), a.SubArches...)
			break
		}
	}
	for _, call := range p.Syscalls {
		c := call.LinuxSyscall
		if call.Name != "" {
			if len(c.Names) != 0 {
				return nil, fmt.Errorf("syscall entry %q has both name and names", call.Name)
			}
			c.Names = []string{call.Name}
		}
		if call.Excludes != nil && matchesAny(call.Excludes, arch, caps, k) {
			continue
		}
		if call.Includes != nil && !matchesAll(call.Includes, arch, caps, k) {
			continue
		}
		out.Syscalls = append(out.Syscalls, c)
	}
	return &out, nil
}

func ociSuffix(native string) string {
	switch native {
	case "amd64":
		return "X86_64"
	case "arm64":
		return "AARCH64"
	}
	return strings.ToUpper(native)
}

func matchesAny(f *seccomp.Filter, arch string, caps []string, k kernel) bool {
	if slices.Contains(f.Arches, arch) {
		return true
	}
	for _, c := range f.Caps {
		if slices.Contains(caps, c) {
			return true
		}
	}
	return f.MinKernel != nil && k.atLeast(f.MinKernel)
}

func matchesAll(f *seccomp.Filter, arch string, caps []string, k kernel) bool {
	if len(f.Arches) > 0 && !slices.Contains(f.Arches, arch) {
		return false
	}
	for _, c := range f.Caps {
		if !slices.Contains(caps, c) {
			return false
		}
	}
	return f.MinKernel == nil || k.atLeast(f.MinKernel)
}

func moduleVersion() (string, error) {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "", fmt.Errorf("the binary carries no build information")
	}
	for _, d := range info.Deps {
		if d.Path == module {
			if d.Replace != nil {
				return "", fmt.Errorf("%s is replaced by %s: the reference must be the published module", module, d.Replace.Path)
			}
			return d.Version, nil
		}
	}
	return "", fmt.Errorf("%s is not among the binary's modules", module)
}

func run() error {
	if len(os.Args) != 1 {
		return fmt.Errorf("usage: %s (no arguments; prints the resolved reference profiles as JSON)", os.Args[0])
	}
	version, err := moduleVersion()
	if err != nil {
		return err
	}
	k, err := hostKernel()
	if err != nil {
		return err
	}
	spec := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: defaultCaps}}}
	doc := map[string]any{
		"module":       module,
		"version":      version,
		"kernel":       fmt.Sprintf("%d.%d", k.major, k.minor),
		"capabilities": defaultCaps,
	}
	profiles := map[string]*specs.LinuxSeccomp{}
	for _, a := range arches {
		p, err := resolve(seccomp.DefaultProfile(), a.native, defaultCaps, k)
		if err != nil {
			return fmt.Errorf("%s: %w", a.native, err)
		}
		if len(p.Architectures) == 0 || string(p.Architectures[0]) != a.oci {
			return fmt.Errorf("%s: the reference has no archMap entry for %s", a.native, a.oci)
		}
		if a.native == runtime.GOARCH {
			theirs, err := seccomp.GetDefaultProfile(spec)
			if err != nil {
				return fmt.Errorf("upstream GetDefaultProfile: %w", err)
			}
			if !reflect.DeepEqual(p, theirs) {
				return fmt.Errorf("resolve() disagrees with upstream's own GetDefaultProfile on %s: update resolve() to upstream's setupSeccomp", a.native)
			}
		}
		profiles[a.oci] = p
	}
	doc["profiles"] = profiles
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "seccomp-reference: %v\n", err)
		os.Exit(1)
	}
}
