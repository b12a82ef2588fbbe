# Shared by scripts/bench-store and scripts/bench-query (sourced, not run): a release build, the
# seeded corpus, a collector and one shipper per file, and latency sampling.
# Expects APPS and MIB_PER_APP; sets bin, work, raw, lines, events, http, tcp.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --locked -p logq-collector -p logq-shipper -p logq --bins >&2
cargo build --release --locked -p logq-collector --example count_events >&2
command -v rg >/dev/null || apt-get install -y -qq ripgrep >&2
command -v zstd >/dev/null || apt-get install -y -qq zstd >&2
bin=$PWD/target/release
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

python3 benches/corpus.py "$work/logs" "$APPS" "$MIB_PER_APP"
raw=$(cat "$work"/logs/*.log | wc -c)
lines=$(cat "$work"/logs/*.log | wc -l)
# A multi-line event (a stack trace) is one record: wait for as many records as the
# collector's normalizer makes of the files.
events=$("$bin/examples/count_events" "$work"/logs/*.log)

# start_collector EXTRA_TOML: a release collector on free ports; sets http and tcp.
start_collector() {
    cat > "$work/collector.toml" <<CONF
data_dir = "$work/data"
http_addr = "127.0.0.1:0"
tcp_addr = "127.0.0.1:0"
udp_addr = "127.0.0.1:0"
$1
CONF
    mkfifo "$work/collector.out"
    "$bin/logq-collector" --config "$work/collector.toml" > "$work/collector.out" 2> "$work/collector.log" &
    pids+=($!)
    read -r _ _ http tcp _ < "$work/collector.out"
    http=${http#http=}
    tcp=${tcp#tcp=}
}

apps_sum() { # field: sum over apps of a numeric field of /api/v1/apps
    curl -s "http://$http/api/v1/apps" | python3 -c "import json,sys; print(sum(a['$1'] for a in json.load(sys.stdin)['apps']))"
}

# ship_corpus: one `logq-shipper tail` per corpus file, app named after the file.
ship_corpus() {
    for f in "$work"/logs/*.log; do
        "$bin/logq-shipper" --to "$tcp" --state-dir "$work/state" tail "$f" --app "$(basename "$f" .log)" \
            2>> "$work/shipper.log" &
        pids+=($!)
    done
}

wait_searchable() { # until every corpus record is searchable
    until [ "$(apps_sum records)" -ge "$events" ]; do sleep 0.2; done
}

latency() { # command...: p50 and p99 of RUNS (default 30) runs, in ms
    for _ in $(seq "${RUNS:-30}"); do
        s=$(date +%s%N); "$@" > /dev/null; e=$(date +%s%N)
        echo $(((e - s) / 1000))
    done | sort -n | awk '{a[NR]=$1} END {printf "%.1f %.1f", a[int((NR + 1) / 2)]/1000, a[int(NR * 0.99 + 0.99)]/1000}'
}

# rare_term: the request id of one Rails line in the middle of the first file.
rare_term() {
    python3 - "$work/logs/app000.log" "$((lines / APPS / 2))" <<'PY'
import re, sys
with open(sys.argv[1]) as f:
    for n, line in enumerate(f):
        m = re.search(r"\[([0-9a-f]{16})\]", line)
        if n >= int(sys.argv[2]) and m:
            print(m.group(1))
            break
PY
}
