#!/usr/bin/env bash
# bulwark-launch against the real kernel: filesystem, exec, TCP ports, IPC scoping, layer
# intersection, the ABI downgrade (--abi-max) under BestEffort and HardRequirement, missing
# paths, Audit layers. The workload inside the sandbox is busybox and a small python3 probe.
# Exit 0 pass, 77 skip (not root, no Landlock), anything else fail.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
LAUNCH=$PWD/$BUILD/bin/bulwark-launch
PY=/usr/bin/python3
BB=/bin/busybox

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
[ -x "$LAUNCH" ] || { echo "FAIL: $LAUNCH is not built"; exit 1; }
[ -x "$BB" ] && [ -x "$PY" ] || { echo "SKIP: needs $BB (busybox-static) and $PY"; exit 77; }
abi=$($PY -c 'import ctypes; print(ctypes.CDLL(None, use_errno=True).syscall(444, None, 0, 1))')
if [ "$abi" -lt 6 ]; then
	echo "SKIP: kernel Landlock ABI is $abi; these tests need 6 (net ports, scoping)"
	exit 77
fi

tmp=$(mktemp -d /tmp/bulwark-landlock.XXXXXX)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

failures=0 passes=0
pass() { passes=$((passes + 1)); echo "ok - $*"; }
fail() { failures=$((failures + 1)); echo "FAIL - $*"; }
# expect NAME WANT GOT
expect() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: want '$2', got '$3'"; fi
}
expect_grep() { # NAME PATTERN FILE
	if grep -q -- "$2" "$3"; then pass "$1"; else fail "$1: '$2' not in: $(cat "$3")"; fi
}

mkdir -p "$tmp"/{rw,ro,other,outside,bin}
echo data >"$tmp/ro/file"
cp "$BB" "$tmp/outside/bb"

# probe OP ARG: one operation, prints "ok" or the errno name, so a denial is told apart
# from any other failure.
cat >"$tmp/bin/probe.py" <<'PYEOF'
import errno, os, signal, socket, sys, time
op, arg = sys.argv[1], sys.argv[2]
try:
    if op == "write":
        with open(arg, "w") as f:
            f.write("x")
    elif op == "read":
        with open(arg) as f:
            f.read()
    elif op == "connect":
        socket.create_connection(("127.0.0.1", int(arg)), timeout=5).close()
    elif op == "bind":
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", int(arg)))
        s.close()
    elif op == "abstract":
        s = socket.socket(socket.AF_UNIX)
        s.connect("\0" + arg)
        s.close()
    elif op == "kill":
        os.kill(int(arg), signal.SIGTERM)
    elif op == "kill-own-child":
        pid = os.fork()
        if pid == 0:
            time.sleep(30)
            os._exit(0)
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
    print("ok")
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
PYEOF

# Read and execute on the system, so python3 and busybox can start.
sys_paths=()
for p in /usr /lib /lib64 /bin /etc /proc; do [ -e "$p" ] && sys_paths+=("\"$p\""); done
SYS=$(
	IFS=,
	echo "${sys_paths[*]}"
)
ALL_FS='["execute","write_file","read_file","read_dir","remove_dir","remove_file","make_char","make_dir","make_reg","make_sock","make_fifo","make_block","make_sym","refer","truncate","ioctl_dev"]'
FS_READ='{"allowedAccess":["execute","read_file","read_dir"],"parent":['"$SYS"',"'"$tmp"'/bin","'"$tmp"'/ro"]}'
FS_RW='{"allowedAccess":["read_file","write_file","read_dir","make_reg","truncate","remove_file"],"parent":["'"$tmp"'/rw"]}'

# ruleset FILE COMPAT LAYER... : writes a ruleset with one Enforce policy per layer.
ruleset() {
	local file=$1 compat=$2 i=0 policies="" layers=""
	shift 2
	for layer in "$@"; do
		policies+="${policies:+,}{\"name\":\"test/p$i\",\"mode\":\"Enforce\"}"
		layers+="${layers:+,}$layer"
		i=$((i + 1))
	done
	printf '{"compatibility":"%s","policies":[%s],"layers":[%s]}\n' "$compat" "$policies" "$layers" >"$file"
}

# run RULESET [LAUNCH OPTIONS] -- probe OP ARG : stdout is the probe's answer, stderr in $tmp/err.
run_probe() {
	local rs=$1
	shift
	"$LAUNCH" --ruleset "$rs" "$@" 2>"$tmp/err"
}

