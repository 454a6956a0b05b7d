#!/usr/bin/python3
"""Writes Tests/TarsierVisionTests/Fixtures/zoo_keys.json: for each torchvision model the zoo copies,
its state_dict keys with shapes (in order) and its parameter count.

Run with Debian's /usr/bin/python3 (torch 1.13, torchvision 0.14): python3 scripts/make_zoo_keys.py
"""
import json
import os

import torch
import torchvision.models as tvm

NAMES = ["alexnet", "vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn",
         "mobilenet_v2", "googlenet", "inception_v3", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]

out = {}
for name in NAMES:
    kwargs = {"init_weights": False} if name in ("googlenet", "inception_v3") else {}
    m = getattr(tvm, name)(weights=None, **kwargs)
    out[name] = {
        "parameters": sum(p.numel() for p in m.parameters()),
        "keys": [[k, list(v.shape)] for k, v in m.state_dict().items()],
    }

path = os.path.join(os.path.dirname(__file__), "..", "Tests", "TarsierVisionTests", "Fixtures", "zoo_keys.json")
with open(path, "w") as f:
    f.write("{\n")
    f.write(",\n".join(f'"{n}": {json.dumps(v, separators=(",", ":"))}' for n, v in out.items()))
    f.write("\n}\n")
