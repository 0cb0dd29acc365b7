#!/usr/bin/env bash
# The node harness without an API server (`bulwark-node-harness run-pod`): real runc
# containers from a Pod JSON, checked from the outside.
#  - a running pod: its processes sit in the kubelet-named cgroup v2 directory (Guaranteed →
#    kubepods/pod<uid>/<id>), the host reaches the pod IP (ICMP and HTTP to busybox httpd),
#    PID 1's argv and environment are exactly what command/args/env say ($(VAR) expanded),
#    the downwardAPI file holds the annotation, a Localhost seccomp profile denying mkdir
#    gives EPERM in one container while the other can mkdir, exec works with and without a
#    tty and passes the exit code; SIGTERM tears it all down (no netns, veth, cgroup, runc
#    state, address slot, state files);
#  - a short pod: init containers run in order before the container, whose exit code 3
#    makes the pod Failed, in kubepods/besteffort/pod<uid>/<id>;
#  - the systemd driver's names; an unknown image → ErrImagePull; a malformed seccomp
#    profile → CreateContainerConfigError naming the field;
#  - `--cleanup` after the harness was killed with SIGKILL removes what it left behind.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
H=$PWD/$BUILD/bin/bulwark-node-harness

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
for tool in runc jq ip curl; do
	command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
[ -x /bin/busybox ] || { echo "SKIP: /bin/busybox (busybox-static) is missing"; exit 77; }
[ -x "$H" ] || { echo "FAIL: $H not built (make test-build)"; exit 1; }
# The cgroup v2 mount, wherever this machine has it (/sys/fs/cgroup on pure v2 hosts,
# /sys/fs/cgroup/unified on hybrid ones).
V2=$(findmnt -n -f -t cgroup2 -o TARGET) || V2=
[ -n "$V2" ] || { echo "SKIP: no cgroup2 filesystem is mounted"; exit 77; }

