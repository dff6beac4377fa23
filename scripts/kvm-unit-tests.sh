#!/usr/bin/env bash
# kvm-unit-tests.sh: a conformance run of KVM's guest test suite, kvm-unit-tests (i386 target),
# under qemu-system-i386 (TCG) and under each vmm engine, side by side.
#
#   scripts/kvm-unit-tests.sh [--engines direct,trap,bt] [--only NAME[,NAME...]] [--jobs N]
#                             [--timeout DURATION] [--no-qemu] [--log-dir DIR] KUT_DIR
#
# KUT_DIR is a checkout of kvm-unit-tests that you provide (its source is not part of this
# project and is not downloaded). The script builds it for i386 there if needed
# (./configure --arch=i386 && make; an existing i386 build is reused, `make` only refreshes it),
# then runs every entry of x86/unittests.cfg with that entry's file, test_args (-append),
# qemu_params/extra_params, smp and timeout (default 90s; --timeout overrides it), the way the
# suite's own x86/run does:
#   qemu-system-i386 -nodefaults -device pc-testdev -device isa-debug-exit,... -kernel x86/T.flat
#   node dist/src/cli/vmm.js boot x86/T.flat --no-stdin -e ENGINE [--append ...] [-m MiB]
# Both get an environment file as the multiboot module (QEMU's -initrd), as the suite passes.
# Runs go N at a time (--jobs, default 2). Entries for x86_64 only, for accel=kvm only, in the
# nodefault group (unless named with --only) or whose `check` host setting does not hold are
# not run, with the reason. vmm gets --pv kvm (KVM's paravirtual interface, as the suite expects
# of KVM), --smp, --device pc-testdev etc. and --cpu MODEL (for a
# -cpu whose model vmm has; the properties after it are left out) only where `vmm boot --help` lists them, and no -machine
# options: such entries still run on vmm, marked `*`, and the notes say what vmm left out.
#
# The suite's exit statuses come from the isa-debug-exit port, status = (code << 1) | 1:
# 1 pass, 3 fail, 77 skip, 127 abort(); vmm exits with the same encoding. The table shows
# each result with the counts of the test's final `SUMMARY: N tests, M unexpected failures`
# line. Every run's output is kept in the log folder (printed at the end).
# Without a checkout (or if KUT_DIR is not one) it prints one line and exits 0, as a skip.
# It exits 0 once the table is printed, whatever the results; non-zero if it could not run.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VMM=(node "$ROOT/dist/src/cli/vmm.js")
QEMU=qemu-system-i386

usage() {
  sed -n '5,6p' "$0" | sed 's/^# *//; 1s/^/Usage: /; 2s/^/       /'
  echo "See the header of $0 for what it does."
}
skip() { echo "kvm-unit-tests: skipped: $*"; exit 0; }
die() { echo "kvm-unit-tests: $*" >&2; exit 1; }

# ---- options -------------------------------------------------------------------------------
engines="direct,trap,bt" only="" jobs=2 with_qemu=1 log_dir="" kut="" time_limit=""
while [ $# -gt 0 ]; do
  case "$1" in
    --engines) engines="${2:?--engines needs a list}"; shift 2 ;;
    --engines=*) engines="${1#*=}"; shift ;;
    --only) only="${only:+$only,}${2:?--only needs a test name}"; shift 2 ;;
    --only=*) only="${only:+$only,}${1#*=}"; shift ;;
    --jobs|-j) jobs="${2:?--jobs needs a number}"; shift 2 ;;
    --jobs=*) jobs="${1#*=}"; shift ;;
    --timeout) time_limit="${2:?--timeout needs a duration}"; shift 2 ;;
    --timeout=*) time_limit="${1#*=}"; shift ;;
    --no-qemu) with_qemu=0; shift ;;
    --log-dir) log_dir="${2:?--log-dir needs a folder}"; shift 2 ;;
    --log-dir=*) log_dir="${1#*=}"; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) usage >&2; die "unknown option $1" ;;
    *) [ -z "$kut" ] || die "one checkout only (got '$kut' and '$1')"; kut="$1"; shift ;;
  esac
done
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || die "--jobs wants a positive number, not '$jobs'"
IFS=',' read -r -a engine_list <<< "$engines"
wanted() { [ -z "$only" ] || [[ ",$only," == *",$1,"* ]]; }

