#!/usr/bin/env python3
"""Generate small, deterministic PyTorch "golden" fixtures for the TarsierNN tests.

    /usr/bin/python3 scripts/make_golden.py --out Tests/TarsierNNTests/Fixtures

Writes one .safetensors file per topic (conv2d, pool, batchnorm, activations, losses,
optim, schedules, lenet5, resnet9s).  The key naming scheme of every file and the
meaning of its "__metadata__" entries are documented in
Tests/TarsierNNTests/Fixtures/README.md.

Conventions
  * Everything is computed in float64 and stored as F64, except resnet9s.safetensors
    (F32, see there) and integer tensors (class targets, num_batches_tracked: I64).
  * Scalars (losses, num_batches_tracked) are stored with shape [] (0-d).
  * Gradients are backward(grad_output) for a fixed random grad_output that is stored
    alongside (for losses: d loss / d input, i.e. upstream gradient 1).
  * Hyper-parameters are stored as "__metadata__" strings: ints as "2", floats as
    Python repr ("0.1", "1e-05"), booleans as "true"/"false", lists as "5,12,20".
  * The safetensors writer is hand-written (no `safetensors` package needed): 8-byte
    little-endian header length, JSON header with sorted keys (compact separators),
    padded with spaces to a multiple of 8, then the raw little-endian tensor bytes in
    key order.  Output is byte-for-byte reproducible for a given torch build.
"""
import argparse
import json
import math
import os
import struct
import sys
import warnings
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

D = torch.float64

# ----------------------------------------------------------------------------- safetensors I/O
_DTYPES = {
    torch.float64: ("F64", "<f8"),
    torch.float32: ("F32", "<f4"),
    torch.int64: ("I64", "<i8"),
}
_NP = {"F64": "<f8", "F32": "<f4", "I64": "<i8"}


