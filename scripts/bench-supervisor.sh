#!/usr/bin/env bash
# scripts/bench-supervisor.sh -- the supervisor benchmarks: vigil against
# supervisord and runit (and a shell loop, the floor) on the same
# workloads, in the same run.  See docs/PERFORMANCE.md, section "Supervisor".
#
# Usage: scripts/bench-supervisor.sh [options]
#   --reps N          repetitions (default 3; the median is reported):
#                     start/stop/rss, log, and restart "exits at once" for
#                     vigil and the floor; idle_wakeups in the first only.
#                     log adds 6 back-to-back rounds of cat/vigil, reported
#                     as the median ratio to cat
#   --quick           small workloads (a smoke test, not a measurement)
#   --only LIST       restart,startstop,log,status (default the first
#                     three; startstop also measures rss and idle_wakeups)
#   --ns LIST         startstop's service counts (default 1,100,1000)
#   --max-restarts N  startstop: give vigil's services
#                     <restart max-restarts="N"/> (rss with a large N)
#   --impls LIST      vigil,supervisord,runit (default all; the floor and
#                     the -shm variants follow vigil and runit)
#   --no-shm          skip the restart variants with state on tmpfs
#   --diag            also vigil's CPU and system calls per restart
#                     (utime+stime, strace -c), against the shell floor's
#   --diag-sleepers N --diag with N unrelated sleeping processes on the
#                     host (what a restart costs on a big host)
#   --markdown FILE   also write the results as markdown tables to FILE
#   --build-dir DIR   build tree (default build-sbench)
#   --no-build        use the programs already built
#   --no-install      never apt-get install supervisor / runit
#   --keep            keep the work directory
#
# Output (stdout): the lines of perf/README.md ("Running"),
#   bench=NAME impl=IMPL ops=N seconds=T ops_per_s=X [extra fields]
# one per (benchmark, implementation, case): the median repetition.  Every
# run is echoed to stderr and kept in BUILD_DIR/bench-supervisor-raw.txt.
#
# Needs: cmake, a C compiler, strace (only for --diag), apt-get (to install
# the peers).  Runs as any user; supervisord and runsvdir are run by hand
# with configurations in a temporary directory, never as system services.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD="$ROOT/build-sbench"
REPS=3
QUICK=0
ONLY="restart,startstop,log"
IMPLS="vigil,supervisord,runit"
SHM=1
DIAG=0
MARKDOWN=""
DO_BUILD=1
DO_INSTALL=1
KEEP=0
NS_OPT=""
MAXR=""
DIAG_SLEEPERS=0

die() { echo "bench-supervisor.sh: $*" >&2; exit 2; }
note() { echo "# $*" >&2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --reps) REPS=$2; shift ;;
    --quick) QUICK=1 ;;
    --only) ONLY=$2; shift ;;
    --ns) NS_OPT=${2//,/ }; shift ;;
    --max-restarts) MAXR=$2; shift ;;
    --impls) IMPLS=$2; shift ;;
    --no-shm) SHM=0 ;;
    --diag) DIAG=1 ;;
    --diag-sleepers) DIAG=1; DIAG_SLEEPERS=$2; shift ;;
    --markdown) MARKDOWN=$2; shift ;;
    --build-dir) BUILD=$2; shift ;;
    --no-build) DO_BUILD=0 ;;
    --no-install) DO_INSTALL=0 ;;
    --keep) KEEP=1 ;;
    -h|--help) sed -n '2,38p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
has() { case ",$1," in *",$2,"*) return 0 ;; esac; return 1; }

# ---- workload sizes ---------------------------------------------------------
RESTARTS_QUICK=200      # exit-at-once restarts (vigil, floor)
RESTARTS_THROTTLED=5    # ... for runit and supervisord (1 s each)
SLOW_LIFE_MS=1100       # the service that runs 1.1 s
SLOW_PAR=8              # services restarting in turn (staggered)
SLOW_CYCLES=16          # restarts of each: 8 x 16 = 128 samples
SLOW_CYCLES_SD=10       # supervisord: one service, each cycle 2.1 s
STARTSTOP_NS="1 100 1000"
IDLE_SERVICES=100
IDLE_SECS=10
LOG_BYTES=$((1 << 30))
LOG_BYTES_SLOW=$((256 << 20))   # supervisord and runit's svlogd (slow)
LOG_PAIRS=6             # extra back-to-back rounds of cat / vigil
if [ "$QUICK" = 1 ]; then
  RESTARTS_QUICK=50; RESTARTS_THROTTLED=2; SLOW_CYCLES=2; SLOW_CYCLES_SD=3
  STARTSTOP_NS="1 100"; IDLE_SECS=3; LOG_BYTES=$((64 << 20))
  LOG_BYTES_SLOW=$((16 << 20)); REPS=1; LOG_PAIRS=1
fi
[ -n "$NS_OPT" ] && STARTSTOP_NS=$NS_OPT
STATUS_SERVICES=10      # status: idle services, plus 2 with 3 workers each
STATUS_REQS=8           # requests per round, STATUS_GAP_MS apart
STATUS_GAP_MS=1100      # past the usage cache's 1 s: each one measures
STATUS_SLEEPERS=1000    # unrelated processes that make the host "big"
[ "$QUICK" = 1 ] && STATUS_REQS=3

# ---- build and install ---------------------------------------------------------
if [ "$DO_BUILD" = 1 ]; then
  note "building vigil (Release) in $BUILD"
  # The static libxml2 that bootstrap.sh builds and vigil links (quiet
  # when present): the supervisor as shipped, not with ICU and libstdc++.
  "$ROOT/scripts/build-libxml2.sh" >&2
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release \
    -DVIGIL_BUILD_TESTS=OFF >/dev/null
  cmake --build "$BUILD" -j2 --target vigil-bin >/dev/null ||
    die "building vigil failed (see above); --no-build measures the binary already in $BUILD"
  cmake -S "$ROOT/perf/supervisor" -B "$BUILD/perf-supervisor" \
    -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD/perf-supervisor" >/dev/null
