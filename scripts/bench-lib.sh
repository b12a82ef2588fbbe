# Shared by the benchmark scripts (sourced, not run): the release build, the peers, the seeded
# corpus and the measuring helpers. Sets bin, work, pids and a cleanup trap.
set -euo pipefail
cd "$(dirname "$0")/.."

target=${CARGO_TARGET_DIR:-$PWD/target}
bin=$target/release
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    # Their exit first: a collector still writing its data dir makes `rm` fail.
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

bench_build() {
    cargo build --release --locked -p logq-collector -p logq-shipper -p logq -p logq-tests \
        --bin logq-collector --bin logq-shipper --bin logq --bin logq-null-sink >&2
    cargo build --release --locked -p logq-collector --example count_events >&2
    command -v rg >/dev/null || apt-get install -y -qq ripgrep >&2
    command -v zstd >/dev/null || apt-get install -y -qq zstd >&2
}

# bench_peers: rsyslog and syslog-ng from Debian's packages, unpacked (not installed: the two
# conflict with each other) under $target/bench-peers with the libraries this machine lacks.
# Sets RSYSLOGD, RSYSLOG_MODULES, SYSLOG_NG, SYSLOG_NG_MODULES and PEERS_LD.
bench_peers() {
    local root=$target/bench-peers
    if [ ! -x "$root/usr/sbin/syslog-ng" ] || [ ! -x "$root/usr/sbin/rsyslogd" ]; then
        mkdir -p "$root/debs"
        local pkgs=(rsyslog syslog-ng-core) dep
        for dep in $(apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks \
            --no-replaces --no-enhances "${pkgs[@]}" | awk '/Depends: [^<]/ {print $2}' | sort -u); do
            dpkg -s "$dep" >/dev/null 2>&1 || pkgs+=("$dep")
        done
        (cd "$root/debs" && apt-get download -q "${pkgs[@]}" > /dev/null 2>&1)
        for deb in "$root"/debs/*.deb; do dpkg -x "$deb" "$root"; done
    fi
    RSYSLOGD=$root/usr/sbin/rsyslogd
    RSYSLOG_MODULES=$root/usr/lib/x86_64-linux-gnu/rsyslog
    SYSLOG_NG=$root/usr/sbin/syslog-ng
    SYSLOG_NG_MODULES=$(echo "$root"/usr/lib/syslog-ng/3.*)
    PEERS_LD=$root/usr/lib/x86_64-linux-gnu:$root/lib/x86_64-linux-gnu:$root/usr/lib/syslog-ng
}

# bench_corpus APPS MIB_PER_APP: the seeded corpus in $work/logs, or the one in $CORPUS when
# set (scripts/bench makes it once for every section). Sets logs, raw, lines.
bench_corpus() {
    if [ -n "${CORPUS:-}" ]; then
        logs=$CORPUS
    else
        logs=$work/logs
        python3 benches/corpus.py "$logs" "$1" "$2"
    fi
    raw=$(cat "$logs"/*.log | wc -c)
    lines=$(cat "$logs"/*.log | wc -l)
}

# cpu_rss PID: "CPU-seconds peak-RSS-MiB" of a running process.
cpu_rss() {
    local ticks utime stime rss
    ticks=$(getconf CLK_TCK)
    read -r utime stime < <(awk '{print $14, $15}' "/proc/$1/stat")
    rss=$(awk '/VmHWM/ {print $2}' "/proc/$1/status")
    python3 -c "print(f'{($utime + $stime) / $ticks:.2f} {$rss / 1024:.1f}')"
}

# latency COMMAND...: "p50 p99" in ms of RUNS (default 30) runs. Output goes to a file, not
# /dev/null: GNU grep stops at the first match when its output is /dev/null.
latency() {
    for _ in $(seq "${RUNS:-30}"); do
        s=$(date +%s%N); "$@" > "$work/latency.out"; e=$(date +%s%N)
        echo $(((e - s) / 1000))
    done | sort -n | awk '{a[NR]=$1} END {printf "%.1f %.1f", a[int((NR + 1) / 2)]/1000, a[int(NR * 0.99 + 0.99)]/1000}'
}

# write_json NAME: stdin (a JSON object) to $BENCH_OUT/NAME.json when scripts/bench asked for it.
write_json() {
    if [ -n "${BENCH_OUT:-}" ]; then cat > "$BENCH_OUT/$1.json"; else cat > /dev/null; fi
}