def _meta_str(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return ",".join(_meta_str(x) for x in v)
    if isinstance(v, float):
        return repr(v)
    return str(v)


def save_safetensors(path, tensors, metadata=None):
    """tensors: dict name -> torch.Tensor (F64/F32/I64).  metadata: dict str -> scalar/list."""
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        if t.dtype not in _DTYPES:
            raise TypeError(f"{name}: unsupported dtype {t.dtype}")
        tag, npd = _DTYPES[t.dtype]
        b = t.numpy().astype(npd, copy=False).tobytes(order="C")
        header[name] = {"dtype": tag, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if metadata:
        header["__metadata__"] = {str(k): _meta_str(v) for k, v in metadata.items()}
    h = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
    h += b" " * ((-len(h)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def load_safetensors(path):
    """Minimal strict reader used to verify what was written. Returns (tensors, metadata)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    assert n % 8 == 0, "header not padded to 8"
    header = json.loads(data[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items())
    body = data[8 + n:]
    out, spans = {}, []
    for name, info in header.items():
        b, e = info["data_offsets"]
        shape = info["shape"]
        npd = np.dtype(_NP[info["dtype"]])
        assert e - b == npd.itemsize * int(np.prod(shape, dtype=np.int64)), name
        out[name] = np.frombuffer(body[b:e], dtype=npd).reshape(shape)
        spans.append((b, e))
    spans.sort()
    pos = 0
    for b, e in spans:  # contiguous, no gaps/overlaps, covers the whole body
        assert b == pos, (path, b, pos)
        pos = e
    assert pos == len(body), (path, pos, len(body))
    return out, meta


# ----------------------------------------------------------------------------- helpers
def rnd(*shape, scale=1.0):
    return torch.randn(*shape, dtype=D) * scale


def leaf(t):
    return t.detach().clone().requires_grad_(True)


# ----------------------------------------------------------------------------- 1. conv2d
CONV_CASES = [
    # name, cin, cout, k, stride, padding, dilation, groups, bias
    ("basic_3to4_k3_s1_p1_bias", 3, 4, 3, 1, 1, 1, 1, True),
    ("4to6_k3_s2_p1_nobias", 4, 6, 3, 2, 1, 1, 1, False),
    ("4to4_k3_d2_p2_g2_bias", 4, 4, 3, 1, 2, 2, 2, True),
    ("depthwise_3_k3_p1_bias", 3, 3, 3, 1, 1, 1, 3, True),
    ("lenet1_1to6_k5_p2_bias", 1, 6, 5, 1, 2, 1, 1, True),
]


def make_conv2d():
    torch.manual_seed(1001)
    T, M = {}, {"cases": len(CONV_CASES), "batch": 2, "height": 7, "width": 9}
    for i, (name, cin, cout, k, s, p, d, g, bias) in enumerate(CONV_CASES):
        pre = f"case{i}."
        conv = nn.Conv2d(cin, cout, k, stride=s, padding=p, dilation=d, groups=g, bias=bias).to(D)
        x = leaf(rnd(2, cin, 7, 9))
        y = conv(x)
        go = rnd(*y.shape)
        y.backward(go)
        T[pre + "input"] = x
        T[pre + "weight"] = conv.weight
        T[pre + "output"] = y
        T[pre + "grad_output"] = go
        T[pre + "grad_input"] = x.grad
        T[pre + "grad_weight"] = conv.weight.grad
        if bias:
            T[pre + "bias"] = conv.bias
            T[pre + "grad_bias"] = conv.bias.grad
        M.update({pre + "name": name, pre + "in_channels": cin, pre + "out_channels": cout,
                  pre + "kernel_size": k, pre + "stride": s, pre + "padding": p,
                  pre + "dilation": d, pre + "groups": g, pre + "bias": bias})
    return T, M


# ----------------------------------------------------------------------------- 2. pooling
POOL_CASES = [
    # name, op, input HxW, kwargs
    ("max_k2_s2", "max_pool2d", (8, 10), dict(kernel_size=2, stride=2, padding=0, ceil_mode=False)),
    ("max_k3_s2_p1", "max_pool2d", (8, 10), dict(kernel_size=3, stride=2, padding=1, ceil_mode=False)),
    ("max_k3_s2_ceil", "max_pool2d", (8, 10), dict(kernel_size=3, stride=2, padding=0, ceil_mode=True)),
    ("avg_k2_s2", "avg_pool2d", (8, 10), dict(kernel_size=2, stride=2, padding=0, ceil_mode=False,
                                               count_include_pad=True)),
    ("avg_k3_s2_p1_excl", "avg_pool2d", (8, 10), dict(kernel_size=3, stride=2, padding=1, ceil_mode=False,
                                                       count_include_pad=False)),
    ("avg_k3_s2_p1_incl", "avg_pool2d", (8, 10), dict(kernel_size=3, stride=2, padding=1, ceil_mode=False,
                                                       count_include_pad=True)),
    ("adaptive_avg_1x1", "adaptive_avg_pool2d", (7, 7), dict(output_size=1)),
    ("adaptive_avg_3x3", "adaptive_avg_pool2d", (7, 7), dict(output_size=3)),
    ("adaptive_max_1x1", "adaptive_max_pool2d", (7, 7), dict(output_size=1)),
    ("adaptive_max_1x1_from3x3", "adaptive_max_pool2d", (3, 3), dict(output_size=1)),
]


def make_pool():
    torch.manual_seed(1002)
    T, M = {}, {"cases": len(POOL_CASES)}
    for i, (name, op, (h, w), kw) in enumerate(POOL_CASES):
        pre = f"case{i}."
        x = leaf(rnd(2, 3, h, w))  # continuous random doubles: no ties
        fn = getattr(F, op)
        y = fn(x, **kw)
        go = rnd(*y.shape)
        y.backward(go)
        T[pre + "input"] = x
        T[pre + "output"] = y
        T[pre + "grad_output"] = go
        T[pre + "grad_input"] = x.grad
        M[pre + "name"] = name
        M[pre + "op"] = op
        for k, v in kw.items():
            M[pre + k] = v
    return T, M


# ----------------------------------------------------------------------------- 3. batchnorm
def _bn_case(T, pre, bn_cls, C, xshape, train):
    bn = bn_cls(C, eps=1e-5, momentum=0.1).to(D)
    with torch.no_grad():
        bn.weight.copy_(1.0 + 0.5 * rnd(C))
        bn.bias.copy_(0.5 * rnd(C))
        bn.running_mean.copy_(0.3 * rnd(C))
        bn.running_var.copy_(torch.rand(C, dtype=D) + 0.5)
        bn.num_batches_tracked.fill_(5)
    x = leaf(1.5 * rnd(*xshape) + 0.7)
    T[pre + "input"] = x
    T[pre + "weight"] = bn.weight.detach().clone()
    T[pre + "bias"] = bn.bias.detach().clone()
    T[pre + "running_mean"] = bn.running_mean.clone()
    T[pre + "running_var"] = bn.running_var.clone()
    T[pre + "num_batches_tracked"] = bn.num_batches_tracked.clone()
    bn.train(train)
    y = bn(x)
    go = rnd(*y.shape)
    y.backward(go)
    T[pre + "output"] = y
    T[pre + "grad_output"] = go
    T[pre + "grad_input"] = x.grad
    T[pre + "grad_weight"] = bn.weight.grad
    T[pre + "grad_bias"] = bn.bias.grad
    if train:
        dims = [d for d in range(x.dim()) if d != 1]
        T[pre + "batch_mean"] = x.detach().mean(dims)
        T[pre + "batch_var_biased"] = x.detach().var(dims, unbiased=False)
        T[pre + "running_mean_after"] = bn.running_mean.clone()
        T[pre + "running_var_after"] = bn.running_var.clone()
        T[pre + "num_batches_tracked_after"] = bn.num_batches_tracked.clone()


def make_batchnorm():
    torch.manual_seed(1003)
    T = {}
    M = {"eps": 1e-5, "momentum": 0.1,
         "train2d.module": "BatchNorm2d", "train2d.mode": "train", "train2d.num_features": 3,
         "eval2d.module": "BatchNorm2d", "eval2d.mode": "eval", "eval2d.num_features": 3,
         "train1d.module": "BatchNorm1d", "train1d.mode": "train", "train1d.num_features": 5,
         "eval1d.module": "BatchNorm1d", "eval1d.mode": "eval", "eval1d.num_features": 5}
    _bn_case(T, "train2d.", nn.BatchNorm2d, 3, (4, 3, 5, 6), True)
    _bn_case(T, "eval2d.", nn.BatchNorm2d, 3, (4, 3, 5, 6), False)
    _bn_case(T, "train1d.", nn.BatchNorm1d, 5, (6, 5), True)
    _bn_case(T, "eval1d.", nn.BatchNorm1d, 5, (6, 5), False)
    return T, M


# ----------------------------------------------------------------------------- 4. activations
ACTS = [
    ("relu", "relu", lambda x: F.relu(x), {}),
    ("leaky_relu_a", "leaky_relu", lambda x: F.leaky_relu(x, 0.01), {"negative_slope": 0.01}),
    ("leaky_relu_b", "leaky_relu", lambda x: F.leaky_relu(x, 0.2), {"negative_slope": 0.2}),
    ("sigmoid", "sigmoid", torch.sigmoid, {}),
    ("tanh", "tanh", torch.tanh, {}),
    ("gelu", "gelu", lambda x: F.gelu(x), {"approximate": "none"}),
    ("gelu_tanh", "gelu", lambda x: F.gelu(x, approximate="tanh"), {"approximate": "tanh"}),
    ("softmax", "softmax", lambda x: F.softmax(x, dim=-1), {"dim": -1}),
    ("log_softmax", "log_softmax", lambda x: F.log_softmax(x, dim=-1), {"dim": -1}),
]


def make_activations():
    torch.manual_seed(1004)
    x0 = 2.0 * rnd(3, 4, 5)
    go = rnd(3, 4, 5)
    T, M = {"input": x0, "grad_output": go}, {}
    for name, op, fn, kw in ACTS:
        x = leaf(x0)
        y = fn(x)
        y.backward(go)
        T[name + ".output"] = y
        T[name + ".grad_input"] = x.grad
        M[name + ".op"] = op
        for k, v in kw.items():
            M[name + "." + k] = v
    return T, M


# ----------------------------------------------------------------------------- 5. losses
def make_losses():
    torch.manual_seed(1005)
    N, C = 5, 4
    logits = 1.5 * rnd(N, C)
    targets = torch.tensor([2, 0, 3, 1, 2], dtype=torch.int64)
    cw = torch.tensor([0.5, 1.0, 2.0, 1.5], dtype=D)
    logp = F.log_softmax(logits, dim=1)
    bce_logits = 1.5 * rnd(N, C)
    bce_target = (torch.rand(N, C, dtype=D) < 0.5).to(D)
    pos_weight = torch.tensor([1.0, 2.0, 0.5, 3.0], dtype=D)
    mse_in, mse_tg = rnd(N, C), rnd(N, C)
    T, M = {}, {}

    def case(name, op, inp, tgt, fn, *, weight=None, pos_w=None, class_target=False, **meta):
        x = leaf(inp)
        loss = fn(x)
        loss.backward()
        assert loss.dim() == 0
        T[name + ".input"] = x
        T[name + ".target"] = tgt
        if class_target:
            T[name + ".target_f64"] = tgt.to(D)
        if weight is not None:
            T[name + ".weight"] = weight
        if pos_w is not None:
            T[name + ".pos_weight"] = pos_w
        T[name + ".loss"] = loss
        T[name + ".grad_input"] = x.grad
        M[name + ".op"] = op
        for k, v in meta.items():
            M[name + "." + k] = v

    case("ce", "cross_entropy", logits, targets, lambda x: F.cross_entropy(x, targets),
         class_target=True, reduction="mean", label_smoothing=0.0)
    case("ce_sum", "cross_entropy", logits, targets,
         lambda x: F.cross_entropy(x, targets, reduction="sum"),
         class_target=True, reduction="sum", label_smoothing=0.0)
    case("ce_ls", "cross_entropy", logits, targets,
         lambda x: F.cross_entropy(x, targets, label_smoothing=0.1),
         class_target=True, reduction="mean", label_smoothing=0.1)
    case("ce_w", "cross_entropy", logits, targets, lambda x: F.cross_entropy(x, targets, weight=cw),
         weight=cw, class_target=True, reduction="mean", label_smoothing=0.0)
    case("ce_w_ls", "cross_entropy", logits, targets,
         lambda x: F.cross_entropy(x, targets, weight=cw, label_smoothing=0.1),
         weight=cw, class_target=True, reduction="mean", label_smoothing=0.1)
    case("nll", "nll_loss", logp, targets, lambda x: F.nll_loss(x, targets),
         class_target=True, reduction="mean")
    case("nll_w", "nll_loss", logp, targets, lambda x: F.nll_loss(x, targets, weight=cw),
         weight=cw, class_target=True, reduction="mean")
    case("bce_logits", "binary_cross_entropy_with_logits", bce_logits, bce_target,
         lambda x: F.binary_cross_entropy_with_logits(x, bce_target), reduction="mean")
    case("bce_logits_pw", "binary_cross_entropy_with_logits", bce_logits, bce_target,
         lambda x: F.binary_cross_entropy_with_logits(x, bce_target, pos_weight=pos_weight),
         pos_w=pos_weight, reduction="mean")
    case("mse", "mse_loss", mse_in, mse_tg, lambda x: F.mse_loss(x, mse_tg), reduction="mean")
    return T, M


# ----------------------------------------------------------------------------- 6. optimizers
OPT_CASES = [
    ("sgd", torch.optim.SGD, dict(lr=0.1)),
    ("sgd_momentum", torch.optim.SGD, dict(lr=0.1, momentum=0.9)),
    ("sgd_nesterov_wd", torch.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2)),
    ("sgd_momentum_wd", torch.optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.0, weight_decay=5e-4)),
    ("adam", torch.optim.Adam, dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8)),
    ("adam_wd", torch.optim.Adam, dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2)),
    ("adamw", torch.optim.AdamW, dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2)),
    ("adam_amsgrad", torch.optim.Adam, dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, amsgrad=True)),
]
OPT_SHAPES = [(3, 4), (4,)]
OPT_STEPS = 3


def make_optim():
    torch.manual_seed(1006)
    init = [rnd(*s) for s in OPT_SHAPES]
    grads = [[rnd(*s) for s in OPT_SHAPES] for _ in range(OPT_STEPS)]
    T = {f"params.init.{i}": p for i, p in enumerate(init)}
    for k in range(OPT_STEPS):
        for i, g in enumerate(grads[k]):
            T[f"grads.step{k}.{i}"] = g
    M = {"steps": OPT_STEPS, "num_params": len(OPT_SHAPES)}
    for name, cls, kw in OPT_CASES:
        ps = [nn.Parameter(p.clone()) for p in init]
        opt = cls(ps, **kw)
        full = dict(opt.defaults)
        for k in range(OPT_STEPS):
            for p, g in zip(ps, grads[k]):
                p.grad = g.clone()
            opt.step()
            for i, p in enumerate(ps):
                T[f"{name}.params.step{k}.{i}"] = p.detach().clone()
                for sk, sv in opt.state[p].items():
                    if sk == "step" or sv is None:
                        continue
                    T[f"{name}.state.step{k}.{i}.{sk}"] = sv.detach().clone()
        M[name + ".optimizer"] = cls.__name__
        for key in ("lr", "momentum", "dampening", "nesterov", "weight_decay", "betas", "eps", "amsgrad",
                    "maximize"):
            if key in full:
                v = full[key]
                if key in ("lr", "momentum", "dampening", "weight_decay", "eps"):
                    v = float(v)  # uniform "0.0"-style floats
                elif key == "betas":
                    v = tuple(float(b) for b in v)
                M[f"{name}.{key}"] = v
    return T, M


# ----------------------------------------------------------------------------- 7. LR schedules
SCHED_STEPS = 30
SCHED_BASE_LR = 0.1


def _record(make_sched, momentum=0.0, steps=SCHED_STEPS):
    p = nn.Parameter(torch.zeros(1, dtype=D))
    opt = torch.optim.SGD([p], lr=SCHED_BASE_LR, momentum=momentum)
    sched = make_sched(opt)
    lrs, moms = [], []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        moms.append(opt.param_groups[0]["momentum"])
        opt.step()
        sched.step()
    return torch.tensor(lrs, dtype=D), torch.tensor(moms, dtype=D)


def make_schedules():
    L = torch.optim.lr_scheduler
    T, M = {}, {"steps": SCHED_STEPS, "base_lr": SCHED_BASE_LR}

    def add(name, sched, make, momentum=0.0, record_mom=False, **meta):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lr, mom = _record(make, momentum)
        T[name + ".lr"] = lr
        if record_mom:
            T[name + ".momentum"] = mom
        M[name + ".scheduler"] = sched
        for k, v in meta.items():
            M[name + "." + k] = v

    add("step", "StepLR", lambda o: L.StepLR(o, step_size=7, gamma=0.5), step_size=7, gamma=0.5)
    add("multistep", "MultiStepLR", lambda o: L.MultiStepLR(o, milestones=[5, 12, 20], gamma=0.1),
        milestones=[5, 12, 20], gamma=0.1)
    add("cosine", "CosineAnnealingLR", lambda o: L.CosineAnnealingLR(o, T_max=30), T_max=30, eta_min=0.0)
    for strat in ("linear", "cos"):
        for three in (False, True):
            nm = f"onecycle_{strat}" + ("_3phase" if three else "")
            add(nm, "OneCycleLR",
                lambda o, s=strat, t=three: L.OneCycleLR(o, max_lr=0.2, total_steps=30, pct_start=0.25,
                                                         anneal_strategy=s, three_phase=t),
                momentum=0.9, record_mom=True, max_lr=0.2, total_steps=30, pct_start=0.25,
                anneal_strategy=strat, three_phase=three, div_factor=25.0, final_div_factor=1e4,
                cycle_momentum=True, base_momentum=0.85, max_momentum=0.95)
    add("warmup_cosine", "SequentialLR",
        lambda o: L.SequentialLR(o, [L.LinearLR(o, start_factor=0.1, end_factor=1.0, total_iters=5),
                                     L.CosineAnnealingLR(o, T_max=25, eta_min=0.0)], milestones=[5]),
        milestones=[5], **{"s0.scheduler": "LinearLR", "s0.start_factor": 0.1, "s0.end_factor": 1.0,
                           "s0.total_iters": 5, "s1.scheduler": "CosineAnnealingLR", "s1.T_max": 25,
                           "s1.eta_min": 0.0})
    return T, M


# ----------------------------------------------------------------------------- 8. models
def lenet5():
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                         nn.Linear(84, 10))


# copied from /work/shared/anchors/fmnist_tta.py (same module structure => same state_dict keys)
def cbr(ci, co, stride=1):
    return nn.Sequential(nn.Conv2d(ci, co, 3, stride, 1, bias=False), nn.BatchNorm2d(co), nn.ReLU(inplace=True))


class Res(nn.Module):
    def __init__(self, c):
        super().__init__(); self.a = cbr(c, c); self.b = cbr(c, c)

    def forward(self, x):
        return x + self.b(self.a(x))


class Mul(nn.Module):
    def __init__(self, s):
        super().__init__(); self.s = s

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
    layers += [nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(ci, 10, bias=False), Mul(0.125)]
    return nn.Sequential(*layers)


def _model_fixture(model, x, store_dtype, param_grads=True):
    """Eval-mode forward of `model` (already float64) on x (float64); grads of sum(output)."""
    model.eval()
    x = leaf(x)
    y = model(x)
    y.sum().backward()
    T = OrderedDict()
    for k, v in model.state_dict().items():
        T[k] = v.detach().clone() if v.dtype == torch.int64 else v.detach().to(store_dtype)
    T["input"] = x.detach().to(store_dtype)
    T["output"] = y.detach().to(store_dtype)
    T["input.grad"] = x.grad.to(store_dtype)
    if param_grads:
        for k, p in model.named_parameters():
            T[k + ".grad"] = p.grad.to(store_dtype)
    return T


def make_lenet5():
    torch.manual_seed(1008)
    model = lenet5().to(D)
    x = rnd(2, 1, 28, 28)
    T = _model_fixture(model, x, D)
    M = {"model": "lenet5", "mode": "eval", "dtype": "F64", "loss": "sum(output)",
         "input_shape": [2, 1, 28, 28]}
    return T, M


def make_resnet9s(param_grads=True):
    torch.manual_seed(1009)
    model = resnet9s((32, 64, 128))
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                C = m.num_features
                m.weight.copy_(1.0 + 0.2 * torch.randn(C))
                m.bias.copy_(0.1 * torch.randn(C))
                m.running_mean.copy_(0.2 * torch.randn(C))
                m.running_var.copy_(0.5 + torch.rand(C))
                m.num_batches_tracked.fill_(100)
    # Round every parameter/buffer to float32 first (that is what is stored), then compute the
    # reference in float64 from exactly those values and round the results to float32.
    x32 = torch.randn(2, 1, 28, 28)
    model = model.float().to(D)
    T = _model_fixture(model, x32.to(D), torch.float32, param_grads=param_grads)
    M = {"model": "resnet9s", "widths": [32, 64, 128], "mode": "eval", "dtype": "F32",
         "compute_dtype": "F64", "loss": "sum(output)", "input_shape": [2, 1, 28, 28],
         "bn_eps": 1e-5, "param_grads": param_grads}
    return T, M


# ----------------------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="Tests/TarsierNNTests/Fixtures")
    ap.add_argument("--only", nargs="*", help="subset of fixture names (default: all)")
    ap.add_argument("--no-resnet9s-param-grads", action="store_true",
                    help="omit the <key>.grad tensors from resnet9s.safetensors (saves ~1.9 MB)")
    args = ap.parse_args()

    torch.set_num_threads(1)  # bitwise reproducible reductions
    torch.use_deterministic_algorithms(True)
    os.makedirs(args.out, exist_ok=True)

    gens = OrderedDict([
        ("conv2d", make_conv2d), ("pool", make_pool), ("batchnorm", make_batchnorm),
        ("activations", make_activations), ("losses", make_losses), ("optim", make_optim),
        ("schedules", make_schedules), ("lenet5", make_lenet5),
        ("resnet9s", lambda: make_resnet9s(not args.no_resnet9s_param_grads)),
    ])
    names = args.only or list(gens)
    common = {"generator": "scripts/make_golden.py", "torch_version": torch.__version__}
    total = 0
    print(f"torch {torch.__version__}  ->  {args.out}")
    for name in names:
        T, M = gens[name]()
        meta = dict(common)
        meta.update(M)
        path = os.path.join(args.out, name + ".safetensors")
        save_safetensors(path, T, meta)
        # verify: re-read and compare bit-for-bit
        R, RM = load_safetensors(path)
        assert set(R) == set(T), name
        for k, t in T.items():
            a = t.detach().cpu().numpy()
            assert R[k].shape == a.shape and R[k].dtype == a.dtype.newbyteorder("<"), k
            assert np.array_equal(R[k], a), k
            if a.dtype.kind == "f":
                assert np.isfinite(a).all(), k
        assert RM == {k: _meta_str(v) for k, v in meta.items()}
        size = os.path.getsize(path)
        total += size
        dt = sorted({str(v.dtype).replace("torch.", "") for v in T.values()})
        print(f"  {name + '.safetensors':26s} {size:>9,d} B  {len(T):4d} tensors  {len(meta):3d} metadata  "
              f"dtypes={','.join(dt)}")
    print(f"  {'total':26s} {total:>9,d} B")


if __name__ == "__main__":
    main()