fi
VIGIL="$BUILD/services/vigil"
CHILD="$BUILD/perf-supervisor/sb_child"
TOOL="$BUILD/perf-supervisor/sb_tool"
for f in "$VIGIL" "$CHILD" "$TOOL"; do
  [ -x "$f" ] || die "$f is missing (build it, or drop --no-build)"
done

need_pkgs=""
if has "$IMPLS" supervisord && ! command -v supervisord >/dev/null; then
  need_pkgs="$need_pkgs supervisor"
fi
if has "$IMPLS" runit && ! command -v runsvdir >/dev/null; then
  need_pkgs="$need_pkgs runit"
fi
if [ -n "$need_pkgs" ] && [ "$DO_INSTALL" = 1 ]; then
  note "installing$need_pkgs (apt-get)"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  # policy-rc.d (where present) keeps the packages' system services from
  # starting; this script never uses them.
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y \
    --no-install-recommends $need_pkgs >&2 || note "apt-get failed"
fi
impls=""
for i in ${IMPLS//,/ }; do
  case "$i" in
    vigil) impls="$impls vigil" ;;
    supervisord) command -v supervisord >/dev/null &&
        command -v supervisorctl >/dev/null && impls="$impls supervisord" ||
        note "supervisord not found: skipped" ;;
    runit) command -v runsvdir >/dev/null && command -v runsv >/dev/null &&
        impls="$impls runit" || note "runit not found: skipped" ;;
    *) die "unknown implementation $i" ;;
  esac
done

# ---- work directories ------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vigil-sbench.XXXXXX")
SHMWORK=""
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
  SHMWORK=$(mktemp -d /dev/shm/vigil-sbench.XXXXXX)
else
  SHM=0
fi
# Captured logs go to tmpfs when there is room (the figure is the
# supervisor's copy cost, not the disk's); else to WORK.
LOGWORK="$WORK/logs"
if [ -n "$SHMWORK" ] &&
   [ "$(df -Pk /dev/shm | awk 'NR==2{print $4}')" -gt $((3 * LOG_BYTES / 1024)) ]; then
  LOGWORK="$SHMWORK/logs"
fi
mkdir -p "$LOGWORK"
RAW="$BUILD/bench-supervisor-raw.txt"
RATIOS="$BUILD/bench-supervisor-ratios.txt"
: >"$RAW"
: >"$RATIOS"
note "work directory $WORK (state, stamps; $(df -PT "$WORK" | awk 'NR==2{print $2}'))," \
     "tmpfs ${SHMWORK:-none}, captured logs in $LOGWORK"

# Processes this script started, by pid: killed on exit if still there.
STARTED=()
track() { STARTED+=("$@"); }
alive() { [ -d "/proc/$1" ] && ! grep -q '^[^)]*) [ZX]' "/proc/$1/stat" 2>/dev/null; }
children_of() { "$TOOL" children "$1"; }   # direct children of pid $1
# sb_child processes recorded in stamp files ("S ns pid"): ours by pid.
kill_stamped() {
  local f pid
  for f in "$@"; do
    [ -f "$f" ] || continue
    for pid in $(awk '$1 == "S" && NF >= 3 {print $3}' "$f"); do
      if alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null |
           grep -q "^$CHILD\|sb_child\|^\./run"; then
        kill -KILL "$pid" 2>/dev/null || true
      fi
    done
  done
}
descendants() {   # pid $1 and everything below it
  local c
  echo "$1"
  for c in $("$TOOL" children "$1" 2>/dev/null); do descendants "$c"; done
}
cleanup() {
  local p d
  for p in "${STARTED[@]:-}"; do
    [ -n "$p" ] && alive "$p" || continue
    for d in $(descendants "$p"); do kill -KILL "$d" 2>/dev/null || true; done
  done
  kill_stamped $(find "$WORK" "${SHMWORK:-$WORK}" -name '*.st' -o -name starts \
                   -o -name 'stamp*' 2>/dev/null) 2>/dev/null || true
  wait 2>/dev/null || true
  if [ "$KEEP" = 0 ]; then
    rm -rf "$WORK" ${SHMWORK:+"$SHMWORK"}
  else
    note "kept $WORK ${SHMWORK}"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

emit() {   # a result line: to stderr now, to RAW for the medians
  echo "$*" >&2
  echo "$*" >>"$RAW"
}
ns_diff_s() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", (b - a) / 1e9 }'; }
field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }

# ---- implementations: start, pids, stop -----------------------------------------
# Each *_up writes its config under DIR, launches the supervisor through
# `sb_tool launch DIR/t0 ...` (t0: the time just before exec) and sets
# SUP_PID; *_pids prints the supervisor's own pids (for PSS and wake-ups);
# *_down stops everything and prints "seconds=..." (stop_all).

# vigil: SERVICES_XML is the <service> elements.
vigil_up() {   # DIR STATE_DIR SERVICES_XML
  local dir=$1 state=$2
  {
    echo '<?xml version="1.0" encoding="UTF-8"?>'
    echo "<vigil><supervisor><state-dir>$state</state-dir>"
    echo "<log-dir>${VIGIL_LOGDIR:-$state/logs}</log-dir></supervisor>"
    cat "$3"
    echo '</vigil>'
  } >"$dir/vigil.xml"
  "$VIGIL" validate -c "$dir/vigil.xml" >/dev/null
  "$TOOL" launch "$dir/t0" "$VIGIL" run -c "$dir/vigil.xml" \
    2>"$dir/vigil.log" &
  SUP_PID=$!
  track "$SUP_PID"
}
vigil_pids() { echo "$SUP_PID"; }
vigil_down() {   # DIR
  "$TOOL" stopwait 120000 "$SUP_PID" cmd "$VIGIL" shutdown -c "$1/vigil.xml"
  wait "$SUP_PID" 2>/dev/null || true
}

