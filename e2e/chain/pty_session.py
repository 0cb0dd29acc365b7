#!/usr/bin/env python3
"""Drive an interactive program through a real pseudo-terminal, as a person at a keyboard.

    pty_session.py [--wait TEXT | --type LINE]... -- COMMAND [ARG...]

Runs COMMAND with a new pty as its controlling terminal, then performs the steps in order:
--wait TEXT waits until the terminal has shown TEXT (15 s, or $PTY_WAIT_SECONDS: a slow node), --type LINE types LINE one key at a
time and presses Enter. After the last step it reads until COMMAND closes the terminal, prints
everything the terminal showed and exits with COMMAND's exit status. The e2e tests and the demo
use it for `bulwark-node-harness exec -t`, so exec recording sees a real terminal session.
"""
import os
import pty
import select
import sys
import time


def main(argv):
    if "--" not in argv:
        sys.exit(__doc__)
    split = argv.index("--")
    opts, command = argv[:split], argv[split + 1:]
    if not command or len(opts) % 2:
        sys.exit(__doc__)
    steps = list(zip(opts[0::2], opts[1::2]))
    wait_seconds = float(os.environ.get("PTY_WAIT_SECONDS", "15"))
    for flag, _ in steps:
        if flag not in ("--wait", "--type"):
            sys.exit("unknown step %s\n%s" % (flag, __doc__))

    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execvp(command[0], command)
        finally:
            os._exit(127)

    seen = bytearray()
    searched = 0  # a --wait only looks at what arrived after the previous one

    def read_some(timeout):
        if not select.select([fd], [], [], timeout)[0]:
            return True
        try:
            data = os.read(fd, 4096)
        except OSError:  # EIO: the other side closed the terminal
            data = b""
        seen.extend(data)
        return bool(data)

    for flag, arg in steps:
        if flag == "--type":
            for ch in arg:
                os.write(fd, ch.encode())
                time.sleep(0.01)
            os.write(fd, b"\r")
            continue
        token, end = arg.encode(), time.time() + wait_seconds
        while seen.find(token, searched) < 0:
            if time.time() >= end or not read_some(end - time.time()):
                sys.stdout.write(seen.decode(errors="replace"))
                sys.exit("\npty_session: never saw %r" % arg)
        searched = seen.find(token, searched) + len(token)

    end = time.time() + wait_seconds
    while time.time() < end and read_some(1):
        pass
    _, status = os.waitpid(pid, 0)
    sys.stdout.write(seen.decode(errors="replace"))
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
