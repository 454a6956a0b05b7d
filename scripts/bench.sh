#!/usr/bin/env bash
# Runs PyTorch's anchor benchmark and `tarsier bench` in one command, several times each, and
# prints the median images/s of both and the median of their per-run ratios. Installs the references first (PyTorch CPU,
# torchvision, ONNX Runtime) into .venv-bench with pip.
#   scripts/bench.sh [RUNS] [WORKLOADS...]   e.g. scripts/bench.sh 3 lenet r18_32
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}; shift || true
groups=("$@"); [ ${#groups[@]} -gt 0 ] || groups=(lenet r18_32 r18_224 ort)
anchor=../shared/anchors/torch_baseline.py
[ -f "$anchor" ] || { echo "error: $anchor not found (the shared/ folder beside the repository)" >&2; exit 1; }

venv=.venv-bench
if ! "$venv/bin/python" -c "import torch, torchvision, onnxruntime, onnx" 2>/dev/null; then
    python3 -m venv "$venv"
    # The CPU build of torch; torchvision resolves against it.
    "$venv/bin/pip" install -q "torch==2.13.0+cpu" torchvision onnxruntime onnx
fi
# PyPI's torchvision is built against CUDA, so its C ops cannot load beside the CPU torch and its
# fake-op registrations fail on import; the benchmark uses only torchvision.models (pure Python).
if ! "$venv/bin/python" -c "import torchvision" 2>/dev/null; then
    meta=$("$venv/bin/python" -c "import importlib.util as u; print(u.find_spec('torchvision').submodule_search_locations[0])")/_meta_registrations.py
    echo "# disabled by scripts/bench.sh: torchvision's CUDA-built ops cannot load with the CPU torch" > "$meta"
fi
swift build -c release --product tarsier >/dev/null

# These two variables halve OpenBLAS speed on this CPU; unset only for the benchmark.
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
out=$(mktemp -d)
# Each PyTorch group runs in its own process, so its peak resident memory is that group's (the
# anchor prints one JSON line; the wrapper adds the process's peak RSS to it).
torch_group() {
    THREADS=2 "$venv/bin/python" - "$anchor" "$1" <<'PY'
import contextlib, io, json, resource, runpy, sys
anchor, group = sys.argv[1], sys.argv[2]
sys.argv = [anchor, group]
printed = io.StringIO()
with contextlib.redirect_stdout(printed):
    runpy.run_path(anchor, run_name="__main__")
result = json.loads(printed.getvalue().strip().splitlines()[-1])
result["peak_rss_mib_" + group] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(result))
PY
}
# Each reference group runs right beside the Tarsier workloads it is compared with, alternating
# which goes first, so that a ratio compares figures taken seconds apart: this shared machine's
# speed drifts by up to 1.5x over minutes.
keys_of() {
    case "$1" in
        lenet) echo lenet_fmnist_train_b128,lenet_fmnist_infer_b1024 ;;
        r18_32) echo resnet18_32px_train_b64 ;;
        r18_224) echo resnet18_224px_train_b16,resnet18_224px_infer_b16,resnet18_224px_infer_b1 ;;
        ort) echo resnet18_224px_infer_b16,resnet18_224px_infer_b1 ;;
        *) echo "error: unknown workload group $1 (lenet, r18_32, r18_224, ort)" >&2; exit 1 ;;
    esac
}
for i in $(seq "$runs"); do
    for group in "${groups[@]}"; do
        keys=$(keys_of "$group")
        if (( i % 2 )); then
            torch_group "$group" > "$out/torch-$i-$group.json"
            .build/release/tarsier bench --json --threads 2 --only "$keys" > "$out/tarsier-$i-$group.json"
        else
            .build/release/tarsier bench --json --threads 2 --only "$keys" > "$out/tarsier-$i-$group.json"
            torch_group "$group" > "$out/torch-$i-$group.json"
        fi
    done
done
"$venv/bin/python" - "$out" "$runs" "${groups[@]}" <<'PY'
import json, statistics, sys
out, runs, groups = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
load = lambda who, i, g: json.load(open(f"{out}/{who}-{i}-{g}.json"))
first = load("torch", 1, groups[0])
print(f"torch {first['torch']}, {first['threads']} threads, {runs} runs; ratio = median of the runs' "
      "ratios (each Tarsier figure against the reference measured beside it)")
print(f"{'workload':30} {'tarsier':>10} {'reference':>10} {'ratio':>7} {'RSS MiB':>8}   every run (tarsier / reference)")
is_rate = lambda k, v: isinstance(v, (int, float)) and not isinstance(v, bool) and not k.endswith("_mib") and k != "threads"
for g in groups:
    for key in [k for k, v in load("tarsier", 1, g).items() if is_rate(k, v)]:
        ref_key = "ort_" + key if g == "ort" else key
        ours = [load("tarsier", i, g)[key] for i in range(1, runs + 1)]
        theirs = [load("torch", i, g).get(ref_key, float("nan")) for i in range(1, runs + 1)]
        ratio = statistics.median(o / t for o, t in zip(ours, theirs))
        rss = statistics.median(load("tarsier", i, g)[key + "_peak_rss_mib"] for i in range(1, runs + 1))
        label = key + (" vs ORT" if g == "ort" else "")
        print(f"{label:30} {statistics.median(ours):10.1f} {statistics.median(theirs):10.1f} {ratio:7.2f} {rss:8.0f}   "
              + " ".join(f"{o:.1f}/{t:.1f}" for o, t in zip(ours, theirs)))
print("peak RSS of each PyTorch group's process (MiB, median):")
for g in groups:
    print(f"  {g:10} {statistics.median(load('torch', i, g)['peak_rss_mib_' + g] for i in range(1, runs + 1)):8.0f}")
PY