# supervisord: PROGRAMS_INI is the [program:x] sections.
sd_up() {   # DIR PROGRAMS_INI
  local dir=$1
  mkdir -p "$dir/childlogs"
  cat >"$dir/supervisord.conf" <<EOF
[unix_http_server]
file=$dir/supervisor.sock

[supervisord]
nodaemon=true
logfile=$dir/supervisord.log
pidfile=$dir/supervisord.pid
childlogdir=$dir/childlogs
minfds=16384

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://$dir/supervisor.sock

EOF
  cat "$2" >>"$dir/supervisord.conf"
  "$TOOL" launch "$dir/t0" supervisord -c "$dir/supervisord.conf" \
    >"$dir/supervisord.out" 2>&1 &
  SUP_PID=$!
  track "$SUP_PID"
}
sd_pids() { echo "$SUP_PID"; }
sd_down() {   # DIR
  # supervisorctl answers once the socket is up; retry briefly if early.
  local i
  for i in 1 2 3 4 5 6 7 8 9 10; do
    [ -S "$1/supervisor.sock" ] && break
    sleep 0.2
  done
  "$TOOL" stopwait 180000 "$SUP_PID" cmd supervisorctl \
    -c "$1/supervisord.conf" shutdown
  wait "$SUP_PID" 2>/dev/null || true
}

# runit: SVDIR holds one directory per service (./run -> sb_child, its
# arguments in ./sbargs), as runsvdir(8) scans them.
runit_service() {   # SVDIR NAME ARGS...
  local d="$1/$2"
  shift 2
  mkdir -p "$d"
  ln -sf "$CHILD" "$d/run"
  printf '%s\n' "$@" >"$d/sbargs"
}
runit_up() {   # DIR SVDIR
  "$TOOL" launch "$1/t0" runsvdir -P "$2" >"$1/runsvdir.out" 2>&1 &
  SUP_PID=$!
  track "$SUP_PID"
}
runit_pids() {   # runsvdir and every runsv (log services: their runsv too)
  echo "$SUP_PID"
  children_of "$SUP_PID"
}
runit_down() {
  local pids
  pids=$(runit_pids | tr '\n' ',')
  # HUP: runsvdir sends TERM to each runsv, which stops its service and
  # exits; runsvdir exits at once.
  "$TOOL" stopwait 120000 "${pids%,}" "sig:1:$SUP_PID"
  wait "$SUP_PID" 2>/dev/null || true
}

# The floor of start_many/stop_all: `sb_tool spawn`, a minimal supervisor
# that starts N children one after the other and stops them on SIGTERM.
floor_up() {   # DIR MODE N STARTS
  "$TOOL" launch "$1/t0" "$TOOL" spawn "$2" "$3" "$CHILD" idle "$4" &
  SUP_PID=$!
  track "$SUP_PID"
}
floor_pids() { echo "$SUP_PID"; }
floor_down() {
  "$TOOL" stopwait 120000 "$SUP_PID" "sig:15:$SUP_PID"
  wait "$SUP_PID" 2>/dev/null || true
}
pids_of() {   # IMPL
  case "$1" in
    vigil*) vigil_pids ;; supervisord) sd_pids ;; runit*) runit_pids ;;
    floor*) floor_pids ;;
  esac
}
down_of() {   # IMPL DIR
  case "$1" in
    vigil*) vigil_down "$2" ;; supervisord) sd_down "$2" ;;
    runit*) runit_down ;; floor*) floor_down ;;
  esac
}

wait_started() {   # N TIMEOUT_MS FILES... -> the latest start stamp (ns)
  local out
  out=$("$TOOL" wait-lines "$@") || { note "timeout: $out"; return 1; }
  field last_ns "$out"
}

# ---- restart_latency ----------------------------------------------------------------
# A service exits; the next one starts.  sb_child stamps CLOCK_MONOTONIC
# first thing in main ("S") and just before _exit ("E"); the latency is
# E -> next S of the same service.  exit0: the child exits at once.
# run1100: it lives 1.1 s, and SLOW_PAR services take turns (staggered
# by 1.1 s / SLOW_PAR on their first run) to gather samples faster without
# two restarts ever overlapping.
restart_case() {   # IMPL CASE
  local impl=$1 case=$2 base life par samples want dir k stagger files=()
  local tmo state svxml ini
  case "$impl" in *-shm) base=$SHMWORK ;; *) base=$WORK ;; esac
  dir="$base/restart-$impl-$case"
  rm -rf "$dir"
  mkdir -p "$dir"
  if [ "$case" = exit0 ]; then
    life=0; par=1
    case "$impl" in
      runit*|supervisord) samples=$RESTARTS_THROTTLED ;;
      *) samples=$RESTARTS_QUICK ;;
    esac
  else
    life=$SLOW_LIFE_MS; par=$SLOW_PAR
    if [ "$impl" = supervisord ]; then
      # One service: supervisord wakes on any child's pipe EOF, so
      # services restarting in turn would shorten each other's wait.
      par=1
      samples=$SLOW_CYCLES_SD
    else
      samples=$((SLOW_PAR * SLOW_CYCLES))
    fi
  fi
  want=$((samples + par))
  tmo=$(( (want / par + 2) * (life + 2200) + 20000 ))
  for k in $(seq 0 $((par - 1))); do files+=("$dir/r$k.st"); done
  stagger() { echo $(( $1 * SLOW_LIFE_MS / SLOW_PAR )); }

  case "$impl" in
    floor)
      for k in $(seq 0 $((par - 1))); do
        # setsid: the loop leads its own group, killed as one below.
        setsid sh -c "while :; do '$CHILD' restart '${files[$k]}' $life \
$( [ "$par" -gt 1 ] && stagger "$k" ); done" &
        track $!
        eval "floor_pid_$k=$!"
      done
      "$TOOL" wait-lines "$want" "$tmo" "${files[@]}" >/dev/null ||
        note "floor: timeout"
      for k in $(seq 0 $((par - 1))); do
        eval "kill -TERM -- -\$floor_pid_$k" 2>/dev/null || true
      done
      kill_stamped "${files[@]}"
      ;;
    vigil|vigil-shm)
      state="$dir/state"
      svxml="$dir/services.xml"
      : >"$svxml"
      for k in $(seq 0 $((par - 1))); do
        cat >>"$svxml" <<EOF