[ -n "$kut" ] || skip "no kvm-unit-tests checkout given (usage: $0 [options] KUT_DIR)"
if [ ! -f "$kut/x86/unittests.cfg" ] || [ ! -f "$kut/configure" ]; then
  skip "'$kut' is not a kvm-unit-tests checkout (no x86/unittests.cfg)"
fi
kut="$(cd "$kut" && pwd)"

if [ "${#engine_list[@]}" -gt 0 ]; then
  [ -f "$ROOT/dist/src/cli/vmm.js" ] || die "vmm is not built: run 'bash scripts/setup.sh' in $ROOT first"
  vmm_help="$("${VMM[@]}" boot --help)"
  for e in "${engine_list[@]}"; do
    grep -qw -- "$e" <<< "$vmm_help" || die "vmm has no engine '$e' (see: vmm boot --help)"
  done
fi
if [ "$with_qemu" = 1 ]; then
  command -v "$QEMU" > /dev/null || die "$QEMU not found (install qemu-system-x86, or use --no-qemu)"
fi

# ---- build -------------------------------------------------------------------------------
if [ -z "$log_dir" ]; then log_dir="$(mktemp -d "${TMPDIR:-/tmp}/kvm-unit-tests.XXXXXX")"; fi
[[ "$log_dir" != *[\ ,]* ]] || die "the log folder must not have spaces or commas (vmm's --initrd splits on them)"
mkdir -p "$log_dir"
build_log="$log_dir/build.log"
if [ -f "$kut/config.mak" ]; then
  arch="$(sed -n 's/^ARCH=//p' "$kut/config.mak")"
  [ "$arch" = i386 ] ||
    die "$kut is configured for '$arch', not i386: run 'make distclean' there, or use another checkout"
else
  echo "kvm-unit-tests: configuring $kut for i386" >&2
  (cd "$kut" && ./configure --arch=i386) > "$build_log" 2>&1 ||
    { tail -n 20 "$build_log" >&2; die "./configure --arch=i386 failed (log: $build_log)"; }
fi
echo "kvm-unit-tests: building $kut (make -j$jobs)" >&2
if ! (cd "$kut" && make -j"$jobs") >> "$build_log" 2>&1; then
  tail -n 20 "$build_log" >&2
  die "make failed (log: $build_log); 32-bit builds need gcc with -m32 (Debian: gcc-multilib)"
fi

# ---- x86/unittests.cfg ---------------------------------------------------------------------
# One entry per [section]: the same keys the suite's scripts/common.bash reads.
names=() files=() smps=() targs=() params=() arches=() accels=() groupss=() timeouts=() checks=()
add_entry() {
  [ -n "$name" ] || return 0
  names+=("$name") files+=("$file") smps+=("$smp") targs+=("$test_args")
  params+=("$qparams") arches+=("$arch") accels+=("$accel") groupss+=("$groups")
  timeouts+=("$timeout") checks+=("$check")
}
name=""
while IFS= read -r line || [ -n "$line" ]; do
  if [[ "$line" =~ ^\[(.*)\]$ ]]; then
    add_entry
    name="${BASH_REMATCH[1]}" file="" smp=1 test_args="" qparams=""
    arch="" accel="" groups="" timeout="" check=""
  elif [[ "$line" =~ ^(extra_params|qemu_params)\ *=\ *\"\"\"(.*)$ ]]; then
    qparams="${BASH_REMATCH[2]}"   # a multi-line value, up to the closing """
    while [[ "$qparams" != *'"""'* ]] && IFS= read -r line; do qparams+=" ${line%\\}"; done
    qparams="${qparams%%\"\"\"*}"
  elif [[ "$line" =~ ^([a-z_]+)\ *=\ *(.*)$ ]]; then
    value="${BASH_REMATCH[2]}"
    case "${BASH_REMATCH[1]}" in
      file) file="$value" ;;
      smp) smp="$value" ;;
      test_args) test_args="$value" ;;
      extra_params|qemu_params) qparams="$value" ;;
      arch) arch="$value" ;;
      accel) accel="$value" ;;
      groups) groups="$value" ;;
      timeout) timeout="$value" ;;
      check) check="$value" ;;
    esac
  fi