# ---- filesystem --------------------------------------------------------------------------
ruleset "$tmp/fs.json" HardRequirement \
	'{"ruleset":[{"handledAccessFs":'"$ALL_FS"'}],"pathBeneath":['"$FS_READ,$FS_RW"']}'
expect "allowed write works" ok "$(run_probe "$tmp/fs.json" -- $PY -I -S "$tmp/bin/probe.py" write "$tmp/rw/f")"
expect "allowed read works" ok "$(run_probe "$tmp/fs.json" -- $PY -I -S "$tmp/bin/probe.py" read "$tmp/ro/file")"
expect "write to a read-only path is EACCES" EACCES "$(run_probe "$tmp/fs.json" -- $PY -I -S "$tmp/bin/probe.py" write "$tmp/ro/new")"
expect "write outside every rule is EACCES" EACCES "$(run_probe "$tmp/fs.json" -- $PY -I -S "$tmp/bin/probe.py" write "$tmp/other/f")"
expect "read outside every rule is EACCES" EACCES "$(run_probe "$tmp/fs.json" -- $PY -I -S "$tmp/bin/probe.py" read "$tmp/outside/bb")"
[ -e "$tmp/other/f" ] && fail "a denied write created $tmp/other/f"

# ---- exec ---------------------------------------------------------------------------------
"$LAUNCH" --ruleset "$tmp/fs.json" -- $BB sh -c "$tmp/outside/bb true" 2>"$tmp/err"
expect "exec of a binary outside allowed paths fails (126)" 126 "$?"
expect_grep "the shell says why" "Permission denied" "$tmp/err"
"$LAUNCH" --ruleset "$tmp/fs.json" -- $BB sh -c "/usr/bin/env true" 2>"$tmp/err"
expect "exec of an allowed dynamic binary works" 0 "$?"
# With no path rule at all, the launcher still grants the command's own file ...
ruleset "$tmp/nothing.json" HardRequirement '{"ruleset":[{"handledAccessFs":'"$ALL_FS"'}]}'
"$LAUNCH" --ruleset "$tmp/nothing.json" -- $BB true 2>"$tmp/err"
expect "the command's own (static) file is granted automatically" 0 "$?"
"$LAUNCH" --ruleset "$tmp/nothing.json" -- $BB cat "$tmp/ro/file" >/dev/null 2>"$tmp/err"
expect "... and nothing else" 1 "$?"
# ... and the dynamic loader, but not the libraries: loading those is the workload's business.
"$LAUNCH" --ruleset "$tmp/nothing.json" -- /usr/bin/env true 2>"$tmp/err"
rc=$?
[ "$rc" -ne 0 ] && grep -q "shared libraries" "$tmp/err" && pass "libraries are not granted automatically" ||
	fail "libraries are not granted automatically: rc=$rc $(cat "$tmp/err")"
# A "#!" script: the script and its interpreter are what the kernel opens.
printf '#!%s sh\necho script-ran\n' "$BB" >"$tmp/outside/script"
chmod +x "$tmp/outside/script"
expect "a script and its interpreter are granted automatically" script-ran \
	"$("$LAUNCH" --ruleset "$tmp/nothing.json" -- "$tmp/outside/script" 2>"$tmp/err")"
# A rule naming a file keeps only the rights that mean something on a file.
ruleset "$tmp/file.json" HardRequirement \
	'{"ruleset":[{"handledAccessFs":'"$ALL_FS"'}],"pathBeneath":[{"allowedAccess":["read_file","read_dir","make_reg"],"parent":["'"$tmp"'/ro/file"]}]}'
expect "a rule on a file drops directory-only rights" data \
	"$("$LAUNCH" --ruleset "$tmp/file.json" -- $BB cat "$tmp/ro/file" 2>"$tmp/err")"
"$LAUNCH" --ruleset "$tmp/fs.json" -- env true 2>"$tmp/err"
expect "the command is looked up in PATH" 0 "$?"
"$LAUNCH" --ruleset "$tmp/fs.json" -- no-such-command-bulwark 2>"$tmp/err"
expect "a missing command exits 127" 127 "$?"