<service name="r$k"><command>$CHILD</command>
  <arg>restart</arg><arg>${files[$k]}</arg><arg>$life</arg><arg>$( [ "$par" -gt 1 ] && stagger "$k" || echo 0)</arg>
  <restart policy="always" delay="0ms" max-delay="0ms" max-restarts="100000" window="1s"/>
  <ready after="0ms"/>
</service>
EOF
      done
      vigil_up "$dir" "$state" "$svxml"
      "$TOOL" wait-lines "$want" "$tmo" "${files[@]}" >/dev/null ||
        note "$impl: timeout"
      vigil_down "$dir" >/dev/null
      ;;
    runit|runit-shm)
      for k in $(seq 0 $((par - 1))); do
        runit_service "$dir/sv" "r$k" restart "${files[$k]}" "$life" \
          "$( [ "$par" -gt 1 ] && stagger "$k" || echo 0)"
      done
      runit_up "$dir" "$dir/sv"
      "$TOOL" wait-lines "$want" "$tmo" "${files[@]}" >/dev/null ||
        note "$impl: timeout"
      runit_down >/dev/null
      ;;
    supervisord)
      ini="$dir/programs.ini"
      : >"$ini"
      for k in $(seq 0 $((par - 1))); do
        cat >>"$ini" <<EOF
[program:r$k]
command=$CHILD restart ${files[$k]} $life $( [ "$par" -gt 1 ] && stagger "$k" || echo 0)
autorestart=true
startsecs=0
startretries=1000000

EOF
      done
      sd_up "$dir" "$ini"
      "$TOOL" wait-lines "$want" "$tmo" "${files[@]}" >/dev/null ||
        note "$impl: timeout"
      sd_down "$dir" >/dev/null
      ;;
  esac
  kill_stamped "${files[@]}"
  local st
  st=$("$TOOL" restart-stats 0 "${files[@]}") || { note "$impl $case: no samples"; return 0; }
  local n sum
  n=$(field n "$st"); sum=$(field sum_s "$st")
  emit "bench=restart_latency impl=$impl ops=$n seconds=$sum" \
       "ops_per_s=$(awk -v n="$n" -v s="$sum" 'BEGIN{printf "%.1f", (s > 0 ? n / s : 0)}')" \
       "case=$case p50_ms=$(field p50_ms "$st") p90_ms=$(field p90_ms "$st")" \
       "p99_ms=$(field p99_ms "$st") max_ms=$(field max_ms "$st")"
}

bench_restart() {
  local order=(floor) i case
  for i in $impls; do
    order+=("$i")
    if [ "$SHM" = 1 ]; then
      case "$i" in vigil|runit) order+=("$i-shm") ;; esac
    fi
  done
  # exit0 is quick where there is no throttle: repeat it REPS times (the
  # median run by p50 is reported); run1100 takes ~20 s an implementation
  # and gathers 128 samples in one run.
  local rep
  for rep in $(seq 1 "$REPS"); do
    for i in "${order[@]}"; do
      case "$i" in floor|vigil|vigil-shm) ;; *) [ "$rep" = 1 ] || continue ;; esac
      note "restart_latency exit0 $i (rep $rep)"
      restart_case "$i" exit0
    done
  done
  for i in "${order[@]}"; do
    note "restart_latency run1100 $i"
    restart_case "$i" run1100
  done
}

# ---- start_many, stop_all, rss, idle_wakeups --------------------------------------
# N services that pause after stamping their start.  start_many: from the
# exec of the supervisor (t0) to the last child's start stamp.  stop_all:
# from the stop command (vigil shutdown, supervisorctl shutdown, HUP to
# runsvdir) until the supervisor (for runit: runsvdir and every runsv) is
# gone, which each does only after its children have exited.  rss: PSS of
# the supervisor's processes, 1 s after the last start.  idle_wakeups:
# context switches of those processes over IDLE_SECS at IDLE_SERVICES
# (first repetition only: the count is an average over the window).
startstop_case() {   # IMPL N REP
  local impl=$1 n=$2 rep=$3 dir k svxml ini t0 last out secs pids pss idle=""
  dir="$WORK/ss-$impl-$n-$rep"
  rm -rf "$dir"
  mkdir -p "$dir"
  local starts="$dir/starts"
  case "$impl" in
    vigil)
      svxml="$dir/services.xml"
      local rx=""
      [ -n "$MAXR" ] && rx="<restart max-restarts=\"$MAXR\"/>"
      for k in $(seq 0 $((n - 1))); do
        echo "<service name=\"s$k\"><command>$CHILD</command><arg>idle</arg><arg>$starts</arg>$rx<ready after=\"0ms\"/></service>"
      done >"$svxml"
      vigil_up "$dir" "$dir/state" "$svxml"
      ;;
    supervisord)
      ini="$dir/programs.ini"
      cat >"$ini" <<EOF
[program:s]
command=$CHILD idle $starts
process_name=%(program_name)s%(process_num)d
numprocs=$n
autorestart=true
startsecs=0

