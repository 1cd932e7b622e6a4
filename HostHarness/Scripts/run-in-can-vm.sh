#!/usr/bin/env bash
# (The SwiftBMS copy of ../shared/reference/can-vm/run-in-can-vm.sh: `make can-vm-test` runs the
# SocketCAN and real-time tests through it.)
# run-in-can-vm.sh - run one command inside a throw-away Linux guest that has
# SocketCAN (can, can-raw, can-bcm, can-gw, can-j1939, vcan, vxcan) and a vcan0
# interface that is already up, and exit with that command's exit status.
#
# Why: the host kernel of this machine kind (and of CI) is built without CAN
# (# CONFIG_CAN is not set), so socket(PF_CAN, SOCK_RAW, CAN_RAW) fails with
# EAFNOSUPPORT and `ip link add vcan0 type vcan` fails with "Unknown device type".
#
# How: Debian's user-mode-linux package ships a Linux 6.1 kernel that runs as an
# ordinary host process (no /dev/kvm, no root needed to run it) and whose CAN
# drivers are built as modules. The guest's root filesystem is the host's own /
# via hostfs, so binaries built on the host (Swift executables and test bundles
# linked against /opt/swift/usr/lib/swift/linux), can-utils, and the current
# directory are all visible at the same paths, unchanged. The guest sees:
#   - its own /proc, /sys, /dev, /dev/pts, /dev/shm and a private tmpfs on /run;
#   - everything else, /tmp included, is the host's filesystem (read-write), so
#     files the command writes (logs, candump captures, reports) stay on the host.
#
# Usage:
#   run-in-can-vm.sh [options] [--] COMMAND [ARG...]
#
#   -t, --timeout SECS  wall-clock limit for booting the guest and running the
#                       command (default 600, env CANVM_TIMEOUT); exit 124 on expiry.
#                       (A first-time apt-get install has its own 900 s limit.)
#   -i, --iface NAME    vcan interface to create and bring up; repeat for more
#                       (default: vcan0)
#   -m, --mem SIZE      guest memory, e.g. 512M, 2G (default 1G, env CANVM_MEM)
#   -v, --verbose       print timings and the guest kernel log to stderr
#       --no-install    never call apt-get; fail if a package is missing
#       --keep          keep the per-run folder (kernel log, init script) for debugging
#   -h, --help          this text
#
# Examples:
#   run-in-can-vm.sh -- candump -n 1 vcan0           # waits for one frame (times out)
#   run-in-can-vm.sh -t 120 -- .build/debug/bms-host --iface vcan0
#   run-in-can-vm.sh -i vcan0 -i vcan1 -- bash -c 'cangen vcan0 -n 10 && ip -s link show vcan0'
#
# The command runs as root in the guest, in the caller's current directory, with
# the caller's environment plus CANVM=1 and CANVM_IFACES="vcan0 ...". Its stdin is
# /dev/null; its stdout and stderr are pipes whose contents are copied, live, to
# this script's stdout and stderr. The guest has a single CPU.
#
# Exit status: the command's own status; 124 if the time limit was hit; 125 if the
# guest could not be set up (boot or module/interface setup failed; the kernel log
# is printed); 2 for a usage error.
#
# Packages (installed with apt-get when missing, as root or via sudo):
#   user-mode-linux (the guest kernel + its modules), kmod (modprobe),
#   iproute2 (ip), can-utils (candump, cansend, cangen, canplayer, ...).
set -euo pipefail

