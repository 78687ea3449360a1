#!/usr/bin/env bash
# Benchmark `RUNTIME run` of a busybox bundle running /bin/true with
# hull-runtime, runc and crun, and print wall time, CPU time and peak RSS
# plus hull/crun and hull/runc ratios.  See bench/README.md.
#
# Usage (as root):  bench/runtime.sh
# Environment:
#   HULL_RUNTIME  hull binary   (default target/x86_64-unknown-linux-gnu/release/hull-runtime of this checkout)
#   RUNC, CRUN    runc / crun binaries (default: found in PATH)
#   RUNS          timed hyperfine runs per runtime (default 50; plus 5 warmup)
#   RSS_RUNS      /usr/bin/time runs per runtime for peak RSS (default 20)
#   EXPORT_JSON   if set, copy hyperfine's JSON export to this path
set -euo pipefail

HULL_RUNTIME=${HULL_RUNTIME:-$(cd "$(dirname "$0")/.." && pwd)/target/x86_64-unknown-linux-gnu/release/hull-runtime}
RUNC=${RUNC:-$(command -v runc || true)}
CRUN=${CRUN:-$(command -v crun || true)}
RUNS=${RUNS:-50}
RSS_RUNS=${RSS_RUNS:-20}
WARMUP=5
UNIFIED=/sys/fs/cgroup/unified   # cgroup2 mount of a "hybrid" cgroup host

NAMES=(hull runc crun)
declare -A BIN ROOT ID CMD      # per runtime: binary, --root, container id, sh -c script

PRE=""                          # "umount -l $UNIFIED && " on hybrid hosts
WORK=""                         # temp dir, set in make_workdir
CG_BEFORE=""                    # cgroup dirs that existed before we started

die() { echo "runtime.sh: error: $*" >&2; exit 1; }
log() { echo "==> $*" >&2; }

# Single-quote a string for POSIX sh (and for hyperfine -N's word splitting).
sq() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

# ---------------------------------------------------------------- checks ----
check_prereqs() {
    [[ $EUID -eq 0 ]] || die "must run as root (the runtimes create namespaces and cgroups)"
    if [[ ! -x $HULL_RUNTIME ]]; then
        die "hull-runtime not found at '$HULL_RUNTIME'.
  Build it first:  cargo build --release
  or point HULL_RUNTIME at an existing binary."
    fi
    [[ -n $RUNC && -x $RUNC ]] || die "runc not found (set RUNC=/path/to/runc)"
    [[ -n $CRUN && -x $CRUN ]] || die "crun not found (set CRUN=/path/to/crun)"
    local tool
    for tool in hyperfine jq unshare awk sort /bin/busybox; do
        command -v "$tool" >/dev/null || die "missing '$tool'"
    done
    [[ -x /usr/bin/time ]] || die "GNU time missing: apt-get install -y time"
    [[ $RUNS =~ ^[1-9][0-9]*$ && $RSS_RUNS =~ ^[1-9][0-9]*$ ]] \
        || die "RUNS and RSS_RUNS must be positive integers"
    BIN=([hull]=$HULL_RUNTIME [runc]=$RUNC [crun]=$CRUN)
}

# ------------------------------------------------------------ setup ---------
make_workdir() {
    WORK=$(realpath "$(mktemp -d "${TMPDIR:-/tmp}/hull-bench.XXXXXX")")
    CG_BEFORE=$WORK/cgroups.before
    list_cgroups >"$CG_BEFORE"
}

# Bundle: busybox rootfs + runc's default spec running /bin/true.
make_bundle() {
    local b=$WORK/bundle
    mkdir -p "$b/rootfs/bin"
    cp /bin/busybox "$b/rootfs/bin/busybox"
    ln -s busybox "$b/rootfs/bin/true"
    ln -s busybox "$b/rootfs/bin/sh"
    (cd "$b" && "$RUNC" spec)
    jq '.process.terminal = false | .process.args = ["/bin/true"]' \
        "$b/config.json" >"$b/config.json.new"
    mv "$b/config.json.new" "$b/config.json"
}

