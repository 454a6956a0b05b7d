#!/usr/bin/env bash
# The image-pipeline benchmark: Tarsier's loader against torchvision with Pillow, in one command,
# on the same JPEG photographs (Debian's darknet pictures, each listed 40 times) and the same
# number of decoding threads/processes. Both decode, RandomResizedCrop(224), flip and normalise
# in batches of 32. Prints the median images/s of each over RUNS alternating runs, and the ratio.
#   scripts/bench_data.sh [RUNS] [WORKERS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
workers=${2:-2}

venv=.venv-bench
if ! "$venv/bin/python" -c "import torch, PIL" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "torch==2.13.0+cpu" torchvision
fi
# PyPI's torchvision is built against CUDA; its fake-op registrations fail beside the CPU torch and
# are not needed for PIL transforms (see scripts/bench.sh).
if ! "$venv/bin/python" -c "import torchvision" 2>/dev/null; then
    meta=$("$venv/bin/python" -c "import importlib.util as u; print(u.find_spec('torchvision').submodule_search_locations[0])")/_meta_registrations.py
    echo "# disabled by scripts/bench_data.sh: torchvision's CUDA-built ops cannot load with the CPU torch" > "$meta"
fi
scripts/fetch_test_images.sh
swift build -c release --product tarsier >/dev/null

list=$(mktemp)
out=$(mktemp -d)
for _ in $(seq 40); do ls "$PWD"/.testdata/darknet/*.jpg; done > "$list"
for i in $(seq "$runs"); do
    "$venv/bin/python" scripts/data_baseline.py "$list" "$workers" 3 > "$out/torch-$i.json"
    .build/release/tarsier data bench --files "$list" --workers "$workers" --passes 3 --json > "$out/tarsier-$i.json"
done
"$venv/bin/python" - "$out" "$runs" "$(nproc)" <<'PY'
import json, statistics, sys
out, runs, cores = sys.argv[1], int(sys.argv[2]), sys.argv[3]
torch = [json.load(open(f"{out}/torch-{i}.json")) for i in range(1, runs + 1)]
ours = [json.load(open(f"{out}/tarsier-{i}.json")) for i in range(1, runs + 1)]
t = statistics.median(r["images_per_second"] for r in ours)
p = statistics.median(r["images_per_second"] for r in torch)
print(f"decode + RandomResizedCrop(224) + flip + normalise, {torch[0]['images']} JPEGs, "
      f"{torch[0]['workers']} workers, {cores} cores, medians of {runs} runs")
print(f"torchvision (torch {torch[0]['torch']}, Pillow {torch[0]['pillow']}): {p:8.1f} images/s  runs {[round(x['images_per_second'], 1) for x in torch]}")
print(f"tarsier:                                  {t:8.1f} images/s  runs {[round(x['images_per_second'], 1) for x in ours]}")
print(f"ratio: {t / p:.2f}x")
PY
