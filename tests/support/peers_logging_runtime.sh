#!/bin/bash
# An OCI runtime that logs each call, then runs the real one with the same fds: to see how
# podman (conmon) and containerd (containerd-shim-runc-v2) drive a runtime. For each call it
# writes LOGDIR/<time>-<pid>.call (argv, cwd, parent, environment, fds, ttys, rlimits,
# capabilities, cgroup, namespaces, exit status, the container's pid and its parent after
# create/exec, the tail of --log), .config.json (the bundle's, on create/run), .process.json
# (exec --process), and .stdout/.stderr of the calls whose output the caller parses (state,
# features, ps, --version...). create/run/exec keep the caller's stdio untouched.
# peers.logging_runtime(path, logdir) writes a copy with LOGDIR and REAL filled in.
LOGDIR=${PEERS_RUNTIME_LOGDIR:-/tmp/peers-runtime-log}
REAL=${PEERS_REAL_RUNTIME:-/usr/sbin/runc}
mkdir -p "$LOGDIR"
n=$(date +%s%N)-$$
f="$LOGDIR/$n"
ls -l /proc/$$/fd > "$f.fds" 2>&1
[ -t 0 ] && i0=yes || i0=no; [ -t 1 ] && o1=yes || o1=no; [ -t 2 ] && o2=yes || o2=no
{
  echo "argv: $0 $*"
  printf 'argv0=%q\n' "$0"; for a in "$@"; do printf '  %q\n' "$a"; done
  echo "cwd: $(pwd)"
  echo "ppid: $PPID $(cat /proc/$PPID/comm) $(tr '\0' ' ' </proc/$PPID/cmdline)"
  echo "env:"; env | sort | sed 's/^/  /'
  echo "fds:"; sed 's/^/  /' "$f.fds" 
  echo "tty? stdin $i0 stdout $o1 stderr $o2"
  echo "rlimits:"; prlimit --pid $$ | sed 's/^/  /'
  echo "status:"; grep -E '^(Cap|NoNewPrivs|Seccomp|Sig)' /proc/$$/status | sed 's/^/  /' 
  echo "cgroup: $(tr '\n' ' ' </proc/$$/cgroup)"
  echo "netns: $(readlink /proc/$$/ns/net) mntns: $(readlink /proc/$$/ns/mnt)"
} > "$f.call" 2>&1
bundle=""; sub=""; pidfile=""; logf=""; process=""; resources=""
args=("$@"); i=0
while [ $i -lt ${#args[@]} ]; do
  a=${args[$i]}
  case $a in
    --bundle|-b) i=$((i+1)); bundle=${args[$i]};;
    --bundle=*|-b=*) bundle=${a#*=};;
    --pid-file) i=$((i+1)); pidfile=${args[$i]};;
    --pid-file=*) pidfile=${a#*=};;
    --log) i=$((i+1)); logf=${args[$i]};;
    --log=*) logf=${a#*=};;
    --process|-p) i=$((i+1)); process=${args[$i]};;
    --process=*) process=${a#*=};;
    --resources|-r) i=$((i+1)); resources=${args[$i]};;
    --resources=*|-r=*) resources=${a#*=};;
    create|run|exec|start|state|kill|delete|features|ps|pause|resume|update|list|checkpoint|restore|events|spec) [ -z "$sub" ] && sub=$a;;
  esac
  i=$((i+1))
done
echo "sub: $sub" >> "$f.call"
if [ "$sub" = create ] || [ "$sub" = run ]; then
  cp "${bundle:-.}/config.json" "$f.config.json" 2>>"$f.call"
fi
[ -n "$process" ] && cp "$process" "$f.process.json" 2>>"$f.call"
if [ -n "$resources" ]; then
  if [ "$resources" = - ]; then resources_in=$(cat); printf '%s' "$resources_in" > "$f.resources.json"
  else cp "$resources" "$f.resources.json" 2>>"$f.call"; fi
fi
case $sub in
  update)
    if [ "$resources" = - ]; then printf '%s' "$resources_in" | "$REAL" "$@"; else "$REAL" "$@"; fi; rc=$?
    ;;
  create|run|exec|"")
    "$REAL" "$@"; rc=$?
    ;;
  *)
    "$REAL" "$@" > >(tee "$f.stdout") 2> >(tee "$f.stderr" >&2); rc=$?
    ;;
esac
{
  echo "rc: $rc"
  if [ -n "$pidfile" ] && [ -s "$pidfile" ]; then
    p=$(cat "$pidfile"); echo "pid: $p ppid-of-pid: $(awk '/^PPid/{print $2}' /proc/$p/status) $(cat /proc/$(awk '/^PPid/{print $2}' /proc/$p/status)/comm 2>/dev/null)"
    echo "pid state: $(awk '/^State/{print $2,$3}' /proc/$p/status) comm $(cat /proc/$p/comm) cmdline $(tr '\0' ' ' </proc/$p/cmdline)"
  fi
  [ -n "$logf" ] && [ -f "$logf" ] && { echo "logfile $logf:"; tail -5 "$logf" | sed 's/^/  /'; }
} >> "$f.call" 2>&1
exit $rc
