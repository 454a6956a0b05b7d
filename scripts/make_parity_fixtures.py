#!/usr/bin/python3
"""Writes the fixtures of Tests/TarsierVisionTests/TorchParityTests.swift: for each zoo model, a
torchvision (or, for lenet5 and resnet9s, scripts/make_golden.py's) randomly initialised model as
PyTorch would save it, and the logits and gradients PyTorch computes from it.

    /usr/bin/python3 scripts/make_parity_fixtures.py --model resnet18 --out /tmp/parity
    /usr/bin/python3 scripts/make_parity_fixtures.py --model all --out /tmp/parity

Written for Debian's torch 1.13 / torchvision 0.14. For each model NAME it writes to --out:

  NAME.pth                 torch.save(model.state_dict()) (the default zip format)
  NAME.safetensors         the same tensors (F32; num_batches_tracked I64), written by hand below
  NAME_expected.safetensors
      input                      [2, C, S, S] F32, the batch both sides run
      loss_weights               [2, 10] F32; the loss is sum(logits * loss_weights)
      {eval,train}.logits        [2, 10]
      {eval,train}.loss          []
      {eval,train}.input.grad    d loss / d input
      {eval,train}.KEY.grad      d loss / d parameter KEY, for the parameters listed in the
                                 metadata "grad_keys" (comma-separated)
      train.KEY                  BN running_mean / running_var / num_batches_tracked after the
                                 training-mode pass, for the BN buffers in "running_keys"
      torch32.{eval,train}.*     logits and gradients as PyTorch computes them in float32 (the
                                 reference for how far Float32 arithmetic alone moves the result)
  and metadata: model, input_shape, class_count, grad_keys, running_keys, torch_version, generator.

Choices, so that both sides compute exactly the same function:
  * num_classes=10 for every model (torchvision's constructors accept it; the logits stay small).
  * GoogLeNet and Inception v3 are built as Tarsier's zoo builds them: aux_logits=True,
    transform_input=False, init_weights=True (torchvision's default for weights=None, given
    explicitly to silence its warning).
  * Batch-norm layers get random affine parameters and running statistics (and a non-zero
    num_batches_tracked) before saving: a fresh BN has mean 0 / variance 1 / weight 1 / bias 0, so
    in eval mode it is almost the identity and a loader that swapped two of its tensors would pass.
  * The expected values are computed in float64 from the float32 weights and input that are
    stored, then rounded to float32: they are the exact answer for the stored model, so the test
    measures Tarsier's Float32 error alone. torch32.* gives PyTorch's own Float32 error beside it.
  * "eval": model.eval(), so batch norm uses running statistics, dropout is off and the auxiliary
    heads do not run. "train": batch norm in training mode (batch statistics; the running
    statistics are updated), dropout off (its random masks cannot match) and the top-level module
    in eval mode, so GoogLeNet and Inception v3 skip their auxiliary heads as in evaluation.
  * Input sizes are the smallest sensible ones (debug-build tests run them): 28x28x1 for lenet5
    and resnet9s, 75x75 for inception_v3 (torchvision's minimum), 96x96 for alexnet (its last
    feature map is then 2x2, so the adaptive 6x6 pool averages overlapping windows), 64x64 for the
    rest.
"""
import argparse
import copy
import json
import os
import struct
import sys

import torch
import torch.nn as nn
import torchvision.models as tvm

CLASSES = 10
SEED = 20240605
BATCH = 2
# Larger gradient tensors are not stored (VGG's 25088x4096 classifier layer would be 400 MB).
MAX_GRAD_ELEMENTS = 1 << 21

RESNETS = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]
VGGS = ["vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn"]
NAMES = ["resnet9s", "lenet5"] + RESNETS + ["alexnet"] + VGGS + ["mobilenet_v2", "googlenet", "inception_v3"]


# ----------------------------------------------------------------------------- models
# lenet5 and resnet9s as in scripts/make_golden.py (the same module structure gives the same keys).
def lenet5():
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                         nn.Linear(84, CLASSES))


def cbr(ci, co, stride=1):
    return nn.Sequential(nn.Conv2d(ci, co, 3, stride, 1, bias=False), nn.BatchNorm2d(co), nn.ReLU(inplace=True))