PROG=${0##*/}
TIMEOUT=${CANVM_TIMEOUT:-600}
MEM=${CANVM_MEM:-1G}
VERBOSE=0
INSTALL=1
KEEP=0
IFACES=()

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }
die() { echo "$PROG: $*" >&2; exit 2; }
log() { if [ "$VERBOSE" = 1 ]; then echo "$PROG: $*" >&2; fi; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

T0=$(now)

# ---------------------------------------------------------------- arguments
while [ $# -gt 0 ]; do
    case $1 in
        -t|--timeout) [ $# -ge 2 ] || die "$1 needs a value"; TIMEOUT=$2; shift 2 ;;
        -i|--iface)   [ $# -ge 2 ] || die "$1 needs a value"; IFACES+=("$2"); shift 2 ;;
        -m|--mem)     [ $# -ge 2 ] || die "$1 needs a value"; MEM=$2; shift 2 ;;
        -v|--verbose) VERBOSE=1; shift ;;
        --no-install) INSTALL=0; shift ;;
        --keep)       KEEP=1; shift ;;
        -h|--help)    usage; exit 0 ;;
        --)           shift; break ;;
        -*)           die "unknown option $1 (see --help)" ;;
        *)            break ;;
    esac
done
[ $# -gt 0 ] || die "no command given (usage: $PROG [options] -- COMMAND [ARG...])"
[[ $TIMEOUT =~ ^[0-9]+$ ]] || die "--timeout wants whole seconds, got '$TIMEOUT'"
[ ${#IFACES[@]} -gt 0 ] || IFACES=(vcan0)
for ifc in "${IFACES[@]}"; do
    [[ $ifc =~ ^[A-Za-z0-9_.-]{1,15}$ ]] || die "bad interface name '$ifc'"
done

# modprobe and ip live in sbin, which a non-root PATH may lack.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

# ---------------------------------------------------------------- packages
# The kernel (linux.uml) and its modules (/usr/lib/uml/modules/<version>) come
# from user-mode-linux. Nothing is downloaded except through apt-get.
need=()
command -v linux.uml >/dev/null || need+=(user-mode-linux)
command -v modprobe  >/dev/null || need+=(kmod)
command -v ip        >/dev/null || need+=(iproute2)
command -v candump   >/dev/null || need+=(can-utils)
if [ ${#need[@]} -gt 0 ]; then
    [ "$INSTALL" = 1 ] || { echo "$PROG: missing packages: ${need[*]} (and --no-install given)" >&2; exit 125; }
    SUDO=()
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null || { echo "$PROG: need root or sudo to install ${need[*]}" >&2; exit 125; }
        SUDO=(sudo)
    fi
    # Serialise with other apt users on a shared machine (flock), and let apt
    # itself wait for the dpkg lock instead of failing at once.
    apt_get() {
        "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
            timeout 900 flock /tmp/apt.lock \
            apt-get -q -y -o DPkg::Lock::Timeout=300 "$@"
    }
    ti=$(now)
    echo "$PROG: installing ${need[*]} with apt-get ..." >&2
    { apt_get update && apt_get install --no-install-recommends "${need[@]}"; } >&2 \
        || { echo "$PROG: apt-get failed" >&2; exit 125; }
    echo "$PROG: installed in $(elapsed "$ti" "$(now)")s" >&2
fi
KVER=$(ls /usr/lib/uml/modules 2>/dev/null | sort -V | tail -n 1)
[ -n "$KVER" ] || { echo "$PROG: no modules under /usr/lib/uml/modules" >&2; exit 125; }

# ---------------------------------------------------------------- per-run folder
# It must be a path the guest sees unchanged: anything on the host except the
# guest's own /proc, /sys, /dev and /run.
base=${TMPDIR:-/tmp}
case $base in /proc*|/sys*|/dev*|/run*) base=/tmp ;; esac
RUN=$(mktemp -d "$base/canvm.XXXXXX")
TO_PID=
cleanup() {
    # Stop the guest if we are leaving early (Ctrl-C, SIGTERM from CI).
    if [ -n "$TO_PID" ] && kill -0 "$TO_PID" 2>/dev/null; then
        kill -TERM "$TO_PID" 2>/dev/null; wait "$TO_PID" 2>/dev/null
    fi
    if [ "$KEEP" = 1 ]; then echo "$PROG: kept $RUN" >&2; else rm -rf "$RUN"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# modprobe -d DIR looks for DIR/lib/modules/<uname -r>; point that at the
# package's module tree so that module dependencies (can-raw needs can, vcan
# needs can-dev) are resolved from modules.dep instead of a hand-kept order.
mkdir -p "$RUN/modroot/lib"
ln -s /usr/lib/uml/modules "$RUN/modroot/lib/modules"

# The command, its directory and its environment, for the guest to pick up.
CMD=("$@")
CWD=$PWD
declare -p CMD CWD IFACES > "$RUN/cmd"
env -0 > "$RUN/env"

# ---------------------------------------------------------------- guest init
# Runs as PID 1 in the guest. Its own output goes to the kernel console, which is
# the file console.log on the host; the command's stdout/stderr go to the guest
# consoles tty1/tty2, which are wired to this script's stdout/stderr.
cat > "$RUN/init" <<'GUEST_INIT'
#!/bin/bash
# Every process started here costs ~50-80 ms under UML (fork/exec go through
# ptrace), so setup is batched: one mount, one modprobe, one ip call.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN=${0%/*}
stamp() { echo "$EPOCHREALTIME" > "$RUN/$1"; }
halt_guest() {
    sync
    echo o > /proc/sysrq-trigger   # power off now (needs no init system)
    sleep 10
    exit 1                         # fallback: init exiting panics -> UML exits
}
setup_failed() {
    echo "canvm-guest: setup failed: $*"
    echo "$*" > "$RUN/setup-failed"
    halt_guest
}
stamp t-booted
# /proc, /sys, a private /run, /dev/pts and /dev/shm (see the fstab file).
mount -a -T "$RUN/fstab" || setup_failed "mount -a -T $RUN/fstab"
echo canvm > /proc/sys/kernel/hostname

# CAN core, raw sockets and the virtual CAN driver are required; can-bcm,
# can-gw, can-j1939, vxcan (and can-isotp, which this kernel lacks) are loaded
# when present. modprobe -a goes on past a missing module.
modprobe -q -a -d "$RUN/modroot" can can-raw vcan can-bcm can-gw can-isotp can-j1939 vxcan
for m in can can_raw vcan; do
    [ -d "/sys/module/$m" ] || setup_failed "kernel module $m did not load"
done
# lo up, then each vcan interface created and brought up (see ip.batch).
ip -batch "$RUN/ip.batch" || setup_failed "ip -batch $RUN/ip.batch"

source "$RUN/cmd"            # CMD (array), CWD and IFACES
ENVV=()
while IFS= read -r -d '' kv; do
    case $kv in _=*|SHLVL=*|PWD=*|OLDPWD=*) ;; *) ENVV+=("$kv") ;; esac
done < "$RUN/env"
ENVV+=("PWD=$CWD" "CANVM=1" "CANVM_IFACES=${IFACES[*]}")
cd "$CWD" || setup_failed "cd $CWD"

# The command writes into pipes (as it would under CI), and two cat processes
# copy the pipes to tty1/tty2. -opost: no "\n" -> "\r\n" translation.
stty -F /dev/tty1 -opost -echo && stty -F /dev/tty2 -opost -echo || setup_failed "stty"
mkfifo /run/canvm.out /run/canvm.err
cat /run/canvm.out > /dev/tty1 & c1=$!
cat /run/canvm.err > /dev/tty2 & c2=$!
echo "canvm-guest: running in $CWD: ${CMD[*]}"
stamp t-ready
env -i "${ENVV[@]}" "${CMD[@]}" < /dev/null > /run/canvm.out 2> /run/canvm.err
rc=$?
stamp t-done
echo "canvm-guest: command exited with status $rc"
# Let the copiers finish; a background process the command left behind may
# still hold a pipe open, so give up on them after 5 s.
for _ in {1..50}; do
    kill -0 $c1 2>/dev/null || kill -0 $c2 2>/dev/null || break
    sleep 0.1
done
kill $c1 $c2 2>/dev/null
# stty applies settings with TCSADRAIN, i.e. it waits until the tty's output
# has been handed to the host.
stty -F /dev/tty1 -opost; stty -F /dev/tty2 -opost
echo "$rc" > "$RUN/status"
echo "CANVM-EXIT-STATUS=$rc"
halt_guest
GUEST_INIT
chmod +x "$RUN/init"

cat > "$RUN/fstab" <<'FSTAB'
proc   /proc    proc   nosuid,nodev,noexec 0 0
sysfs  /sys     sysfs  nosuid,nodev,noexec 0 0
tmpfs  /run     tmpfs  nosuid,nodev,mode=755 0 0
devpts /dev/pts devpts nosuid,noexec,gid=5,mode=620,ptmxmode=666,X-mount.mkdir 0 0
tmpfs  /dev/shm tmpfs  nosuid,nodev,mode=1777,X-mount.mkdir 0 0
FSTAB

{
    echo "link set dev lo up"
    for ifc in "${IFACES[@]}"; do
        echo "link add dev $ifc type vcan"
        echo "link set dev $ifc up"
    done
} > "$RUN/ip.batch"

# ---------------------------------------------------------------- run the guest
# fd 3/4: live copies of the guest's tty1/tty2 to our stdout/stderr. They go
# through our own pipes (process substitution) because UML makes the fds it is
# given non-blocking, which must not leak onto the caller's stdout/stderr.
exec 3> >(cat) ; cat3=$!
exec 4> >(cat >&2) ; cat4=$!
log "starting guest (kernel $KVER, mem $MEM, timeout ${TIMEOUT}s, ifaces ${IFACES[*]})"
t_start=$(now)
set +e
# timeout runs linux.uml in its own process group and signals the whole group,
# so the helper processes UML forks for guest processes go too. It runs in the
# background so that our INT/TERM traps fire at once (see cleanup).
timeout --kill-after=5 "$TIMEOUT" \
    linux.uml \
        mem="$MEM" \
        rootfstype=hostfs rootflags=/ rw \
        init="$RUN/init" \
        uml_dir="$RUN/uml" umid=canvm \
        con=null ssl=null \
        con0=null,fd:5 con1=null,fd:3 con2=null,fd:4 \
    < /dev/null 5> "$RUN/console.log" > "$RUN/uml.log" 2>&1 &
TO_PID=$!
wait "$TO_PID"
uml_rc=$?
TO_PID=
set -e
exec 3>&- 4>&-
wait "$cat3" "$cat4" 2>/dev/null || true

if [ "$VERBOSE" = 1 ]; then
    echo "----- guest kernel log -----" >&2
    cat "$RUN/console.log" >&2
    echo "----------------------------" >&2
fi

if [ -s "$RUN/status" ]; then
    rc=$(cat "$RUN/status")
    if [ -s "$RUN/t-ready" ] && [ -s "$RUN/t-done" ]; then
        log "guest ready after $(elapsed "$T0" "$(cat "$RUN/t-ready")")s (boot+setup $(elapsed "$t_start" "$(cat "$RUN/t-ready")")s);" \
            "command took $(elapsed "$(cat "$RUN/t-ready")" "$(cat "$RUN/t-done")")s;" \
            "total $(elapsed "$T0" "$(now)")s; exit status $rc"
    fi
    exit "$rc"
fi

# No status: the guest never finished the command.
if [ "$uml_rc" = 124 ] || [ "$uml_rc" = 137 ]; then
    echo "$PROG: time limit of ${TIMEOUT}s reached; guest stopped" >&2
    exit 124
fi
echo "$PROG: the guest did not run the command (linux.uml exit status $uml_rc)" >&2
[ -s "$RUN/setup-failed" ] && echo "$PROG: $(cat "$RUN/setup-failed")" >&2
if [ "$VERBOSE" != 1 ]; then
    echo "----- last lines of the guest kernel log -----" >&2
    tail -n 40 "$RUN/console.log" >&2
    echo "----- linux.uml output -----" >&2
    tail -n 20 "$RUN/uml.log" >&2
fi
exit 125