work=$(mktemp -d /tmp/bulwark-harness-test.XXXXXX)
CGNAME=bulwark-e2e-ktest-$$
CGROOT=$V2/$CGNAME
STATE=$work/state
KUBELET=$work/kubelet
harness_pid=
harness() { "$H" --state-dir "$STATE" --cgroup-root "$CGROOT" --kubelet-root "$KUBELET" "$@"; }
cleanup() {
	[ -z "$harness_pid" ] || kill -TERM "$harness_pid" 2>/dev/null
	[ -z "$harness_pid" ] || wait "$harness_pid" 2>/dev/null
	harness --cleanup >/dev/null 2>&1
	"$H" --state-dir "$work/state2" --cgroup-root "$CGROOT" --cleanup >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() {
	n=$((n + 1)) failed=$((failed + 1))
	echo "not ok $n - $1"
	[ -z "${2:-}" ] || printf '%s\n' "$2" | sed 's/^/# /'
}
# check NAME CMD...: passes when CMD succeeds; its output is shown when it does not.
check() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then ok "$name"; else not_ok "$name" "$out"; fi
}
# expect NAME GOT WANT
expect() {
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "got:  $2"$'\n'"want: $3"; fi
}
# A container's own view of its cgroup, for its termination message: "cg=PATH ns=CGROUPNS".
SHOW_CGROUP='echo cg=$(grep ^0:: /proc/self/cgroup | cut -d: -f3) ns=$(readlink /proc/self/ns/cgroup)'
# expect_own_cgroup NAME MESSAGE WANT: the container saw itself in cgroup WANT, or, when runc
# gave it a cgroup namespace (it does on pure cgroup v2 hosts, as containerd does), at that
# namespace's root "/": its cgroup is the namespace's root by construction, and the pods
# running above show their host-side paths.
expect_own_cgroup() {
	local cg=${2#*cg=} ns=${2#*ns=}
	cg=${cg%% *} ns=${ns%%[[:space:]]*}
	if [ "$ns" != "$(readlink /proc/self/ns/cgroup)" ]; then
		expect "$1 (in its own cgroup namespace: /)" "$cg" /
	else
		expect "$1" "$cg" "$3"
	fi
}

mkdir -p "$KUBELET/seccomp/profiles"
cat >"$KUBELET/seccomp/profiles/no-mkdir.json" <<'EOF'
{"defaultAction": "SCMP_ACT_ALLOW",
 "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
             {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
 "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
              {"name": "reboot", "action": "SCMP_ACT_ERRNO", "includes": {"caps": ["CAP_SYS_BOOT"]}}]}
EOF
cat >"$KUBELET/seccomp/profiles/bad.json" <<'EOF'
{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_EXPLODE"}]}
EOF

# ---- a running pod -------------------------------------------------------------------------------
UID1=0a1b2c3d-0000-4000-8000-00000000aa01
cat >"$work/web.json" <<EOF
{"apiVersion": "v1", "kind": "Pod",
 "metadata": {"name": "web", "namespace": "ktest", "uid": "$UID1",
              "annotations": {"bulwark.dev/ruleset": "{\"fs\": [\"/data\"]}"}},
 "spec": {
  "volumes": [{"name": "info", "downwardAPI": {"items": [
                {"path": "ruleset", "fieldRef": {"fieldPath": "metadata.annotations['bulwark.dev/ruleset']"}},
                {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}}]}},
              {"name": "scratch", "emptyDir": {}}],
  "containers": [
   {"name": "web", "image": "registry.k8s.io/busybox:1.36",
    "command": ["sh", "-c", "echo hello-from-pod > /tmp/index.html; httpd -f -p 8080 -h /tmp; exit 0", "\$(FOO)"],
    "env": [{"name": "FOO", "value": "a b"}, {"name": "BAR", "value": "\$(FOO)-x"},
            {"name": "LIT", "value": "\$\$(FOO)"},
            {"name": "MYNS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}],
    "securityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": "profiles/no-mkdir.json"}},
    "volumeMounts": [{"name": "info", "mountPath": "/etc/podinfo"}, {"name": "scratch", "mountPath": "/scratch"}],
    "resources": {"limits": {"cpu": "100m", "memory": "64Mi"}}},
   {"name": "side", "image": "busybox", "args": ["sleep", "3600"], "workingDir": "/tmp",
    "securityContext": {"runAsUser": 65534},
    "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}],
    "resources": {"requests": {"cpu": "0.1", "memory": "67108864"}, "limits": {"cpu": "100m", "memory": "64Mi"}}}]}}
EOF

"$H" --state-dir "$STATE" --cgroup-root "$CGROOT" --kubelet-root "$KUBELET" \
	run-pod "$work/web.json" >"$work/web.final" 2>"$work/web.log" &
harness_pid=$!
status=$STATE/pods/$UID1/status.json
for _ in $(seq 100); do
	[ "$(jq -r .phase "$status" 2>/dev/null)" = Running ] && break
	sleep 0.1
done
expect "pod is Running" "$(jq -r .phase "$status" 2>/dev/null)" Running
expect "QoS class is Guaranteed" "$(jq -r .qosClass "$status")" Guaranteed
ip=$(jq -r .podIP "$status")
expect "pod IP is from 198.19.0.0/16" "${ip%.*.*}" 198.19
record=$STATE/pods/$UID1/record.json

for c in web side; do
	id=$(jq -r --arg c "$c" '.containers[] | select(.name == $c) | .id' "$record")
	pid=$(jq -r --arg c "$c" '.containers[] | select(.name == $c) | .pid' "$record")
	want="0::/$CGNAME/kubepods/pod$UID1/$id"
	expect "$c: process is in the kubelet-named v2 cgroup" "$(grep '^0::' "/proc/$pid/cgroup")" "$want"
	check "$c: cgroup.procs of $CGROOT/kubepods/pod$UID1/${id:0:12}… lists it" \
		grep -qx "$pid" "$CGROOT/kubepods/pod$UID1/$id/cgroup.procs"
done

check "host pings the pod IP" busybox ping -c 1 -W 2 "$ip"
for _ in $(seq 50); do
	page=$(curl -sS --max-time 2 "http://$ip:8080/index.html" 2>&1) && break
	sleep 0.1
done
expect "host fetches from httpd in the pod" "$page" hello-from-pod

expect "argv is command+args with \$(VAR) expanded" \
	"$(harness exec ktest/web -- cat /proc/1/cmdline | tr '\0' '|')" \
	"sh|-c|echo hello-from-pod > /tmp/index.html; httpd -f -p 8080 -h /tmp; exit 0|a b|"
# runc adds HOME from the image's /etc/passwd when the environment has none, as under containerd.
expect "environment is exactly image PATH, HOSTNAME, the pod's env, then runc's HOME" \
	"$(harness exec ktest/web -- cat /proc/1/environ | tr '\0' '\n')" \
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
HOSTNAME=web
FOO=a b
BAR=a b-x
LIT=\$(FOO)
MYNS=ktest
HOME=/root"
expect "no command: the image's cmd gets the args (busybox has no entrypoint)" \
	"$(harness exec ktest/web -c side -- cat /proc/1/cmdline | tr '\0' ' ')" "sleep 3600 "
expect "workingDir is the cwd" "$(harness exec ktest/web -c side -- readlink /proc/1/cwd)" /tmp
expect "runAsUser: the process and exec run as nobody" \
	"$(harness exec ktest/web -c side -- sh -c 'id -u; id -g; stat -c %u /proc/1')" "65534
65534
65534"
expect "hostname is the pod name" "$(harness exec ktest/web -- hostname)" web
expect "downwardAPI file holds the annotation" \
	"$(harness exec ktest/web -- cat /etc/podinfo/ruleset)" '{"fs": ["/data"]}'
expect "downwardAPI metadata.name" "$(harness exec ktest/web -- cat /etc/podinfo/name)" web

out=$(harness exec ktest/web -- mkdir /tmp/denied 2>&1)
rc=$?
if [ $rc -ne 0 ] && [[ $out == *"Operation not permitted"* ]]; then
	ok "Localhost seccomp profile: mkdir fails with EPERM"
else
	not_ok "Localhost seccomp profile: mkdir fails with EPERM" "rc=$rc: $out"
fi
check "the container without the profile can mkdir" harness exec ktest/web -c side -- mkdir /tmp/allowed
expect "emptyDir is shared between containers" \
	"$(harness exec ktest/web -c side -- sh -c 'echo shared > /scratch/f' &&
		harness exec ktest/web -- cat /scratch/f)" shared

