#!/usr/bin/env bash
# Prints what a process tree that ran past its deadline is doing: every process under PID (its state, what it waits
# on in the kernel, its command line and open descriptors) and, when gdb is installed, each thread's stack of the
# processes that are ours (the test binary and the operator). With --kill, then kills the whole tree at once (collected
# first: a child killed first would orphan its own children); scripts/test.sh does so with a run past its deadline.
# Usage: scripts/hang-report.sh [--kill] PID
set -uo pipefail
kill_after=false
if [ "${1:-}" = --kill ]; then kill_after=true; shift; fi
root=$1

descendants() {
    local p
    for p in $(ps -o pid= --ppid "$1" 2>/dev/null); do
        echo "$p"
        descendants "$p"
    done
}
pids="$root $(descendants "$root")"

echo "=== processes under $root"
# shellcheck disable=SC2086
ps -o pid,ppid,etime,stat,wchan:24,args -p "$(echo $pids | tr ' ' ',')" 2>/dev/null | cut -c1-240
for p in $pids; do
    [ -d "/proc/$p" ] || continue
    echo "=== $p: $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-200)"
    echo "descriptors:"
    for fd in /proc/"$p"/fd/*; do
        printf '  %s -> %s\n' "${fd##*/}" "$(readlink "$fd" 2>/dev/null)"
    done | head -40
    case "$(readlink "/proc/$p/exe" 2>/dev/null)" in
    *.xctest | */salespot-operator)
        stacks=""
        if command -v gdb >/dev/null; then
            stacks=$(timeout 60 gdb -p "$p" -batch -nx -ex 'set pagination off' -ex 'thread apply all bt 25' 2>&1 |
                grep -E '^(Thread|#)' | cut -c1-220 | head -600)
        fi
        if [ -n "$stacks" ]; then
            echo "threads (gdb):"
            echo "$stacks"
        else
            # No gdb, or it could not attach (ptrace refused): what each thread waits on in the kernel.
            echo "threads (no stacks from gdb; kernel wait channels):"
            for t in /proc/"$p"/task/*; do echo "  ${t##*/} $(cat "$t/comm") $(cat "$t/wchan" 2>/dev/null)"; done
        fi
        ;;
    esac
done
if $kill_after; then
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
fi