EOF
      sd_up "$dir" "$ini"
      ;;
    runit)
      for k in $(seq 0 $((n - 1))); do
        runit_service "$dir/sv" "s$k" idle "$starts"
      done
      runit_up "$dir" "$dir/sv"
      ;;
    floor-vfork) floor_up "$dir" vfork "$n" "$starts" ;;
    floor-fork) floor_up "$dir" fork "$n" "$starts" ;;
  esac
  last=$(wait_started "$n" 120000 "$starts") || last=""
  t0=$(cat "$dir/t0")
  if [ -n "$last" ]; then
    secs=$(ns_diff_s "$t0" "$last")
    emit "bench=start_many impl=$impl ops=$n seconds=$secs" \
         "ops_per_s=$(awk -v n="$n" -v s="$secs" 'BEGIN{printf "%.1f", (s > 0 ? n / s : 0)}')" \
         "services=$n"
  fi
  sleep 1
  pids=$(pids_of "$impl" | tr '\n' ' ')
  out=$("$TOOL" pss $pids)
  pss=$(field pss_kib "$out")
  emit "bench=rss impl=$impl ops=$n seconds=0 ops_per_s=0 services=$n" \
       "pss_kib=$pss pss_mib=$(awk -v k="$pss" 'BEGIN{printf "%.2f", k / 1024}')" \
       "procs=$(field procs "$out")"
  if [ "$n" = "$IDLE_SERVICES" ] && [ "$rep" = 1 ]; then
    sleep 1
    out=$("$TOOL" wakeups "$IDLE_SECS" $pids)
    emit "bench=idle_wakeups impl=$impl ops=$(field switches "$out")" \
         "seconds=$IDLE_SECS ops_per_s=$(field per_s "$out") services=$n"
  fi
  out=$(down_of "$impl" "$dir")
  secs=$(field seconds "$out")
  emit "bench=stop_all impl=$impl ops=$n seconds=$secs" \
       "ops_per_s=$(awk -v n="$n" -v s="$secs" 'BEGIN{printf "%.1f", (s > 0 ? n / s : 0)}')" \
       "services=$n"
  kill_stamped "$starts"
  # The directory stays until the end: deleting thousands of files just
  # before the next case creates thousands makes ext4's inode allocator
  # (recently_deleted) slow for whoever comes next.
}