done < "$kut/x86/unittests.cfg"
add_entry

# ---- environment files (the multiboot module the suite passes as -initrd) --------------------
env_qemu="$log_dir/env.qemu" env_vmm="$log_dir/env.vmm"
printf 'TARGET=qemu\nQEMU_ACCEL=tcg\nERRATA_FORCE=y\n' > "$env_qemu"
printf 'ERRATA_FORCE=y\n' > "$env_vmm"

# QEMU's -m SIZE in MiB: 2048, 512M, 4g, 4G
to_mib() {
  local v="${1#size=}"; v="${v%%,*}"
  case "$v" in
    *[gG]) echo $(( ${v%[gG]} * 1024 )) ;;
    *[mM]) echo "${v%[mM]}" ;;
    *) echo "$v" ;;
  esac
}
vmm_has() { grep -q -- "$1" <<< "${vmm_help:-}"; }
# Whether vmm's --cpu offers this QEMU -cpu value as it is (a model name, no +/-features).
vmm_cpu_model() { [[ "$1" =~ ^[a-z0-9-]+$ ]] && grep -- '--cpu' <<< "${vmm_help:-}" | grep -qw -- "$1"; }
# The model of a QEMU -cpu value (before its first comma) when vmm's --cpu offers it; empty if not.
vmm_cpu_model_of() { if vmm_cpu_model "${1%%,*}"; then echo "${1%%,*}"; fi; }

# The table cell for a finished run: status, then F/T from the SUMMARY line.
cell() {
  local base="$log_dir/${names[$1]}.$2" rc status summary counts=""
  rc="$(cat "$base.rc")"
  case "$rc" in
    1) status=PASS
       # QEMU's status is also 1 when it could not start the guest: it said why on stderr
       if [ "$2" = qemu ] && grep -qvi warning "$base.err"; then status=ERROR; fi ;;
    3) status=FAIL ;;
    77) status=SKIP ;;
    127) status=ABORT ;;   # abort(), exit code 63: an unexpected exception, a failed assert
    124|137) status=TIMEOUT ;;
    0) status=HALT ;;      # ended without the debug-exit port: halted, or shut down
    *) status="EXIT$rc" ;;
  esac
  if [ "$2" != qemu ]; then   # vmm's own statuses (its README, "Exit status")
    case "$rc" in
      2) status=ERROR ;;      # bad input: vmm said why on stderr
      4) status=CRASH ;;      # triple fault, wild jump, something vmm does not support
      # A status the guest gave through the debug-exit port, which vmm names: Node.js itself exits
      # with 1 when it cannot start vmm at all.
      1|3|77|127) grep -q 'through the debug-exit port' "$base.err" || status=ERROR ;;
    esac
  fi
  summary="$(tr -d '\r' < "$base.out" | grep '^SUMMARY: ' | tail -n 1 || true)"
  if [[ "$summary" =~ ^SUMMARY:\ ([0-9]+)\ tests ]]; then
    local tests="${BASH_REMATCH[1]}" fails=0
    [[ "$summary" =~ ([0-9]+)\ unexpected ]] && fails="${BASH_REMATCH[1]}"
    counts=" $fails/$tests"
    [[ "$summary" =~ ([0-9]+)\ skipped ]] && counts+=" s${BASH_REMATCH[1]}"
    [[ "$summary" =~ ([0-9]+)\ expected ]] && counts+=" x${BASH_REMATCH[1]}"
    [[ "$summary" =~ ([0-9]+)\ known ]] && counts+=" k${BASH_REMATCH[1]}"
  fi
  echo "$status$counts"
}

