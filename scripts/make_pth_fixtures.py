#!/usr/bin/python3
"""Writes the PyTorch-checkpoint fixtures for Tests/TarsierSupportTests (TorchStateDictTests).

Run with a Python that has torch (written with torch 1.13):  /usr/bin/python3 scripts/make_pth_fixtures.py
Good files are written by torch.save; their expected values go to pth_expected.safetensors (written
by hand below, contiguous little-endian, keys "<fixture>/<key>"). Malicious and damaged files are
crafted so that a reader which executed code or trusted offsets would misbehave.
"""
import io, json, os, pickle, struct, zipfile
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "TarsierSupportTests", "Fixtures")
os.makedirs(OUT, exist_ok=True)
torch.manual_seed(0)
expected = {}


def save(name, obj, flat):
    torch.save(obj, os.path.join(OUT, name + ".pth"))
    for k, t in flat.items():
        expected[name + "/" + k] = t.detach().contiguous().clone()


# 1. Linear + BatchNorm1d, with running statistics updated by a few training steps.
model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
model.train()
for _ in range(3):
    model(torch.randn(5, 3))
sd = model.state_dict()
save("linear_bn", sd, sd)

# 2. Dtypes, a non-contiguous (transposed) tensor, views sharing one storage, a scalar.
base = torch.arange(10, dtype=torch.float32) * 0.5 - 1.25
mixed = {
    "double": torch.tensor([[0.1, -1e300], [3.5, 2.0 ** -1074]], dtype=torch.float64),
    "transposed": (torch.arange(12, dtype=torch.float32) / 3).reshape(3, 4).t(),
    "view_a": base[2:8].view(2, 3),      # storage offset 2
    "view_b": base[1::3],                # stride 3, offset 1
    "base": base,
    "half": torch.tensor([1.0, -0.5, 65504.0], dtype=torch.float16),
    "bf16": torch.tensor([1.0, -3.0], dtype=torch.bfloat16),
    "int32": torch.tensor([-7, 2 ** 31 - 1], dtype=torch.int32),
    "uint8": torch.tensor([0, 255, 3], dtype=torch.uint8),
    "bool": torch.tensor([True, False, True]),
    "scalar": torch.tensor(2.5),
    "param": torch.nn.Parameter(torch.tensor([[1.0, 2.0]])),
}
save("mixed", mixed, mixed)
# Check that the views really share one storage in the file.
with zipfile.ZipFile(os.path.join(OUT, "mixed.pth")) as z:
    names = z.namelist()
    assert sum(1 for n in names if "/data/" in n) == len(mixed) - 2, names

# 3. A training checkpoint with the state dict nested under "state_dict".
save("checkpoint", {"epoch": 3, "state_dict": {"w": torch.tensor([1.0, 2.0])}, "lr": 0.1},
     {"w": torch.tensor([1.0, 2.0])})


# --- malicious / damaged -------------------------------------------------------------
class Evil:
    def __reduce__(self):
        return (os.system, ("echo TARSIER-PWNED",))


torch.save({"w": torch.ones(1), "x": Evil()}, os.path.join(OUT, "evil_system.pth"))  # GLOBAL 'posix system'


def pickle_zip(name, pkl, extra=None):
    with zipfile.ZipFile(os.path.join(OUT, name), "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pkl)
        z.writestr("archive/version", "3\n")
        for k, v in (extra or {}).items():
            z.writestr(k, v)


# builtins.eval through STACK_GLOBAL (protocol 4 style).
def sbu(s):
    b = s.encode()
    return b"\x8c" + bytes([len(b)]) + b
pickle_zip("evil_eval.pth", b"\x80\x04" + sbu("builtins") + sbu("eval") + b"\x93" + sbu("1+1") + b"\x85R.")
# __builtin__.getattr through GLOBAL.
pickle_zip("evil_getattr.pth", b"\x80\x02c__builtin__\ngetattr\n)R.")
# INST: an opcode that can call anything; must be refused as an opcode.
pickle_zip("evil_inst.pth", b"\x80\x02(X\x02\x00\x00\x00lsios\nsystem\n.")
# A byte that is no pickle opcode.
pickle_zip("bad_opcode.pth", b"\x80\x02}\xff.")
# A compressed (deflated) data.pkl.
good_pkl = zipfile.ZipFile(os.path.join(OUT, "checkpoint.pth")).read("checkpoint/data.pkl")
with zipfile.ZipFile(os.path.join(OUT, "compressed.pth"), "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("archive/data.pkl", good_pkl)
# A tensor whose extent reaches past its storage: shape (4,) over a 2-element storage.
pickle_zip("tensor_oob.pth",
           b"\x80\x02}(X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storage"
           b"ctorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x02tQK\x00K\x04\x85K\x01\x85"
           b"\x89ccollections\nOrderedDict\n)RtRu.",
           {"archive/data/0": struct.pack("<2f", 1.0, 2.0)})

# Truncated: the first half of a good file (the end of central directory record is gone).
raw = open(os.path.join(OUT, "linear_bn.pth"), "rb").read()
open(os.path.join(OUT, "truncated.pth"), "wb").write(raw[: len(raw) // 2])
# An entry whose local header offset points past the end of the file.
small = open(os.path.join(OUT, "checkpoint.pth"), "rb").read()
eocd = small.rfind(b"PK\x05\x06")
cd_offset = struct.unpack_from("<I", small, eocd + 16)[0]
assert small[cd_offset:cd_offset + 4] == b"PK\x01\x02"
patched = bytearray(small)
struct.pack_into("<I", patched, cd_offset + 42, len(small) + 1000)  # first entry: data.pkl
open(os.path.join(OUT, "offset_past_eof.pth"), "wb").write(bytes(patched))


# --- expected values as safetensors (hand-written) -------------------------------------
DT = {torch.float32: ("F32", "<f4"), torch.float64: ("F64", "<f8"), torch.float16: ("F16", "<f2"),
      torch.bfloat16: ("BF16", None), torch.int64: ("I64", "<i8"), torch.int32: ("I32", "<i4"),
      torch.uint8: ("U8", "u1"), torch.bool: ("BOOL", "?")}


def raw_bytes(t):
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().astype("<i2").tobytes()
    return t.numpy().astype(DT[t.dtype][1]).tobytes()


header, blob = {}, b""
for k in sorted(expected):
    t = expected[k]
    data = raw_bytes(t)
    header[k] = {"dtype": DT[t.dtype][0], "shape": list(t.shape), "data_offsets": [len(blob), len(blob) + len(data)]}
    blob += data
h = json.dumps(header, separators=(",", ":")).encode()
h += b" " * (-len(h) % 8)
open(os.path.join(OUT, "pth_expected.safetensors"), "wb").write(struct.pack("<Q", len(h)) + h + blob)
total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
print("wrote", len(os.listdir(OUT)), "files,", total, "bytes")
