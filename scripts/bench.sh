#!/usr/bin/env bash
# Runs PyTorch's anchor benchmark and `tarsier bench` in one command, several times each, and
# prints the median images/s of both and their ratio. Installs the references first (PyTorch CPU,
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
for i in $(seq "$runs"); do
    for group in "${groups[@]}"; do torch_group "$group" > "$out/torch-$i-$group.json"; done
    "$venv/bin/python" -c "import json, sys; r = {}; [r.update(json.load(open(f))) for f in sys.argv[1:]]; print(json.dumps(r))" \
        "$out"/torch-"$i"-*.json > "$out/torch-$i.json"
    .build/release/tarsier bench --json --threads 2 > "$out/tarsier-$i.json"
done
"$venv/bin/python" - "$out" "$runs" <<'PY'
import json, statistics, sys
out, runs = sys.argv[1], int(sys.argv[2])
torch = [json.load(open(f"{out}/torch-{i}.json")) for i in range(1, runs + 1)]
ours = [json.load(open(f"{out}/tarsier-{i}.json")) for i in range(1, runs + 1)]
print(f"torch {torch[0]['torch']}, {torch[0]['threads']} threads, medians of {runs} runs")
print(f"{'workload':30} {'tarsier':>10} {'torch':>10} {'ratio':>7} {'ort':>10} {'vs ort':>7} {'RSS MiB':>8}")
group_of = {"lenet": "lenet", "resnet18_32px": "r18_32", "resnet18_224px": "r18_224"}
for key in [k for k in ours[0] if isinstance(ours[0][k], float) and not k.endswith("_mib") and k != "threads"]:
    t = statistics.median(r[key] for r in ours)
    p = [r[key] for r in torch if key in r]
    o = [r["ort_" + key] for r in torch if "ort_" + key in r]
    pm = statistics.median(p) if p else float("nan")
    om = statistics.median(o) if o else float("nan")
    rss = statistics.median(r[key + "_peak_rss_mib"] for r in ours)
    print(f"{key:30} {t:10.1f} {pm:10.1f} {t / pm:7.2f} {om:10.1f} {t / om:7.2f} {rss:8.0f}")
print("peak RSS of each PyTorch group's process (MiB, median):")
for group in sorted({k for r in torch for k in r if k.startswith("peak_rss_mib_")}):
    print(f"  {group[len('peak_rss_mib_'):]:10} {statistics.median(r[group] for r in torch if group in r):8.0f}")
print("every run (tarsier / torch):")
for key in [k for k in ours[0] if isinstance(ours[0][k], float) and not k.endswith("_mib") and k != "threads"]:
    print(f"  {key:30} " + "  ".join(f"{r[key]:.1f}" for r in ours) + "  /  "
          + "  ".join(f"{r.get(key, float('nan')):.1f}" for r in torch))
PY