class Res(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.a = cbr(c, c)
        self.b = cbr(c, c)

    def forward(self, x):
        return x + self.b(self.a(x))


class Mul(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.s = s

    def forward(self, x):
        return x * self.s


def resnet9s(w=(32, 64, 128), res=(False, True, True)):
    c0 = w[0] // 2 if w[0] >= 32 else w[0]
    layers = [cbr(1, c0)]
    ci = c0
    for i, c in enumerate(w):
        layers += [nn.Conv2d(ci, c, 3, 1, 1, bias=False), nn.MaxPool2d(2), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
        if res[i]:
            layers.append(Res(c))
        ci = c
    layers += [nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(ci, CLASSES, bias=False), Mul(0.125)]
    return nn.Sequential(*layers)


def build(name):
    """The model, float32, freshly initialised from torch's global generator."""
    if name == "lenet5":
        return lenet5()
    if name == "resnet9s":
        return resnet9s()
    if name in ("googlenet", "inception_v3"):
        return getattr(tvm, name)(weights=None, num_classes=CLASSES, aux_logits=True, transform_input=False,
                                  init_weights=True)
    return getattr(tvm, name)(weights=None, num_classes=CLASSES)


def input_shape(name):
    if name in ("lenet5", "resnet9s"):
        return [1, 28, 28]
    if name == "inception_v3":
        return [3, 75, 75]
    if name == "alexnet":
        return [3, 96, 96]
    return [3, 64, 64]


def perturb_batch_norms(model, gen):
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(1.0 + 0.2 * torch.randn(c, generator=gen))
                m.bias.copy_(0.1 * torch.randn(c, generator=gen))
                m.running_mean.copy_(0.1 * torch.randn(c, generator=gen))
                m.running_var.copy_(0.75 + 0.5 * torch.rand(c, generator=gen))
                m.num_batches_tracked.fill_(7)


def set_mode(model, mode):
    """eval: model.eval(). train: BN in training mode, dropout off, top-level module in eval mode."""
    model.eval()
    if mode == "train":
        for child in model.children():
            child.train()
        for m in model.modules():
            if isinstance(m, nn.Dropout):
                m.eval()


def grad_keys(model):
    """All parameters of small models; otherwise the first two, three around the middle and the last
    two (the classifier), skipping any over MAX_GRAD_ELEMENTS and the auxiliary heads (which never
    run here, so they have no gradient)."""
    named = [(k, p) for k, p in model.named_parameters()
             if not k.startswith(("aux1.", "aux2.", "AuxLogits."))]
    if sum(p.numel() for _, p in named) <= 1_000_000:
        return [k for k, _ in named]
    n = len(named)
    picks = [0, 1, n // 2 - 1, n // 2, n // 2 + 1, n - 2, n - 1]
    keys = []
    for i in picks:
        # Walk back from an oversized tensor to the nearest one that fits.
        while i > 0 and (named[i][1].numel() > MAX_GRAD_ELEMENTS or named[i][0] in keys):
            i -= 1
        if named[i][0] not in keys and named[i][1].numel() <= MAX_GRAD_ELEMENTS:
            keys.append(named[i][0])
    return keys


def running_keys(model):
    """The first, a middle and the last batch norm's running statistics."""
    bns = [k for k, m in model.named_modules() if isinstance(m, nn.BatchNorm2d)]
    if not bns:
        return []
    chosen = sorted({0, len(bns) // 2, len(bns) - 1})
    return [f"{bns[i]}.{b}" for i in chosen for b in ("running_mean", "running_var", "num_batches_tracked")]


def run(model, x32, weights, mode, keys, dtype):
    """One pass of `model` (converted to dtype) in `mode`; returns the tensors to store."""
    m = copy.deepcopy(model).to(dtype)
    set_mode(m, mode)
    x = x32.detach().to(dtype).clone().requires_grad_(True)
    logits = m(x)
    loss = (logits * weights.to(dtype)).sum()
    loss.backward()
    out = {"logits": logits, "loss": loss, "input.grad": x.grad}
    params = dict(m.named_parameters())
    for k in keys:
        out[k + ".grad"] = params[k].grad
    if mode == "train":
        buffers = dict(m.named_buffers())
        for k in running_keys(m):
            out[k] = buffers[k]
    return out


# ----------------------------------------------------------------------------- safetensors
_DTYPES = {torch.float32: ("F32", "<f4"), torch.float64: ("F64", "<f8"), torch.int64: ("I64", "<i8")}


def save_safetensors(path, tensors, metadata=None):
    """8-byte little-endian header length, JSON header {name: {dtype, shape, data_offsets}} padded
    with spaces to a multiple of 8, then the raw little-endian data in header order."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        tag, npd = _DTYPES[t.dtype]
        b = t.numpy().astype(npd, copy=False).tobytes(order="C")
        header[name] = {"dtype": tag, "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    h = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
    h += b" " * ((-len(h)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


# ----------------------------------------------------------------------------- main
def make(name, out):
    torch.manual_seed(SEED)
    model = build(name)
    # A separate stream for everything after construction, so it does not depend on how many
    # values the constructor drew.
    gen = torch.Generator().manual_seed(SEED + 1)
    perturb_batch_norms(model, gen)
    shape = [BATCH] + input_shape(name)
    x32 = torch.randn(*shape, generator=gen)
    weights = torch.randn(BATCH, CLASSES, generator=gen)

    state = model.state_dict()
    torch.save(state, os.path.join(out, name + ".pth"))
    save_safetensors(os.path.join(out, name + ".safetensors"), dict(state))

    keys = grad_keys(model)
    expected = {"input": x32, "loss_weights": weights}
    for mode in ("eval", "train"):
        for k, v in run(model, x32, weights, mode, keys, torch.float64).items():
            expected[f"{mode}.{k}"] = v if v.dtype == torch.int64 else v.float()
        for k, v in run(model, x32, weights, mode, keys, torch.float32).items():
            if v.dtype != torch.int64:
                expected[f"torch32.{mode}.{k}"] = v
    metadata = {"model": name, "input_shape": ",".join(map(str, shape)), "class_count": CLASSES,
                "grad_keys": ",".join(keys), "running_keys": ",".join(running_keys(model)),
                "torch_version": torch.__version__, "generator": "scripts/make_parity_fixtures.py"}
    save_safetensors(os.path.join(out, name + "_expected.safetensors"), expected, metadata)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="a zoo model name, or 'all'")
    ap.add_argument("--out", required=True, help="output folder (created if missing)")
    args = ap.parse_args()
    names = NAMES if args.model == "all" else [args.model]
    unknown = [n for n in names if n not in NAMES]
    if unknown:
        sys.exit(f"unknown model {unknown[0]!r}; known: {', '.join(NAMES)}")
    os.makedirs(args.out, exist_ok=True)
    torch.use_deterministic_algorithms(True)
    for name in names:
        make(name, args.out)


if __name__ == "__main__":
    main()