harness exec ktest/web -c side -- sh -c 'exit 7'
expect "exec passes the exit code" "$?" 7
expect "exec -i passes stdin" "$(echo from-stdin | harness exec -i ktest/web -c side -- cat)" from-stdin
out=$(printf 'tty; exit 9\n' | harness exec -t -i ktest/web -c side -- sh 2>&1)
rc=$?
if [ $rc -eq 9 ] && [[ $out == *"/dev/pts/"* ]]; then
	ok "exec -t gives a pty and passes the exit code"
else
	not_ok "exec -t gives a pty and passes the exit code" "rc=$rc: $out"
fi
harness exec ktest/web -c nosuch -- true 2>/dev/null
expect "exec into an unknown container fails with 126" "$?" 126

netns=bwpod-$UID1
host_if=$(printf 'bwpod%04x' "$(jq -r .slot "$record")")
check "veth $host_if has the pod's gateway address" bash -c "ip -o addr show dev '$host_if' | grep ' ${ip%.*}.$((${ip##*.} - 1))/30 ' >/dev/null"
kill -TERM "$harness_pid"
wait "$harness_pid"
expect "run-pod exits 0 after SIGTERM" "$?" 0
harness_pid=
check "netns is gone" bash -c "! ip netns list | grep '^$netns' >/dev/null"
check "veth is gone" bash -c "! ip link show '$host_if' 2>/dev/null"
check "pod cgroups are gone (v2 and v1)" bash -c "! ls -d $CGROOT /sys/fs/cgroup/*/$CGNAME 2>/dev/null | grep ."
check "runc state and pod files are gone" bash -c "! test -e '$STATE'"
check "address slot is released" bash -c "! grep -rlx '$UID1' /run/bulwark-e2e-ipam/ 2>/dev/null | grep ."