# ---- TCP ports ----------------------------------------------------------------------------
base=$((20000 + RANDOM % 20000))
listed=$base unlisted=$((base + 1)) bind_ok=$((base + 2)) bind_no=$((base + 3))
for port in $listed $unlisted; do
	$PY -c "import socket,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1',$port)); s.listen(64); time.sleep(120)" &
	pids+=($!)
done
for _ in $(seq 50); do
	$PY -c "import socket; [socket.create_connection(('127.0.0.1',p)).close() for p in ($listed,$unlisted)]" 2>/dev/null && break
	sleep 0.1
done
NET='{"ruleset":[{"handledAccessFs":'"$ALL_FS"',"handledAccessNet":["bind_tcp","connect_tcp"]}],"pathBeneath":['"$FS_READ"'],"netPort":[{"allowedAccess":["connect_tcp"],"port":['"$listed"']},{"allowedAccess":["bind_tcp"],"port":['"$bind_ok"']}]}'
ruleset "$tmp/net.json" BestEffort "$NET"
ruleset "$tmp/net-hard.json" HardRequirement "$NET"
expect "connect to a listed port works" ok "$(run_probe "$tmp/net.json" -- $PY -I -S "$tmp/bin/probe.py" connect $listed)"
expect "connect to an unlisted port is EACCES" EACCES "$(run_probe "$tmp/net.json" -- $PY -I -S "$tmp/bin/probe.py" connect $unlisted)"
expect "bind to a listed port works" ok "$(run_probe "$tmp/net.json" -- $PY -I -S "$tmp/bin/probe.py" bind $bind_ok)"
expect "bind to an unlisted port is EACCES" EACCES "$(run_probe "$tmp/net.json" -- $PY -I -S "$tmp/bin/probe.py" bind $bind_no)"

# ---- ABI downgrade ------------------------------------------------------------------------
expect "--abi-max 3 BestEffort drops the net rules, so connect works" ok \
	"$(run_probe "$tmp/net.json" --abi-max 3 -- $PY -I -S "$tmp/bin/probe.py" connect $unlisted)"
expect_grep "... and says what it dropped" '"dropped":"fs:ioctl_dev net:bind_tcp,connect_tcp"' "$tmp/err"
expect "... but the filesystem layer still holds" EACCES \
	"$(run_probe "$tmp/net.json" --abi-max 3 -- $PY -I -S "$tmp/bin/probe.py" write "$tmp/other/f")"
out=$(run_probe "$tmp/net-hard.json" --abi-max 3 -- $PY -I -S "$tmp/bin/probe.py" write "$tmp/rw/hard")
expect "--abi-max 3 HardRequirement refuses (125)" 125 "$?"
expect "... without running the command" "" "$out"
expect_grep "... and says why" '"missing":"fs:ioctl_dev net:bind_tcp,connect_tcp"' "$tmp/err"
expect_grep "... naming the ABI needed" '"needsAbi":"5"' "$tmp/err"
run_probe "$tmp/net-hard.json" --abi-max 0 -- $BB true
expect "--abi-max 0 (no Landlock) HardRequirement refuses" 125 "$?"
expect "--abi-max 0 BestEffort runs unrestricted" ok \
	"$(run_probe "$tmp/net.json" --abi-max 0 -- $PY -I -S "$tmp/bin/probe.py" connect $unlisted)"
expect_grep "... with a warning" "running the command without it" "$tmp/err"

# ---- scoping ------------------------------------------------------------------------------
name=bulwark-test-$$-$RANDOM
$PY -c "import socket,time
s=socket.socket(socket.AF_UNIX); s.bind('\0$name'); s.listen(8); time.sleep(120)" &
pids+=($!)
sleep 60 &
victim=$!
pids+=($victim)
for _ in $(seq 50); do
	$PY "$tmp/bin/probe.py" abstract "$name" | grep ok >/dev/null && break
	sleep 0.1
done
SCOPED='{"ruleset":[{"handledAccessFs":'"$ALL_FS"',"scoped":["abstract_unix_socket","signal"]}],"pathBeneath":['"$FS_READ"']}'
UNSCOPED='{"ruleset":[{"handledAccessFs":'"$ALL_FS"'}],"pathBeneath":['"$FS_READ"']}'
ruleset "$tmp/scoped.json" HardRequirement "$SCOPED"
ruleset "$tmp/unscoped.json" HardRequirement "$UNSCOPED"
expect "abstract socket outside the sandbox: connect is EPERM" EPERM \
	"$(run_probe "$tmp/scoped.json" -- $PY -I -S "$tmp/bin/probe.py" abstract "$name")"
