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
      MODE.logits                [2, 10]           MODE is eval, and train for the models
      MODE.loss                  []                in TRAIN_PASS (see below)
      MODE.input.grad            d loss / d input
      MODE.KEY.grad              d loss / d parameter KEY, for the parameters in metadata "grad_keys"
      train.KEY                  running_mean / running_var / num_batches_tracked after the
                                 training-mode pass, for the buffers in "running_keys"
      spread.MODE.*              F64 scalars: how far the value moves, as a fraction of its largest
                                 magnitude, when the parameters are jittered (below)
  and metadata: model, input_shape, class_count, modes, grad_keys, running_keys, ill_conditioned
  (values left out, see below), jitter, probes, torch_version, generator.

Choices, so that both sides compute the same, well-defined function:
  * num_classes=10 for every model (torchvision's constructors accept it; the logits stay small).
  * GoogLeNet and Inception v3 are built as Tarsier's zoo builds them: aux_logits=True,
    transform_input=False, init_weights=True (torchvision's default for weights=None, given
    explicitly to silence its warning).
  * Batch norms are calibrated: running statistics from two random batches, then random affine
    parameters (see calibrate_batch_norms), before the state dict is saved.
  * "eval": model.eval(): batch norm uses running statistics, dropout is off, the auxiliary heads
    do not run. "train": batch norm in training mode (batch statistics; running statistics
    updated), dropout off (its random masks cannot match) and the top-level module in eval mode,
    so GoogLeNet and Inception v3 skip their auxiliary heads as in evaluation. Only the models in
    TRAIN_PASS have a train pass (see there).
  * The expected values are PyTorch's Float32 results. Gradients of ReLU networks are only
    piecewise continuous: a ReLU input or a max-pool choice within rounding of its kink routes
    the gradient differently in another Float32 implementation and moves whole gradient tensors
    by 1e-2 or more; batch statistics over a handful of values (batch 2, 2x2 maps) amplify
    rounding too. So the script measures each value's sensitivity with PROBES passes in which
    every unit's parameters are multiplied by (1 + JITTER * N(0, 1)), stores the largest relative change
    as spread.*, and leaves out values that move by more than MAX_SPREAD (listed in
    "ill_conditioned"; e.g. the gradient of a bias that feeds a training-mode batch norm, which
    is exactly zero).
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
# Sensitivity probes: PROBES extra passes with every output unit's parameters multiplied by
# (1 + JITTER * N(0, 1)).
# JITTER moves the logits several times further than Float32 rounding does (about 1e-5 against
# 1e-6 relative), so a result that moves by more under the probes is one whose Float32 value is
# not determined to that precision here (a ReLU input or a max-pool choice within rounding of its
# kink, batch statistics of a handful of values).
PROBES = 3
JITTER = 1e-6
# Values that move by more than this fraction of their largest magnitude under the probes are not
# stored: at this input no Float32 computation can be expected to reproduce them.
MAX_SPREAD = 0.05

# The models with a training-mode pass. Without batch norm (lenet5, alexnet, vgg11..19) it would
# repeat the eval pass. ResNet-50/101/152 and Inception v3 have none: at these input sizes their
# deepest batch norms see 8 or 2 values per channel, and through 16 to 50 such layers the results
# are ill-conditioned (the probes move PyTorch's own logits or running statistics by 1e-3 to 4e-2,
# against 1e-5 in eval mode); their blocks are
# checked in eval mode, and batch norm in training mode by the models below.
TRAIN_PASS = {"resnet9s", "resnet18", "resnet34", "mobilenet_v2", "googlenet",
              "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn"}

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


def batch_norms(model):
    return [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]


def calibrate_batch_norms(model, shape, gen):
    """Gives every batch norm running statistics measured on random batches (as a trained model has)
    and random affine parameters. A fresh BN (mean 0, variance 1, weight 1, bias 0) is almost the
    identity in eval mode, so a loader that swapped two of its tensors would pass; and with
    torchvision's N(0, 0.01) GoogLeNet initialisation, unnormalised activations shrink layer by
    layer until they are constant up to rounding, which makes max-pool choices and gradients
    meaningless."""
    bns = batch_norms(model)
    if not bns:
        return
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over the calibration batches
    set_mode(model, "train")
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn(4, *shape, generator=gen))
        for m in bns:
            m.momentum = 0.1
            c = m.num_features
            m.weight.copy_(1.0 + 0.2 * torch.randn(c, generator=gen))
            m.bias.copy_(0.1 * torch.randn(c, generator=gen))


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
    """The running statistics of the first, a middle and the last batch norm that run (not the
    auxiliary heads')."""
    bns = [k for k, m in model.named_modules() if isinstance(m, nn.BatchNorm2d)
           and not k.startswith(("aux1.", "aux2.", "AuxLogits."))]
    if not bns:
        return []
    chosen = sorted({0, len(bns) // 2, len(bns) - 1})
    return [f"{bns[i]}.{b}" for i in chosen for b in ("running_mean", "running_var", "num_batches_tracked")]


def run(model, x, weights, mode, keys, jitter=None):
    """One float32 pass of a copy of `model` in `mode`, with its parameters jittered when `jitter`
    is a (scale, generator) pair; returns the tensors to store."""
    m = copy.deepcopy(model)
    if jitter:
        # One factor per output unit (row of a weight, element of a bias or BN parameter): it moves
        # every pre-activation by a relative `scale`, as per-element noise would, and costs nothing
        # for VGG's 100M-element classifier.
        scale, gen = jitter
        with torch.no_grad():
            for p in m.parameters():
                factor = 1 + scale * torch.randn(p.shape[0], generator=gen)
                p.mul_(factor.reshape([-1] + [1] * (p.dim() - 1)))
    # Gradients not stored are not computed (VGG's classifier weight gradient alone is 400 MB).
    for k, p in m.named_parameters():
        p.requires_grad_(k in keys)
    set_mode(m, mode)
    x = x.detach().clone().requires_grad_(True)
    logits = m(x)
    loss = (logits * weights).sum()
    loss.backward()
    out = {"logits": logits, "loss": loss, "input.grad": x.grad}
    params = dict(m.named_parameters())
    for k in keys:
        out[k + ".grad"] = params[k].grad
    if mode == "train":
        buffers = dict(m.named_buffers())
        for k in running_keys(m):
            out[k] = buffers[k]
    return {k: v.detach() for k, v in out.items()}


def relative_difference(a, b):
    """max |a - b| / max |b| in float64 (0 when both are all zero)."""
    a, b = a.double(), b.double()
    scale = b.abs().max().item()
    difference = (a - b).abs().max().item()
    return difference / scale if scale > 0 else difference


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
    shape = input_shape(name)
    calibrate_batch_norms(model, shape, gen)
    x = torch.randn(BATCH, *shape, generator=gen)
    weights = torch.randn(BATCH, CLASSES, generator=gen)

    state = model.state_dict()
    torch.save(state, os.path.join(out, name + ".pth"))
    save_safetensors(os.path.join(out, name + ".safetensors"), dict(state))

    keys = grad_keys(model)
    expected = {"input": x, "loss_weights": weights}
    ill_conditioned = []
    modes = ("eval", "train") if name in TRAIN_PASS else ("eval",)
    for mode in modes:
        reference = run(model, x, weights, mode, keys)
        probes = [run(model, x, weights, mode, keys, jitter=(JITTER, torch.Generator().manual_seed(SEED + 10 + i)))
                  for i in range(PROBES)]
        for k, v in reference.items():
            key = f"{mode}.{k}"
            if v.dtype == torch.int64:
                expected[key] = v
                continue
            spread = max(relative_difference(p[k], v) for p in probes)
            if spread > MAX_SPREAD:
                ill_conditioned.append(key)
                continue
            expected[key] = v
            expected["spread." + key] = torch.tensor(spread, dtype=torch.float64)
    metadata = {"model": name, "input_shape": ",".join(map(str, [BATCH] + shape)), "class_count": CLASSES,
                "modes": ",".join(modes), "grad_keys": ",".join(keys), "running_keys": ",".join(running_keys(model)),
                "ill_conditioned": ",".join(ill_conditioned), "jitter": JITTER, "probes": PROBES,
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