# ---- init containers, exit codes, BestEffort --------------------------------------------------
UID2=0a1b2c3d-0000-4000-8000-00000000aa02
cat >"$work/job.json" <<EOF
{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "job", "uid": "$UID2"},
 "spec": {"volumes": [{"name": "w", "emptyDir": {}}],
  "initContainers": [
   {"name": "first", "image": "busybox", "command": ["sh", "-c", "sleep 0.3; echo first >> /w/order"],
    "volumeMounts": [{"name": "w", "mountPath": "/w"}]},
   {"name": "second", "image": "busybox", "command": ["sh", "-c", "echo second >> /w/order"],
    "volumeMounts": [{"name": "w", "mountPath": "/w"}]}],
  "containers": [
   {"name": "main", "image": "busybox", "terminationMessagePolicy": "FallbackToLogsOnError",
    "command": ["sh", "-c", "echo main >> /w/order; tr '\\\\n' ' ' < /w/order; $SHOW_CGROUP; exit 3"],
    "volumeMounts": [{"name": "w", "mountPath": "/w"}]}]}}
EOF
final=$(harness run-pod "$work/job.json" 2>"$work/job.log")
expect "exit 3 makes the pod Failed" "$(jq -r .phase <<<"$final")" Failed
expect "containerStatuses carry exitCode 3" \
	"$(jq -r '.containerStatuses[0].state.terminated.exitCode' <<<"$final")" 3
expect "init containers Completed with 0" \
	"$(jq -r '[.initContainerStatuses[].state.terminated | "\(.reason):\(.exitCode)"] | join(",")' <<<"$final")" \
	"Completed:0,Completed:0"
msg=$(jq -r '.containerStatuses[0].state.terminated.message' <<<"$final")
expect "init containers ran in order, before the container" "${msg%%cg=*}" "first second main "
id=$(jq -r '.containerStatuses[0].containerID' <<<"$final")
expect_own_cgroup "BestEffort pod cgroup: kubepods/besteffort/pod<uid>/<id>" "$msg" \
	"/$CGNAME/kubepods/besteffort/pod$UID2/${id#containerd://}"

# ---- systemd naming -----------------------------------------------------------------------------
UID3=0a1b2c3d-0000-4000-8000-00000000aa03
cat >"$work/sd.json" <<EOF
{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "sd", "uid": "$UID3"},
 "spec": {"containers": [{"name": "c", "image": "busybox", "terminationMessagePolicy": "FallbackToLogsOnError",
  "command": ["sh", "-c", "$SHOW_CGROUP; exit 1"],
  "resources": {"requests": {"memory": "1Mi"}}}]}}
EOF
final=$(harness --cgroup-driver systemd run-pod "$work/sd.json" 2>"$work/sd.log")
id=$(jq -r '.containerStatuses[0].containerID' <<<"$final")
expect_own_cgroup "systemd driver names (Burstable)" "$(jq -r '.containerStatuses[0].state.terminated.message' <<<"$final")" \
	"/$CGNAME/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID3//-/_}.slice/cri-containerd-${id#containerd://}.scope"

# ---- --image: busybox plus a directory ------------------------------------------------------------
mkdir -p "$work/img/opt"
echo from-image-dir >"$work/img/opt/marker"
cat >"$work/img.json" <<'EOF'
{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "img"},
 "spec": {"containers": [{"name": "c", "image": "example.com/team/tools:2.0@sha256:0123",
  "terminationMessagePolicy": "FallbackToLogsOnError", "command": ["sh", "-c", "cat /opt/marker; exit 1"]}]}}
EOF
final=$(harness --image "tools=$work/img" run-pod "$work/img.json" 2>"$work/img.log")
expect "--image NAME=DIR: the image is busybox plus DIR" \
	"$(jq -r '.containerStatuses[0].state.terminated.message' <<<"$final")" "from-image-dir "