# Every runtime is run through the same wrapper:
#     unshare -m --propagation private sh -c 'umount -l UNIFIED; exec RT ... run'
# crun 1.8.1 refuses hybrid cgroup hosts ("cgroups in hybrid mode not
# supported"), so it needs the cgroup2 mount hidden in a private mount
# namespace.  runc and hull get the identical wrapper (including the umount),
# so all three pay the same unshare+sh+umount overhead and see the same pure
# cgroup-v1 layout.  On a host without $UNIFIED mounted the umount is skipped.
make_commands() {
    local n
    if awk -v m="$UNIFIED" '$2 == m { f = 1 } END { exit !f }' /proc/self/mounts; then
        PRE="umount -l $UNIFIED && "
    fi
    for n in "${NAMES[@]}"; do
        ROOT[$n]=$WORK/root-$n
        # Fixed id per runtime (unique to this script invocation); `run`
        # deletes the container on exit, so the id is free again next time.
        ID[$n]=hullbench-$$-$n
        mkdir -p "${ROOT[$n]}"
        CMD[$n]="${PRE}exec $(sq "${BIN[$n]}") --root $(sq "${ROOT[$n]}") run -b $(sq "$WORK/bundle") $(sq "${ID[$n]}")"
    done
}

# Run a shell snippet in the wrapper (private mount namespace).
in_wrapper() { unshare -m --propagation private sh -c "$1"; }

# One run per runtime before measuring: it must exit 0 and leave no container.
preflight() {
    local n out
    for n in "${NAMES[@]}"; do
        log "preflight: $n (${BIN[$n]})"
        if ! out=$(in_wrapper "${CMD[$n]}" 2>&1); then
            die "$n failed to run the bundle:
$out"
        fi
        if "${BIN[$n]}" --root "${ROOT[$n]}" state "${ID[$n]}" >/dev/null 2>&1; then
            die "$n: container ${ID[$n]} still exists after 'run' exited"
        fi
    done
}

# -------------------------------------------------------------- measure -----
# Wall and CPU time: all three commands in one hyperfine invocation.
# -N (no intermediate shell): hyperfine splits the command line itself, which
# handles the quoted sh -c script.  hyperfine aborts on a non-zero exit.
run_hyperfine() {
    local args=() n
    for n in "${NAMES[@]}"; do
        args+=(-n "$n" "unshare -m --propagation private sh -c $(sq "${CMD[$n]}")")
    done
    # Baseline: the wrapper alone, exec'ing /bin/true instead of a runtime.
    args+=(-n wrapper "unshare -m --propagation private sh -c $(sq "${PRE}exec /bin/true")")
    log "hyperfine: $WARMUP warmup + $RUNS runs per runtime (+ wrapper-only baseline)"
    hyperfine -N --warmup "$WARMUP" --runs "$RUNS" \
        --export-json "$WORK/hyperfine.json" "${args[@]}"
    if [[ -n ${EXPORT_JSON:-} ]]; then cp "$WORK/hyperfine.json" "$EXPORT_JSON"; fi
}

# Peak RSS: GNU time's %M is ru_maxrss as returned by wait4() for its child,
# i.e. the maximum RSS over the whole waited-for process tree (unshare/sh,
# which exec into the runtime, the runtime, its helper children such as
# `runc init`, and the container's /bin/true).  Runtimes interleaved.
measure_rss() {
    local i n
    log "peak RSS: $RSS_RUNS runs per runtime (interleaved)"
    for ((i = 0; i < RSS_RUNS; i++)); do
        for n in "${NAMES[@]}"; do
            /usr/bin/time -f %M -o "$WORK/rss.tmp" \
                unshare -m --propagation private sh -c "${CMD[$n]}"
            cat "$WORK/rss.tmp" >>"$WORK/rss-$n"
        done
    done
}

# Print "median max" of the KiB values in a file.
rss_stats() {
    sort -n "$1" | awk '{ v[NR] = $1 }
        END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
              printf "%d %d\n", m, v[NR] }'
}

