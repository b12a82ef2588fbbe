"""scripts/bench's report: gathers the sections' JSON (and criterion's estimates) into one file,
keeps the run before it, lists what moved by more than 10 %, and draws the chart.
Usage: python3 benches/report.py OUT_DIR RESULTS_DIR [--quick]
A full run writes RESULTS_DIR/latest.json and latest.png (the older latest.json becomes
previous.json); a --quick run writes quick.json and quick.png, compared with the quick run
before it, so that a check of the scripts never replaces the figures the README quotes."""
import datetime, glob, json, os, platform, subprocess, sys

out_dir, results = sys.argv[1], sys.argv[2]
quick = "--quick" in sys.argv[3:]
name = "quick" if quick else "latest"


def load(path):
    with open(path) as f:
        return json.load(f)


def machine():
    model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem = next((int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
    return {"cores": os.cpu_count(), "cpu": model, "memory_gib": round(mem / 2**20, 1), "kernel": platform.release()}


def criterion(root):
    """Each criterion benchmark's mean time and throughput: {"parse/rails": {...}}."""
    benches = {}
    for path in glob.glob(os.path.join(root, "**", "new", "benchmark.json"), recursive=True):
        meta = load(path)
        est = load(os.path.join(os.path.dirname(path), "estimates.json"))
        ns = est["mean"]["point_estimate"]
        row = {"mean_ns": ns}
        nbytes = (meta.get("throughput") or {}).get("Bytes") or (meta.get("throughput") or {}).get("BytesDecimal")
        if nbytes:
            row["bytes"] = nbytes
            row["mib_per_s"] = nbytes / 2**20 / (ns / 1e9)
        benches[meta["full_id"]] = row
    return dict(sorted(benches.items()))


def commit():
    if os.environ.get("BENCH_COMMIT"):
        return os.environ["BENCH_COMMIT"]
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


run = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
       "commit": commit(), "quick": quick, "machine": machine()}
for section in ("ship", "query", "query_10g"):
    path = os.path.join(out_dir, f"{section}.json")
    if os.path.exists(path):
        run[section] = load(path)
if os.path.isdir(os.path.join(out_dir, "criterion")):
    run["micro"] = criterion(os.path.join(out_dir, "criterion"))


def figures(r):
    """The comparable figures of a run, flattened: name -> (value, higher is better)."""
    f = {}
    for shipper, s in r.get("ship", {}).get("shippers", {}).items():
        f[f"ship {shipper} MiB/s"] = (s["mib_per_s"], True)
        f[f"ship {shipper} CPU-s/GiB"] = (s["cpu_s_per_gib"], False)
        f[f"ship {shipper} peak RSS MiB"] = (s["peak_rss_mib"], False)
    for section in ("query", "query_10g"):
        q = r.get(section)
        if not q:
            continue
        f[f"{section} ingest MiB/s"] = (q["ingest"]["searchable_mib_per_s"], True)
        f[f"{section} disk per raw"] = (q["disk"]["total_per_raw"], False)
        for c in q["search"]:
            f[f"{section} {c['case']} logq p50 ms"] = (c["logq"]["p50_ms"], False)
        f[f"{section} tail p50 ms"] = (q["tail"]["p50_ms"], False)
    for bench, m in r.get("micro", {}).items():
        if "mib_per_s" in m:
            f[f"micro {bench} MiB/s"] = (m["mib_per_s"], True)
    return f


os.makedirs(results, exist_ok=True)
latest = os.path.join(results, f"{name}.json")
previous = os.path.join(results, "previous.json" if not quick else "quick-previous.json")
before = None
if os.path.exists(latest):
    before = load(latest)
    os.replace(latest, previous)
with open(latest, "w") as f:
    json.dump(run, f, indent=1)
    f.write("\n")
print(f"wrote {latest}" + (f" (the run before it: {previous})" if before else ""))

if before:
    old, new = figures(before), figures(run)
    moved = []
    for key, (value, higher_better) in new.items():
        if key in old and old[key][0]:
            change = value / old[key][0] - 1
            if abs(change) > 0.10:
                better = (change > 0) == higher_better
                moved.append(f"  {key}: {old[key][0]:.2f} -> {value:.2f} ({change:+.0%}, {'better' if better else 'WORSE'})")
    print(f"moved by more than 10 % since {before['date']} ({before['commit']}):" if moved else
          f"nothing moved by more than 10 % since {before['date']} ({before['commit']})")
    print("\n".join(moved))

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker
except ImportError:
    print("matplotlib is missing: no chart (pip install matplotlib)")
    sys.exit(0)

fig, axes = plt.subplots(2, 3, figsize=(16, 9))
fig.suptitle(f"logq benchmarks, {run['date']} ({run['commit']}), {run['machine']['cores']} cores: {run['machine']['cpu']}")
ship = run.get("ship", {}).get("shippers", {})
if ship:
    names = list(ship)
    axes[0][0].bar(names, [ship[n]["mib_per_s"] for n in names], color=["C0", "C1", "C2"])
    axes[0][0].set_title(f"shipping {run['ship']['raw_bytes'] / 2**20:.0f} MiB over TCP: MiB/s")
    axes[0][1].bar(names, [ship[n]["cpu_s_per_gib"] for n in names], color=["C0", "C1", "C2"])
    axes[0][1].set_title("shipping: CPU-seconds per GiB (lower is better)")
q = run.get("query")
if q:
    tools = [("logq", "logq"), ("rg", "rg -c"), ("grep", "grep -c"), ("zstdcat_rg", "zstdcat | rg -c")]
    ax = axes[1][0]
    width = 0.2
    for i, (key, label) in enumerate(tools):
        xs = [j + i * width for j in range(len(q["search"]))]
        ax.bar(xs, [c[key]["p50_ms"] for c in q["search"]], width, label=label)
    ax.set_xticks([j + 1.5 * width for j in range(len(q["search"]))], [c["case"] for c in q["search"]],
                  rotation=15, fontsize=8)
    ax.set_yscale("log")
    ax.set_title(f"search over {q['raw_bytes'] / 2**30:.1f} GiB: p50 ms (log scale)")
    ax.legend(fontsize=8)
    d = q["disk"]
    ax = axes[1][1]
    ax.bar(["logq"], [d["segments_per_raw"]], label="segments")
    ax.bar(["logq"], [d["splits_per_raw"]], bottom=[d["segments_per_raw"]], label="splits (index)")
    ax.bar(["zstd -3", "gzip -6"], [d["zstd3_per_raw"], d["gzip6_per_raw"]], color="C7")
    ax.set_title("bytes on disk per raw byte")
    ax.legend(fontsize=8)
    e = q["ingest"]
    ax = axes[0][2]
    ax.bar(["until searchable", "until sealed"], [e["searchable_mib_per_s"], e["sealed_mib_per_s"]], color="C0")
    ax.set_title(f"collector ingest MiB/s (tail latency p50 {q['tail']['p50_ms']:.0f} ms, "
                 f"p99 {q['tail']['p99_ms']:.0f} ms)", fontsize=10)
micro = {k: v for k, v in run.get("micro", {}).items() if "mib_per_s" in v}
if micro:
    ax = axes[1][2]
    ax.barh(list(micro), [m["mib_per_s"] for m in micro.values()], color="C4")
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.tick_params(axis="y", labelsize=7)
    ax.set_title("microbenchmarks: MiB/s on one core (log scale)")
for row in axes:
    for ax in row:
        if not ax.has_data():
            ax.set_visible(False)
fig.tight_layout()
png = os.path.join(results, f"{name}.png")
fig.savefig(png, dpi=80)
print(f"wrote {png}")
