# Stage 2 of the v2vm guest: PID 1 after switch_root, run by the busybox copy
# in /run/v2vm (so it does not depend on what the host's root has).
#
# Runs ctl/cmd.sh (written by run.sh: cd to the work directory, environment,
# the command) with its stdout+stderr going to the virtio console hvc0, which
# qemu writes to run.sh's stdout. Then writes the exit status to ctl/status and
# powers the VM off at once.

BB=/run/v2vm/busybox
CTL=/run/v2vm/ctl
export PATH=/run/v2vm/bin

off() {
    $BB sync
    $BB poweroff -f
    $BB sleep 5
    echo o >/proc/sysrq-trigger
}

# Like systemd on a cgroup v2 host: every available controller is enabled for
# the children of the root cgroup.
for c in $($BB cat /sys/fs/cgroup/cgroup.controllers); do
    echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
done

$BB cat /proc/uptime >$CTL/uptime
$BB stty -F /dev/hvc0 raw -echo 2>/dev/null

# The command writes into a fifo that cat copies to hvc0: the command sees a
# pipe, as under a host's subprocess, and processes it leaks (daemons holding
# the fifo open) cannot keep the VM running once it has exited.
$BB mkfifo /run/v2vm/out
$BB cat /run/v2vm/out >/dev/hvc0 &
catpid=$!
$BB env -i /bin/bash --noprofile --norc $CTL/cmd.sh </dev/null >/run/v2vm/out 2>&1
rc=$?
# Normally cat sees EOF at once; give leaked writers 3 s, then stop it.
( $BB sleep 3; $BB kill $catpid 2>/dev/null ) &
wait $catpid

echo "$rc" >$CTL/status
off