# --------------------------------------------------------------- report -----
report() {
    local n i=0 rows=""
    for n in "${NAMES[@]}"; do
        # name mean_s stddev_s user_s system_s rss_median rss_max
        rows+="$n $(jq -r --argjson i "$i" \
            '.results[$i] | "\(.mean) \(.stddev) \(.user) \(.system)"' \
            "$WORK/hyperfine.json") $(rss_stats "$WORK/rss-$n")"$'\n'
        i=$((i + 1))
    done
    local base
    base=$(jq -r '.results[3] | "\(.mean) \(.stddev) \(.user + .system)"' "$WORK/hyperfine.json")
    printf '%s' "$rows" | awk -v base="$base" -v runs="$RUNS" -v rss_runs="$RSS_RUNS" '
        { name[NR] = $1; wall[$1] = $2 * 1000; sd[$1] = $3 * 1000
          cpu[$1] = ($4 + $5) * 1000; med[$1] = $6; max[$1] = $7 }
        # ratio a/b with the stddevs propagated (independent samples)
        function ratio(a, b) {
            return sprintf("%.2f ± %.2f", wall[a] / wall[b],
                wall[a] / wall[b] * sqrt((sd[a] / wall[a])^2 + (sd[b] / wall[b])^2))
        }
        END {
            printf "\n`run` of a busybox bundle running /bin/true (%d runs, RSS over %d runs)\n\n", runs, rss_runs
            printf "%-8s %-21s %-17s %s\n", "runtime", "wall ms (mean ± sd)", "user+sys CPU ms", "peak RSS KiB (median / max)"
            for (i = 1; i <= NR; i++) {
                n = name[i]
                printf "%-8s %8.2f ± %-8.2f %-17.2f %d / %d\n", n, wall[n], sd[n], cpu[n], med[n], max[n]
            }
            split(base, b, " ")
            printf "%-8s %8.2f ± %-8.2f %-17.2f (unshare+sh+umount+/bin/true, included above)\n", "wrapper", b[1] * 1000, b[2] * 1000, b[3] * 1000
            printf "\n%-10s %-14s %-6s %s\n", "ratio", "wall", "CPU", "RSS median"
            printf "%-10s %-14s %-6.2f %.2f\n", "hull/crun", ratio("hull", "crun"), cpu["hull"] / cpu["crun"], med["hull"] / med["crun"]
            printf "%-10s %-14s %-6.2f %.2f\n", "hull/runc", ratio("hull", "runc"), cpu["hull"] / cpu["runc"], med["hull"] / med["runc"]
        }'
}

# -------------------------------------------------------------- cleanup -----
list_cgroups() { find /sys/fs/cgroup -mindepth 1 -type d 2>/dev/null | sort; }

# Remove whatever we left behind: containers (by our ids, in our --roots),
# cgroups created since we started *and named after our container ids*, any
# mount under the temp dir, then the temp dir itself.
cleanup() {
    local rc=$? n cg
    trap - EXIT INT TERM
    [[ -n $WORK && -d $WORK ]] || exit "$rc"
    for n in "${NAMES[@]}"; do
        [[ -n ${ROOT[$n]:-} && -d ${ROOT[$n]} ]] || continue
        if "${BIN[$n]}" --root "${ROOT[$n]}" state "${ID[$n]}" >/dev/null 2>&1; then
            echo "cleanup: deleting leftover $n container ${ID[$n]}" >&2
            in_wrapper "${PRE}exec $(sq "${BIN[$n]}") --root $(sq "${ROOT[$n]}") delete -f $(sq "${ID[$n]}")" || true
        fi
    done
    if [[ -f $CG_BEFORE ]]; then
        # deepest first, so nested cgroups go before their parents
        list_cgroups | comm -13 "$CG_BEFORE" - \
            | awk -v id="hullbench-$$-" 'index($0, "/" id) { print }' \
            | sort -r | while read -r cg; do
                echo "cleanup: removing leftover cgroup $cg" >&2
                rmdir "$cg" || true
            done
    fi
    awk -v w="$WORK" 'index($2, w) == 1 { print $2 }' /proc/self/mounts | sort -r \
        | while read -r m; do umount -l "$m" || true; done
    rm -rf "$WORK"
    exit "$rc"
}

main() {
    check_prereqs
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    make_workdir
    make_bundle
    make_commands
    preflight
    run_hyperfine
    measure_rss
    report
}

main "$@"