expect "... and works without the scope" ok \
	"$(run_probe "$tmp/unscoped.json" -- $PY -I -S "$tmp/bin/probe.py" abstract "$name")"
expect "kill of a process outside the sandbox is EPERM" EPERM \
	"$(run_probe "$tmp/scoped.json" -- $PY -I -S "$tmp/bin/probe.py" kill $victim)"
kill -0 $victim 2>/dev/null && pass "... and the process lives" || fail "the scoped kill killed $victim"
expect "kill of the sandbox's own child works" ok \
	"$(run_probe "$tmp/scoped.json" -- $PY -I -S "$tmp/bin/probe.py" kill-own-child 0)"

# ---- two layers intersect -----------------------------------------------------------------
mkdir -p "$tmp/a" "$tmp/b"
W='["read_file","write_file","make_reg","truncate"]'
ruleset "$tmp/two.json" HardRequirement \
	'{"ruleset":[{"handledAccessFs":'"$ALL_FS"'}],"pathBeneath":['"$FS_READ"',{"allowedAccess":'"$W"',"parent":["'"$tmp"'/a","'"$tmp"'/b"]}]}' \
	'{"ruleset":[{"handledAccessFs":'"$ALL_FS"'}],"pathBeneath":['"$FS_READ"',{"allowedAccess":'"$W"',"parent":["'"$tmp"'/a"]}]}'
expect "a right both layers grant works" ok "$(run_probe "$tmp/two.json" -- $PY -I -S "$tmp/bin/probe.py" write "$tmp/a/f")"
expect "a right only one layer grants is EACCES" EACCES "$(run_probe "$tmp/two.json" -- $PY -I -S "$tmp/bin/probe.py" write "$tmp/b/f")"

# ---- missing paths ------------------------------------------------------------------------
MISSING='{"ruleset":[{"handledAccessFs":'"$ALL_FS"'}],"pathBeneath":['"$FS_READ,$FS_RW"',{"allowedAccess":["read_file"],"parent":["'"$tmp"'/absent"]}]}'
ruleset "$tmp/missing.json" BestEffort "$MISSING"
ruleset "$tmp/missing-hard.json" HardRequirement "$MISSING"
expect "BestEffort skips a missing path and runs" ok \
	"$(run_probe "$tmp/missing.json" -- $PY -I -S "$tmp/bin/probe.py" write "$tmp/rw/g")"
expect_grep "... warning with the rule and path" '"rule":"layers\[0\].pathBeneath\[2\].parent\[0\]","path":"'"$tmp"'/absent"' "$tmp/err"
run_probe "$tmp/missing-hard.json" -- $BB true
expect "HardRequirement refuses a missing path (125)" 125 "$?"
expect_grep "... naming the rule and path" '"rule":"layers\[0\].pathBeneath\[2\].parent\[0\]","path":"'"$tmp"'/absent"' "$tmp/err"

# ---- Audit layers and bad rulesets --------------------------------------------------------
printf '{"compatibility":"HardRequirement","policies":[{"name":"test/audit","mode":"Audit"}],"layers":[%s]}\n' \
	'{"ruleset":[{"handledAccessFs":'"$ALL_FS"'}],"pathBeneath":['"$FS_READ"',{"allowedAccess":["read_file"],"parent":["'"$tmp"'/absent"]}]}' >"$tmp/audit.json"
expect "an Audit layer is not enforced, and its missing path is no HardRequirement failure" ok "$(run_probe "$tmp/audit.json" -- $PY -I -S "$tmp/bin/probe.py" write "$tmp/other/audit")"
expect_grep "... and the launcher says what it would restrict" '"policy":"test/audit","handled":"fs:execute' "$tmp/err"
echo '{"policies":[],"layers":[],"compatibility":"Strict"}' >"$tmp/bad.json"
run_probe "$tmp/bad.json" -- $BB true
expect "an invalid ruleset exits 125" 125 "$?"
expect_grep "... naming the field" 'compatibility: must be BestEffort or HardRequirement' "$tmp/err"
"$LAUNCH" --ruleset "$tmp/absent.json" -- $BB true 2>"$tmp/err"
expect "a missing ruleset file exits 125" 125 "$?"

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
