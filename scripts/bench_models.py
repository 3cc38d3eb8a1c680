#!/usr/bin/env python3
"""Median Invoke() latency of the shared models, per thread count, against
TensorFlow Lite 2.21 + XNNPACK and against a baseline measured in the same run.

Each configuration is run --repeats times by `lookout bench --json` (each run
itself the median of --runs invokes after warm-up); configurations are
interleaved so drift hits them alike, and the report gives the median of the
per-run medians. ours/base is the median of the per-repeat ratios: each
repeat runs ours and the baseline back to back, so a slow spell of the
machine (a shared host's neighbours) slows both sides of one ratio instead
of one side of the ratio of medians. The baseline is the same binary with Lookout's own kernels
switched off (LOOKOUT_NO_OWN_KERNELS=1: XNNPACK and the lookup tables only),
or, with --baseline, another build's `lookout` as it runs by default (e.g.
the commit before a change, to show that no model got slower).

  scripts/bench_models.py [--models DIR] [--repeats 5] [--runs 100] [--threads 1 2] [--json OUT]
                          [--baseline OTHER/bin/lookout]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# TFLite 2.21 benchmark_model, XNNPACK delegate, on a 2-core AMD EPYC with
# AVX-512 VNNI: median us per Invoke (the table). Peak RSS 12-21 MB.
TFLITE_US = {
    "mobilenet_v1_0.25_128_quant": {1: 292, 2: 253},
    "mobilenet_v1_0.75_192_quant": {1: 3192, 2: 2152},
    "mobilenet_v2_1.0_224_quant": {1: 4704, 2: 3554},
    "tf2_mobilenet_v2_1.0_224_ptq": {1: 2409, 2: 1734},
}


def bench(lookout, model, threads, runs, own_kernels):
    env = dict(os.environ)
    if not own_kernels:
        env["LOOKOUT_NO_OWN_KERNELS"] = "1"
    out = subprocess.run(
        [lookout, "bench", "--model", str(model), "--threads", str(threads), "--runs", str(runs),
         "--warmup", "5", "--json"],
        check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lookout", default=str(ROOT / "build/bin/lookout"))
    parser.add_argument("--models", default=str(ROOT.parent / "shared/models"))
    parser.add_argument("--only", nargs="*", help="model stems (default: all *.tflite)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--baseline", help="another `lookout` to compare with (default: this one, own kernels off)")
    args = parser.parse_args()

    models = sorted(Path(args.models).glob("*.tflite"))
    if args.only:
        models = [m for m in models if m.stem in args.only]
    if not models:
        sys.exit(f"no models in {args.models}")
    configs = [(m, t) for m in models for t in args.threads]
    samples = {(m.stem, t): {"ours": [], "baseline": [], "rss": []} for m, t in configs}
    for r in range(args.repeats):
        for m, t in configs:
            s = samples[(m.stem, t)]
            ours = bench(args.lookout, m, t, args.runs, True)
            base = (bench(args.baseline, m, t, args.runs, True) if args.baseline
                    else bench(args.lookout, m, t, args.runs, False))
            s["ours"].append(ours["median_us"])
            s["baseline"].append(base["median_us"])
            s["rss"].append(ours["peak_rss_bytes"])
        print(f"repeat {r + 1}/{args.repeats} done", file=sys.stderr)

    rows = []
    base_name = "baseline us" if args.baseline else "XNNPACK-only us"
    print(f"{'model':32} {'thr':>3} {'ours us':>9} {base_name:>15} {'ours/base':>9} "
          f"{'TFLite us':>9} {'ours/TFLite':>11} {'peak RSS MiB':>12}")
    for m, t in configs:
        s = samples[(m.stem, t)]
        ours = statistics.median(s["ours"])
        base = statistics.median(s["baseline"])
        rss = statistics.median(s["rss"]) / (1024 * 1024)
        tfl = TFLITE_US.get(m.stem, {}).get(t)
        ratio = statistics.median(o / b for o, b in zip(s["ours"], s["baseline"]))
        rows.append({"model": m.stem, "threads": t, "median_us": ours, "baseline_us": base,
                     "tflite_us": tfl, "ratio_to_tflite": ours / tfl if tfl else None,
                     "ratio_to_baseline": ratio, "peak_rss_mib": rss,
                     "ours_runs_us": s["ours"], "baseline_runs_us": s["baseline"]})
        print(f"{m.stem:32} {t:3d} {ours:9.0f} {base:15.0f} {ratio:9.2f} "
              f"{tfl if tfl else '-':>9} {(f'{ours / tfl:.2f}' if tfl else '-'):>11} {rss:12.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