# ---- one run: test i under RUNNER (qemu or an engine) ---------------------------------------
# Writes LOG/NAME.RUNNER.out (serial console), .err (stderr) and .rc (exit status).
run_one() {
  local i="$1" runner="$2"
  local name="${names[$i]}" kernel="$kut/x86/${files[$i]}" smp="${smps[$i]}"
  local limit="${time_limit:-${timeouts[$i]:-90s}}" base="$log_dir/${names[$i]}.$runner"
  local -a args=() extra=() cmd=()
  eval "args=(${targs[$i]})"      # quoting and `backticks` as the suite's own eval gives them
  eval "extra=(${params[$i]})"
  if [ "$runner" = qemu ]; then
    # shellcheck disable=SC2054 # the commas are QEMU's
    cmd=("$QEMU" --no-reboot -nodefaults -vnc none -serial stdio
         -device pc-testdev -device isa-debug-exit,iobase=0xf4,iosize=0x4 -device pci-testdev
         -machine accel=tcg -kernel "$kernel" -smp "$smp" "${extra[@]}")
    [ "${#args[@]}" -eq 0 ] || cmd+=(-append "${args[*]}")
    cmd+=(-initrd "$env_qemu")
  else
    local append="${args[*]}" mem=128 j=0 opt model
    cmd=("${VMM[@]}" boot "$kernel" --no-stdin -e "$runner")
    while [ "$j" -lt "${#extra[@]}" ]; do   # keep what vmm understands of the QEMU options
      opt="${extra[$j]}"
      case "$opt" in
        -m) mem="$(to_mib "${extra[$((j + 1))]}")"; j=$((j + 2)) ;;
        -append) append="${extra[$((j + 1))]}"; j=$((j + 2)) ;;
        -device) if vmm_has "${extra[$((j + 1))]%%,*}"; then cmd+=(--device "${extra[$((j + 1))]}"); fi
                 j=$((j + 2)) ;;
        -cpu) model="$(vmm_cpu_model_of "${extra[$((j + 1))]}")"
              if [ -n "$model" ]; then cmd+=(--cpu "$model"); fi
              j=$((j + 2)) ;;
        *) j=$((j + 1)) ;;
      esac
    done
    cmd+=(-m "$mem")
    if [ "$smp" != 1 ] && vmm_has '--smp'; then cmd+=(--smp "$smp"); fi
    for dev in pc-testdev pci-testdev; do vmm_has "$dev" && cmd+=(--device "$dev"); done
    # The suite is KVM's: its guests find KVM's paravirtual interface (hypercalls, kvmclock), as under KVM.
    if vmm_has '--pv'; then cmd+=(--pv kvm); fi
    [ -z "$append" ] || cmd+=(--append "$append")
    cmd+=(--initrd "$env_vmm")
  fi
  printf '%q ' "${cmd[@]}" > "$base.cmd"
  local start=$SECONDS rc=0
  timeout --foreground -k 5s "$limit" "${cmd[@]}" < /dev/null > "$base.out" 2> "$base.err" &
  local child=$!
  trap 'kill -TERM $child 2> /dev/null; exit 130' TERM
  wait "$child" || rc=$?
  echo "$rc" > "$base.rc"
  printf 'kvm-unit-tests: %-36s %-6s %-14s %4ds\n' \
    "$name" "$runner" "$(cell "$i" "$runner")" $((SECONDS - start)) >&2
}

# ---- choose what runs --------------------------------------------------------------------
runners=()
[ "$with_qemu" = 1 ] && runners+=(qemu)
runners+=("${engine_list[@]}")
to_run=() notes=() reasons=()
declare -A not_run=()   # reason -> the tests not run for it
for i in "${!names[@]}"; do
  n="${names[$i]}" reason="" note="" flag=""
  wanted "$n" || continue
  if [ -n "${arches[$i]}" ] && [ "${arches[$i]}" != i386 ]; then reason="${arches[$i]} only"
  elif [ -n "${accels[$i]}" ] && [ "${accels[$i]}" != tcg ]; then reason="accel=${accels[$i]} only"
  elif [[ " ${groupss[$i]} " == *" nodefault "* ]] && [ -z "$only" ]; then
    reason="nodefault group (run one with --only NAME)"
  elif [ ! -f "$kut/x86/${files[$i]}" ]; then reason="x86/${files[$i]} was not built"
  else
    for c in ${checks[$i]}; do   # path=value host settings, as the suite checks them
      [ -f "${c%%=*}" ] && [ "$(cat "${c%%=*}")" = "${c#*=}" ] || reason="needs $c"
    done
  fi
  if [ -n "$reason" ]; then
    [ -n "${not_run[$reason]:-}" ] || reasons+=("$reason")
    not_run[$reason]+=" $n"
    continue
  fi
  # What vmm leaves out of this entry's configuration (marked * in its cells)
  if [ "${smps[$i]}" != 1 ] && ! vmm_has '--smp'; then
    note+="smp=${smps[$i]} (vmm: 1 CPU); "
  fi
  read -r -a words <<< "${params[$i]}"
  for p in "${words[@]}"; do
    case "$p" in
      -cpu|-machine|-M|-global|-overcommit|-device) flag="$p" ;;
      -enable-kvm) note+="$p; " ;;
      -*) flag="" ;;
      *) if [ -n "${flag:-}" ]; then
           if [ "$flag" = -cpu ] && ! vmm_cpu_model "$p" && [ -n "$(vmm_cpu_model_of "$p")" ]; then
             note+="-cpu $p (vmm: --cpu ${p%%,*}); "
           else
             { [ "$flag" = -device ] && vmm_has "${p%%,*}"; } || { [ "$flag" = -cpu ] && vmm_cpu_model "$p"; } ||
               note+="$flag $p; "
           fi
         fi; flag="" ;;
    esac
  done
  to_run+=("$i"); notes[i]="${note%; }"