# ---- what a pod cannot have ---------------------------------------------------------------------
cat >"$work/bad.json" <<'EOF'
{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bad"},
 "spec": {"containers": [
   {"name": "img", "image": "quay.io/nginx:1.25"},
   {"name": "priv", "image": "busybox", "command": ["true"], "securityContext": {"privileged": true}},
   {"name": "prof", "image": "busybox", "command": ["true"],
    "securityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": "profiles/bad.json"}}}]}}
EOF
final=$(harness run-pod "$work/bad.json" 2>"$work/bad.log")
expect "unknown image → waiting ErrImagePull" \
	"$(jq -r '.containerStatuses[0].state.waiting.reason' <<<"$final")" ErrImagePull
check "ErrImagePull message names the image" \
	grep -q 'quay.io/nginx:1.25' <<<"$(jq -r '.containerStatuses[0].state.waiting.message' <<<"$final")"
expect "bad profile → CreateContainerConfigError naming the field" \
	"$(jq -r '.containerStatuses[2].state.waiting | "\(.reason): \(.message)"' <<<"$final")" \
	"CreateContainerConfigError: seccomp profile profiles/bad.json, syscalls[0]: unknown action SCMP_ACT_EXPLODE"
expect "privileged → CreateContainerConfigError" \
	"$(jq -r '.containerStatuses[1].state.waiting | "\(.reason): \(.message)"' <<<"$final")" \
	"CreateContainerConfigError: securityContext.privileged: privileged containers are not supported by the node harness"
expect "a pod with a container that cannot start stays Pending" "$(jq -r .phase <<<"$final")" Pending

sed -e 's/"spec": {/"spec": {"hostNetwork": true, /' "$work/bad.json" >"$work/hostnet.json"
out=$(harness run-pod "$work/hostnet.json" 2>&1)
rc=$?
if [ $rc -ne 0 ] && [[ $out == *"hostNetwork: true is not supported by the node harness"* ]]; then
	ok "hostNetwork is refused with a clear error"
else
	not_ok "hostNetwork is refused with a clear error" "rc=$rc: $out"
fi

# ---- --cleanup after SIGKILL --------------------------------------------------------------------
UID4=0a1b2c3d-0000-4000-8000-00000000aa04
sed -e "s/$UID1/$UID4/" "$work/web.json" >"$work/web4.json"
"$H" --state-dir "$work/state2" --cgroup-root "$CGROOT" --kubelet-root "$KUBELET" \
	run-pod "$work/web4.json" >/dev/null 2>&1 &
pid4=$!
for _ in $(seq 100); do
	[ "$(jq -r .phase "$work/state2/pods/$UID4/status.json" 2>/dev/null)" = Running ] && break
	sleep 0.1
done
kill -KILL "$pid4"
wait "$pid4" 2>/dev/null
check "after SIGKILL the netns is still there" ip netns pids "bwpod-$UID4"
"$H" --state-dir "$work/state2" --cgroup-root "$CGROOT" --cleanup
expect "--cleanup exits 0" "$?" 0
check "--cleanup removed the netns" bash -c "! ip netns list | grep 'bwpod-$UID4' >/dev/null"
check "--cleanup removed the cgroups" bash -c "! ls -d $CGROOT /sys/fs/cgroup/*/$CGNAME 2>/dev/null | grep ."
# A killed container can linger as a zombie until init reaps it: count live processes only.
live_in_pod() {
	local f pid
	grep -l "$1" /proc/[0-9]*/cgroup 2>/dev/null | while read -r f; do
		pid=${f#/proc/}
		pid=${pid%/cgroup}
		[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] || echo "$pid"
	done
}
check "--cleanup killed the containers" bash -c "[ -z '$(live_in_pod "$UID4")' ]"
check "--cleanup removed the state dir" bash -c "! test -e '$work/state2'"

echo "1..$n"
((failed == 0))