bench_startstop() {
  local rep n i arr=(floor-vfork floor-fork $impls) k
  for rep in $(seq 1 "$REPS"); do
    for n in $STARTSTOP_NS; do
      for k in $(seq 0 $((${#arr[@]} - 1))); do
        i=${arr[$(( (k + rep) % ${#arr[@]} ))]}
        note "start_many/stop_all/rss n=$n $i (rep $rep)"
        startstop_case "$i" "$n" "$rep"
      done
    done
  done
}

# ---- log_throughput -----------------------------------------------------------------
# sb_child writes BYTES of 100-byte lines to stdout in 64 KiB writes, the
# last line a marker.  From its start stamp until the captured file ends
# with the marker.  cat: `sb_child | cat > FILE` (a pipe reader copying to
# a file: what a supervisor does); direct: `sb_child > FILE`.
log_case() {   # IMPL REP
  local impl=$1 rep=$2 dir bytes=$LOG_BYTES file stamp svxml ini done_ns s0 secs
  dir="$WORK/log-$impl-$rep"
  rm -rf "$dir"
  mkdir -p "$dir"
  stamp="$dir/stamp"
  file="$LOGWORK/$impl.out.log"
  rm -rf "${LOGWORK:?}"/*
  case "$impl" in supervisord|runit) bytes=$LOG_BYTES_SLOW ;; esac
  case "$impl" in
    direct)
      "$CHILD" write "$bytes" "$stamp" >"$file" &
      track $!
      ;;
    cat)
      ( "$CHILD" write "$bytes" "$stamp" | cat >"$file" ) &
      track $!
      ;;
    vigil|vigil-rotate)
      svxml="$dir/services.xml"
      local logattr='max-size="2GB"'
      [ "$impl" = vigil-rotate ] && logattr=""   # defaults: 10MB, keep 5
      cat >"$svxml" <<EOF
<service name="w"><command>$CHILD</command>
  <arg>write</arg><arg>$bytes</arg><arg>$stamp</arg>
  <restart policy="never"/>
  <log stdout="$impl.out.log" stderr="w.err.log" $logattr/>
</service>
EOF
      VIGIL_LOGDIR="$LOGWORK" vigil_up "$dir" "$dir/state" "$svxml"
      ;;
    supervisord)
      ini="$dir/programs.ini"
      cat >"$ini" <<EOF
[program:w]
command=$CHILD write $bytes $stamp
autorestart=false
startsecs=0
stdout_logfile=$file
stdout_logfile_maxbytes=0
stderr_logfile=$LOGWORK/w.err.log

EOF
      sd_up "$dir" "$ini"
      ;;
    runit)
      # The runit way: a log service, svlogd, reading the service's
      # stdout; config "s0": no size rotation.  ./down: started once, by
      # `sv once`, not restarted.
      runit_service "$dir/sv" w write "$bytes" "$stamp"
      touch "$dir/sv/w/down"
      mkdir -p "$dir/sv/w/log" "$LOGWORK/svlogd"
      printf '#!/bin/sh\nexec svlogd %s\n' "$LOGWORK/svlogd" >"$dir/sv/w/log/run"
      chmod +x "$dir/sv/w/log/run"
      echo s0 >"$LOGWORK/svlogd/config"
      file="$LOGWORK/svlogd/current"
      runit_up "$dir" "$dir/sv"
      local i
      for i in $(seq 1 100); do
        [ -p "$dir/sv/w/supervise/control" ] && break
        sleep 0.05
      done
      sv once "$dir/sv/w" >/dev/null
      ;;
  esac
  done_ns=$("$TOOL" wait-tail "$file" $'SBENCH-END\n' $(( bytes / 1048576 * 50 + 30000 ))) ||
    done_ns=""
  s0=$(awk '$1 == "S" {print $2; exit}' "$stamp" 2>/dev/null || true)
  local fbytes
  fbytes=$(stat -c %s "$file" 2>/dev/null || echo 0)
  case "$impl" in
    vigil|vigil-rotate) vigil_down "$dir" >/dev/null ;;
    supervisord) sd_down "$dir" >/dev/null ;;
    runit) runit_down >/dev/null ;;
    *) wait 2>/dev/null || true ;;
  esac
  rm -rf "${LOGWORK:?}"/* 2>/dev/null || true
  if [ -n "$done_ns" ] && [ -n "$s0" ]; then
    secs=$(ns_diff_s "$s0" "$done_ns")
    LOGRATE["$impl,$rep"]=$(awk -v b="$bytes" -v s="$secs" 'BEGIN{printf "%.0f", b / s}')
    emit "bench=log_throughput impl=$impl ops=$bytes seconds=$secs" \
         "ops_per_s=$(awk -v b="$bytes" -v s="$secs" 'BEGIN{printf "%.0f", b / s}')" \
         "mib_per_s=$(awk -v b="$bytes" -v s="$secs" 'BEGIN{printf "%.1f", b / s / 1048576}')" \
         "file_bytes=$fbytes"
  else
    note "log_throughput $impl: no result"
  fi
}

declare -A LOGRATE=()
bench_log() {
  local rep k i arr=(cat direct) fast=(cat vigil vigil-rotate) r ratios
  for i in $impls; do
    arr+=("$i")
    [ "$i" = vigil ] && arr+=(vigil-rotate)
  done
  for rep in $(seq 1 "$REPS"); do
    for k in $(seq 0 $((${#arr[@]} - 1))); do
      i=${arr[$(( (k + rep) % ${#arr[@]} ))]}
      note "log_throughput $i (rep $rep)"
      log_case "$i" "$rep"
    done
  done
  # Throughput swings with the machine's load by 2x or more from minute
  # to minute; the ratio of runs made back to back does not.  Extra
  # rounds of cat, vigil, vigil-rotate (order rotating), then the median
  # of each round's ratio to cat.
  [[ " $impls " == *" vigil "* ]] || return 0
  for rep in $(seq $((REPS + 1)) $((REPS + LOG_PAIRS))); do
    for k in 0 1 2; do
      i=${fast[$(( (k + rep) % 3 ))]}
      note "log_throughput $i (paired round $((rep - REPS)))"
      log_case "$i" "$rep"
    done
  done
  for i in vigil vigil-rotate supervisord runit; do
    ratios=""
    for rep in $(seq 1 $((REPS + LOG_PAIRS))); do
      [ -n "${LOGRATE["$i,$rep"]:-}" ] && [ -n "${LOGRATE["cat,$rep"]:-}" ] || continue
      ratios="$ratios $(awk -v a="${LOGRATE["$i,$rep"]}" -v c="${LOGRATE["cat,$rep"]}" 'BEGIN{printf "%.3f", a / c}')"
    done
    [ -n "$ratios" ] || continue
    r=$(tr ' ' '\n' <<<"$ratios" | grep . | sort -n |
        awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)], NR}')
    note "log_ratio impl=$i median_ratio_to_cat=${r% *} rounds=${r#* } (each:$ratios)"
    echo "log_ratio impl=$i median_ratio_to_cat=${r% *} rounds=${r#* }" >>"$RATIOS"
  done
}

# ---- status ---------------------------------------------------------------------------
# The latency of `status` (all services) on the control socket, with the
# host as it is ("few" processes) and with STATUS_SLEEPERS unrelated
# processes added ("big"): a supervisor's status should cost its
# services, not the machine's processes.  STATUS_SERVICES idle services
# and 2 that fork 3 workers of 4 MiB each (their rss_bytes must count the
# workers: rss_sum= is the last reply's total).  Rounds alternate few and
# big REPS times; the ratio big/few of each round's p50 is reported
# (paired: the machine's load moves both).
status_case() {   # HOST REP -> p50 (ms)
  local host=$1 rep=$2 dir k svxml out slp="" procs
  dir="$WORK/status-$host-$rep"
  rm -rf "$dir"
  mkdir -p "$dir"
  local before
  before=$(ls /proc | grep -c '^[0-9]')
  if [ "$host" = big ]; then
    "$TOOL" sleepers "$STATUS_SLEEPERS" >"$dir/sleepers" &
    slp=$!
    track "$slp"
    for k in $(seq 1 200); do
      grep -q ready "$dir/sleepers" 2>/dev/null && break
      sleep 0.05
    done
  fi
  svxml="$dir/services.xml"
  for k in $(seq 0 $((STATUS_SERVICES - 1))); do
    echo "<service name=\"s$k\"><command>$CHILD</command><arg>idle</arg><arg>$dir/starts</arg><ready after=\"0ms\"/></service>"
  done >"$svxml"
  for k in 0 1; do
    echo "<service name=\"w$k\"><command>$CHILD</command><arg>workers</arg><arg>$dir/starts</arg><arg>3</arg><ready after=\"0ms\"/></service>"
  done >>"$svxml"
  vigil_up "$dir" "$dir/state" "$svxml"
  wait_started $((STATUS_SERVICES + 2)) 30000 "$dir/starts" >/dev/null
  sleep 0.3   # the workers' memory
  procs=$(ls /proc | grep -c '^[0-9]')
  out=$("$TOOL" status "$dir/state/control.sock" "$STATUS_REQS" \
          "$STATUS_GAP_MS") || { note "status $host: failed"; out=""; }
  vigil_down "$dir" >/dev/null
  if [ -n "$slp" ]; then
    kill -TERM "$slp" 2>/dev/null || true
    wait "$slp" 2>/dev/null || true
    # Until init has reaped them: zombies are entries of /proc too, and
    # the next "few" case must not count them.
    for k in $(seq 1 100); do
      [ "$(ls /proc | grep -c '^[0-9]')" -lt $((before + STATUS_SLEEPERS / 2)) ] && break
      sleep 0.1
    done
  fi
  kill_stamped "$dir/starts"
  [ -n "$out" ] || return 0
  emit "bench=status impl=vigil ops=$(field n "$out")" \
       "seconds=$(awk -v m="$(field mean_ms "$out")" -v n="$(field n "$out")" 'BEGIN{printf "%.6f", m * n / 1000}')" \
       "ops_per_s=$(awk -v m="$(field mean_ms "$out")" 'BEGIN{printf "%.1f", (m > 0 ? 1000 / m : 0)}')" \
       "case=$host procs=$procs services=$((STATUS_SERVICES + 2))" \
       "p50_ms=$(field p50_ms "$out") p90_ms=$(field p90_ms "$out")" \
       "max_ms=$(field max_ms "$out") rss_sum=$(field rss_sum "$out")" \
       "rss_nulls=$(field rss_nulls "$out")"
  STATUS_P50["$host,$rep"]=$(field p50_ms "$out")
}

declare -A STATUS_P50=()
bench_status() {
  local rep ratios="" r
  for rep in $(seq 1 "$REPS"); do
    note "status few / big (round $rep)"
    status_case few "$rep"
    status_case big "$rep"
    [ -n "${STATUS_P50["few,$rep"]:-}" ] && [ -n "${STATUS_P50["big,$rep"]:-}" ] &&
      ratios="$ratios $(awk -v b="${STATUS_P50["big,$rep"]}" -v f="${STATUS_P50["few,$rep"]}" 'BEGIN{printf "%.3f", (f > 0 ? b / f : 0)}')"
  done
  [ -n "$ratios" ] || return 0
  r=$(tr ' ' '\n' <<<"$ratios" | grep . | sort -n |
      awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)], NR}')
  note "status_ratio big/few median=${r% *} rounds=${r#* } (each:$ratios)"
  echo "status_ratio impl=vigil median_ratio_big_to_few=${r% *} rounds=${r#* }" >>"$RATIOS"
}

# ---- diagnosis: vigil's system calls per restart ----------------------------------
bench_diag() {
  command -v strace >/dev/null || { note "--diag needs strace"; return 0; }
  if [ "$DIAG_SLEEPERS" -gt 0 ]; then
    local k
    "$TOOL" sleepers "$DIAG_SLEEPERS" >"$WORK/diag-sleepers" &
    DIAG_SLP=$!   # ended below: the exit trap's walk of each would be slow
    for k in $(seq 1 200); do
      grep -q ready "$WORK/diag-sleepers" 2>/dev/null && break
      sleep 0.05
    done
  fi
  # The floor's own CPU per restart (the shell: fork + wait).
  local fdir="$WORK/diag-floor" fp c0 c1 u0 u1
  mkdir -p "$fdir"
  setsid sh -c "while :; do '$CHILD' restart '$fdir/r0.st' 0; done" &
  fp=$!
  track "$fp"
  sleep 0.5
  c0=$(grep -c '^S' "$fdir/r0.st"); u0=$(awk '{print $14 + $15}' "/proc/$fp/stat")
  sleep 3
  c1=$(grep -c '^S' "$fdir/r0.st"); u1=$(awk '{print $14 + $15}' "/proc/$fp/stat")
  kill -TERM -- "-$fp" 2>/dev/null || true
  kill_stamped "$fdir/r0.st"
  note "diag: floor (sh) CPU per restart:" \
       "$(awk -v t=$((u1 - u0)) -v n=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" \
            'BEGIN{printf "%.0f us over %d restarts", t / hz * 1e6 / n, n}')"
  local sub
  for sub in disk shm; do
    local base=$WORK dir
    [ "$sub" = shm ] && base=$SHMWORK
    [ -n "$base" ] || continue
    dir="$base/diag-$sub"
    mkdir -p "$dir"
    cat >"$dir/services.xml" <<EOF
<service name="r0"><command>$CHILD</command>
  <arg>restart</arg><arg>$dir/r0.st</arg><arg>0</arg><arg>0</arg>
  <restart policy="always" delay="0ms" max-delay="0ms" max-restarts="100000" window="1s"/>
  <ready after="0ms"/>
</service>
EOF
    vigil_up "$dir" "$dir/state" "$dir/services.xml"
    "$TOOL" wait-lines 20 20000 "$dir/r0.st" >/dev/null || true
    local c0 c1 u0 u1 m0 m1
    c0=$(grep -c '^S' "$dir/r0.st")
    u0=$(awk '{print $14 + $15}' "/proc/$SUP_PID/stat")
    m0=$(awk '{print $14 + $15}' "/proc/$SUP_PID/task/$SUP_PID/stat")
    sleep 3
    c1=$(grep -c '^S' "$dir/r0.st")
    u1=$(awk '{print $14 + $15}' "/proc/$SUP_PID/stat")
    m1=$(awk '{print $14 + $15}' "/proc/$SUP_PID/task/$SUP_PID/stat")
    # The loop thread (task PID) and the pool's threads (the rest).
    note "diag ($sub state dir): vigil CPU (utime+stime) per restart:" \
         "$(awk -v t=$((u1 - u0)) -v m=$((m1 - m0)) -v n=$((c1 - c0)) \
              -v hz="$(getconf CLK_TCK)" -v p="$(ls /proc | grep -c '^[0-9]')" \
              'BEGIN{printf "%.0f us (loop thread %.0f, pool %.0f) over %d restarts, %d processes on the host", t / hz * 1e6 / n, m / hz * 1e6 / n, (t - m) / hz * 1e6 / n, n, p}')"
    c0=$(grep -c '^S' "$dir/r0.st")
    timeout -s INT 3 strace -c -o "$dir/strace.txt" -p "$SUP_PID" 2>/dev/null || true
    c1=$(grep -c '^S' "$dir/r0.st")
    vigil_down "$dir" >/dev/null
    kill_stamped "$dir/r0.st"
    note "diag ($sub state dir): strace -c of vigil over $((c1 - c0)) restarts:"
    sed 's/^/#   /' "$dir/strace.txt" >&2
  done
  if [ -n "${DIAG_SLP:-}" ]; then
    kill -TERM "$DIAG_SLP" 2>/dev/null || true
    wait "$DIAG_SLP" 2>/dev/null || true
  fi
}

# ---- run ----------------------------------------------------------------------------
note "machine: $(nproc) CPUs, $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg)"
note "vigil $("$VIGIL" version), $VIGIL built $(date -u -r "$VIGIL" '+%F %T UTC');" \
     "tree at $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
command -v supervisord >/dev/null && note "supervisord $(supervisord --version)"
command -v runsvdir >/dev/null &&
  note "runit $(dpkg-query -W -f='${Version}' runit 2>/dev/null || echo '?')"
has "$ONLY" restart && bench_restart
has "$ONLY" startstop && bench_startstop
has "$ONLY" log && bench_log
has "$ONLY" status && bench_status
[ "$DIAG" = 1 ] && bench_diag

# ---- medians and tables -------------------------------------------------------------
# One key per (bench, impl, case/services); the median repetition by seconds.
summary=$(awk '
  { key = ""; secs = 0
    for (i = 1; i <= NF; i++) {
      split($i, kv, "=")
      if (kv[1] == "bench" || kv[1] == "impl" || kv[1] == "case" ||
          kv[1] == "services") key = key " " $i
      if (kv[1] == "seconds") secs = kv[2]
      if (kv[1] == "ops_per_s" && $1 == "bench=idle_wakeups") secs = kv[2]
      if (kv[1] == "pss_kib") secs = kv[2]
      if (kv[1] == "p50_ms") secs = kv[2]
    }
    n[key]++; v[key, n[key]] = secs; line[key, n[key]] = $0
    if (!(key in order)) { order[key] = ++nk; keys[nk] = key }
  }
  END {
    for (k = 1; k <= nk; k++) {
      key = keys[k]; m = n[key]
      for (i = 1; i <= m; i++) idx[i] = i
      for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++)
        if (v[key, idx[j]] + 0 < v[key, idx[i]] + 0) { t = idx[i]; idx[i] = idx[j]; idx[j] = t }
      print line[key, idx[int((m + 1) / 2)]] (m > 1 ? " reps=" m : "")
    }
  }' "$RAW")
echo "$summary"

get() {   # BENCH IMPL [EXTRA-MATCH] FIELD
  awk -v b="bench=$1" -v im="impl=$2" -v x="$3" -v f="$4" '
    $1 == b && $2 == im && (x == "" || index($0, " " x " ") || $0 ~ (" " x "$")) {
      for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == f) { print kv[2]; exit } }
    }' <<<"$summary"
}

table() {
  local i n c f b cols
  echo
  cols="floor vigil vigil-shm runit runit-shm supervisord"
  echo "| restart_latency (ms) | floor (sh loop) | vigil | vigil, state on tmpfs | runit | runit, on tmpfs | supervisord |"
  echo "| --- | --- | --- | --- | --- | --- | --- |"
  for c in exit0 run1100; do
    for f in p50_ms p99_ms; do
      printf "| %s, %s |" "$( [ $c = exit0 ] && echo 'exits at once' || echo 'ran 1.1 s')" "${f%_ms}"
      for i in $cols; do
        printf " %s |" "$(get restart_latency "$i" "case=$c" "$f")"
      done
      echo
    done
  done
  echo
  cols="floor-vfork floor-fork vigil runit supervisord"
  echo "| benchmark | floor: posix_spawn loop | floor: fork loop | vigil | runit | supervisord |"
  echo "| --- | --- | --- | --- | --- | --- |"
  for n in $STARTSTOP_NS; do
    for b in start_many stop_all; do
      printf "| %s, %s services (s) |" "$b" "$n"
      for i in $cols; do printf " %s |" "$(get "$b" "$i" "services=$n" seconds)"; done
      echo
    done
  done
  for n in $STARTSTOP_NS; do
    printf "| rss: PSS, %s services (MiB) |" "$n"
    for i in $cols; do printf " %s |" "$(get rss "$i" "services=$n" pss_mib)"; done
    echo
  done
  printf "| idle_wakeups, %s services (per s) |" "$IDLE_SERVICES"
  for i in $cols; do printf " %s |" "$(get idle_wakeups "$i" "" ops_per_s)"; done
  echo
  echo
  echo "| log_throughput | bytes | MiB/s | vs cat |"
  echo "| --- | --- | --- | --- |"
  local catr r
  catr=$(get log_throughput cat "" ops_per_s)
  for i in cat direct vigil vigil-rotate runit supervisord; do
    r=$(get log_throughput "$i" "" ops_per_s)
    [ -n "$r" ] || continue
    printf "| %s | %s | %s | %s |\n" "$i" "$(get log_throughput "$i" "" ops)" \
      "$(get log_throughput "$i" "" mib_per_s)" \
      "$(awk -v a="$r" -v c="$catr" 'BEGIN{ if (c > 0) printf "%.0f%%", 100 * a / c }')"
  done
}
tables=$(table)
if grep -q '^log_ratio' "$RATIOS"; then
  tables="$tables
$(echo; echo '| log_throughput, paired | median ratio to cat | rounds |'
  echo '| --- | --- | --- |'
  awk '$1 == "log_ratio" { split($2, a, "="); split($3, b, "="); split($4, c, "=")
         printf "| %s | %.0f%% | %s |\n", a[2], 100 * b[2], c[2] }' "$RATIOS")"
fi
if grep -q '^status_ratio' "$RATIOS"; then
  tables="$tables
$(echo; echo '| status (ms) | few processes, p50 | big host, p50 | big / few (median of rounds) |'
  echo '| --- | --- | --- | --- |'
  printf '| %s services | %s | %s | %s |\n' "$((STATUS_SERVICES + 2))" \
    "$(get status vigil case=few p50_ms)" "$(get status vigil case=big p50_ms)" \
    "$(awk '$1 == "status_ratio" { split($3, b, "="); print b[2] }' "$RATIOS")")"
fi
echo "$tables"
if [ -n "$MARKDOWN" ]; then
  { echo "$summary" | sed 's/^/    /'; echo "$tables"; } >"$MARKDOWN"
  note "markdown written to $MARKDOWN"
fi