done
IFS=',' read -r -a only_list <<< "$only"
for n in "${only_list[@]}"; do
  [[ " ${names[*]} " == *" $n "* ]] || echo "kvm-unit-tests: x86/unittests.cfg has no entry '$n'" >&2
done
print_not_run() {
  local reason skipped
  for reason in "${reasons[@]}"; do
    read -r -a skipped <<< "${not_run[$reason]}"
    echo "Not run, $reason (${#skipped[@]}):${not_run[$reason]}" | fold -s -w 100 | sed '2,$s/^/    /'
  done
}
[ "${#to_run[@]}" -gt 0 ] || { print_not_run >&2; die "no test to run${only:+ (--only $only)}"; }

# ---- run, --jobs at a time -------------------------------------------------------------------
trap 'kill -TERM $(jobs -p) 2> /dev/null; exit 130' INT TERM
echo "kvm-unit-tests: ${#to_run[@]} tests x ${#runners[@]} runners (${runners[*]})," \
  "$jobs at a time; logs in $log_dir" >&2
running=0
for i in "${to_run[@]}"; do
  for r in "${runners[@]}"; do
    if [ "$running" -ge "$jobs" ]; then wait -n || true; running=$((running - 1)); fi
    run_one "$i" "$r" &
    running=$((running + 1))
  done
done
wait || true
trap - INT TERM

# ---- the table -------------------------------------------------------------------------------
declare -A totals=()
header=(test "${runners[@]}")
header=("${header[@]/#qemu/QEMU}")
printf '\n%-36s' "${header[0]}"; printf ' %-16s' "${header[@]:1}"; printf ' %s\n' notes
for i in "${to_run[@]}"; do
  printf '%-36s' "${names[$i]}"
  for r in "${runners[@]}"; do
    c="$(cell "$i" "$r")"
    status="${c%% *}"
    totals[$r,$status]=$(( ${totals[$r,$status]:-0} + 1 ))
    [ "$r" = qemu ] || [ -z "${notes[$i]}" ] || c+=" *"
    printf ' %-16s' "$c"
  done
  printf ' %s\n' "${notes[$i]}"
done
echo
echo "F/T: unexpected failures / tests in the test's SUMMARY line" \
  "(sN skipped, xN expected, kN known failures)."
echo "Exit statuses: 1 PASS, 3 FAIL, 77 SKIP, 127 ABORT (abort()), 0 HALT (no debug-exit);" \
  "vmm: 4 CRASH, 2 ERROR; TIMEOUT: over ${time_limit:-the cfg timeout (default 90s)}."
echo "*: vmm ran the entry without what the notes list."
for r in "${runners[@]}"; do
  line=""
  for s in PASS FAIL SKIP ABORT TIMEOUT HALT CRASH ERROR; do line+="${totals[$r,$s]:-0} ${s,,}, "; done
  other=0
  for k in "${!totals[@]}"; do [[ "$k" == "$r,EXIT"* ]] && other=$((other + totals[$k])); done
  printf '%-7s %sother exit %d\n' "$r:" "$line" "$other"
done
print_not_run
echo "Logs: $log_dir (NAME.RUNNER.out: serial console, .err: stderr, .cmd: the command)"
