#!/usr/bin/python3
"""Writes Tests/TarsierImageTests/Fixtures/transform_golden.json: small deterministic test images
and what torchvision's functional transforms (on PIL images) make of them, for TransformGoldenTests.

Run with the system Python that has torch 1.13, torchvision 0.14 and Pillow 9.4:

    /usr/bin/python3 scripts/make_transform_golden.py

Images and samples are stored as base64 of their raw bytes (uint8, or little-endian uint16 for
16-bit images, little-endian float32 for tensors) to keep the file small.
"""
import base64
import json
import math
import os
import sys
import warnings

import numpy as np
import PIL
import torch
import torchvision
from PIL import Image
from torchvision.transforms import InterpolationMode
from torchvision.transforms import autoaugment
from torchvision.transforms import functional as F

warnings.filterwarnings("ignore")

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "TarsierImageTests", "Fixtures",
                   "transform_golden.json")
MODES = {"L": "gray", "LA": "grayAlpha", "RGB": "rgb", "RGBA": "rgba", "I;16": "gray"}
INTERPOLATION = {"nearest": InterpolationMode.NEAREST, "bilinear": InterpolationMode.BILINEAR,
                 "bicubic": InterpolationMode.BICUBIC}


def b64(array):
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


def encode(image):
    """An Image as {width, height, format, bits, data}."""
    if image.mode == "I;16":
        data = np.asarray(image, dtype=np.uint16).astype("<u2")
        bits = 16
    else:
        data = np.asarray(image, dtype=np.uint8)
        bits = 8
    return {"width": image.width, "height": image.height, "format": MODES[image.mode], "bits": bits,
            "data": b64(data)}


def encode_tensor(tensor):
    array = tensor.detach().numpy().astype("<f4")
    return {"shape": list(array.shape), "data": b64(array)}


def make_inputs():
    rng = np.random.default_rng(20240611)
    h, w = 29, 37
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    # Smooth gradients per channel plus noise: edges and flat areas for the filters to get wrong.
    base = np.stack([255 * x / (w - 1), 255 * y / (h - 1), 127.5 + 127.5 * np.sin((x + y) / 6.0)], axis=-1)
    noise = rng.normal(0, 18, size=(h, w, 3))
    rgb = np.clip(np.rint(base + noise), 0, 255).astype(np.uint8)
    rgb[10:14, 20:26] = (250, 10, 128)  # a saturated block for the hue and colour paths
    gray = np.clip(np.rint(0.5 * base[..., 0] + 0.5 * base[..., 1] + noise[..., 0]), 0, 255).astype(np.uint8)
    low = (rgb.astype(np.int32) // 3 + 70).astype(np.uint8)  # low contrast, for autocontrast/equalize
    alpha = np.clip(np.rint(255 * (0.2 + 0.8 * x / (w - 1)) * (y < 25)), 0, 255).astype(np.uint8)
    rgba = np.dstack([rgb, alpha])[:17, :23]
    gray16 = np.clip(np.rint(257 * (0.5 * base[..., 0] + 0.5 * base[..., 2]) + 40 * noise[..., 1]), 0, 65535)
    gray16 = gray16.astype(np.uint16)[:17, :23]
    return {
        "rgb": Image.fromarray(rgb, "RGB"),
        "small": Image.fromarray(np.ascontiguousarray(rgb[6:23, 8:31]), "RGB"),
        "gray": Image.fromarray(gray, "L"),
        "low": Image.fromarray(low, "RGB"),
        "rgba": Image.fromarray(rgba, "RGBA"),
        "gray16": Image.fromarray(gray16.astype("<u2"), "I;16"),
    }


def main():
    images = make_inputs()
    cases = []

    def case(op, source, params, output):
        entry = {"op": op, "input": source, "params": params}
        if isinstance(output, torch.Tensor):
            entry["tensor"] = encode_tensor(output)
        else:
            entry["output"] = encode(output)
        cases.append(entry)

    # Resize: down 3.7x, down 1.5x, up 2x, non-uniform; every interpolation.
    # (Upscaling uses the small image to keep the fixture small.)
    sizes = [("rgb", 8, 10), ("rgb", 19, 25), ("small", 34, 46), ("rgb", 40, 15),
             ("gray", 8, 10), ("gray", 19, 25), ("gray", 40, 15)]
    for source, h, w in sizes:
        for name, mode in INTERPOLATION.items():
            out = F.resize(images[source], [h, w], interpolation=mode)
            case("resize", source, {"height": h, "width": w, "interpolation": name}, out)
    for name in ("bilinear", "bicubic"):
        case("resize", "rgba", {"height": 7, "width": 9, "interpolation": name},
             F.resize(images["rgba"], [7, 9], interpolation=INTERPOLATION[name]))
    # Shorter-side sizes, with and without max_size.
    case("resizeShorter", "rgb", {"size": 20, "interpolation": "bilinear"}, F.resize(images["rgb"], 20))
    case("resizeShorter", "rgb", {"size": 20, "maxSize": 24, "interpolation": "bilinear"},
         F.resize(images["rgb"], 20, max_size=24))
    case("resizeShorter", "gray", {"size": 33, "interpolation": "bicubic"},
         F.resize(images["gray"], 33, interpolation=InterpolationMode.BICUBIC))

    # Centre crops: smaller, larger (zero padded), mixed.
    for (h, w) in ((10, 12), (31, 45), (29, 20), (14, 40)):
        case("centerCrop", "rgb", {"height": h, "width": w}, F.center_crop(images["rgb"], [h, w]))

    # Resized crops of a given box.
    for name, mode in INTERPOLATION.items():
        case("resizedCrop", "rgb", {"top": 3, "left": 5, "height": 17, "width": 21, "outHeight": 13,
                                    "outWidth": 11, "interpolation": name},
             F.resized_crop(images["rgb"], 3, 5, 17, 21, [13, 11], interpolation=mode))
    case("resizedCrop", "gray", {"top": 0, "left": 2, "height": 29, "width": 30, "outHeight": 40, "outWidth": 7,
                                 "interpolation": "bilinear"},
         F.resized_crop(images["gray"], 0, 2, 29, 30, [40, 7]))

    # Padding modes (what RandomCrop's padding uses).
    for mode in ("constant", "edge", "reflect", "symmetric"):
        fill = [7, 100, 250] if mode == "constant" else 0
        case("pad", "small", {"left": 3, "top": 2, "right": 5, "bottom": 1, "mode": mode,
                            "fill": fill if isinstance(fill, list) else [fill]},
             F.pad(images["small"], [3, 2, 5, 1], fill=tuple(fill) if isinstance(fill, list) else fill,
                   padding_mode=mode))
    case("pad", "gray16", {"left": 30, "top": 1, "right": 2, "bottom": 20, "mode": "reflect", "fill": [0]},
         F.pad(images["gray16"], [30, 1, 2, 20], padding_mode="reflect"))
    case("pad", "gray16", {"left": 25, "top": 18, "right": 0, "bottom": 3, "mode": "symmetric", "fill": [0]},
         F.pad(images["gray16"], [25, 18, 0, 3], padding_mode="symmetric"))
    case("pad", "small", {"left": -2, "top": 3, "right": 1, "bottom": -4, "mode": "symmetric", "fill": [0]},
         F.pad(images["small"], [-2, 3, 1, -4], padding_mode="symmetric"))
    case("pad", "gray", {"left": 2, "top": 2, "right": 2, "bottom": 2, "mode": "constant", "fill": [9]},
         F.pad(images["gray"], 2, fill=9))

    case("hflip", "rgb", {}, F.hflip(images["rgb"]))
    case("vflip", "small", {}, F.vflip(images["small"]))
    case("hflip", "gray16", {}, F.hflip(images["gray16"]))

    # Rotations (PIL's Image.rotate through torchvision).
    rotations = [
        (30.0, "nearest", False, None, [0]), (30.0, "bilinear", False, None, [0]),
        (30.0, "nearest", True, None, [0]), (30.0, "bilinear", True, None, [0]),
        (-45.0, "bilinear", False, [5, 7], [10, 20, 30]), (17.0, "bicubic", False, None, [0]),
        (90.0, "nearest", False, None, [0]), (90.0, "nearest", True, None, [0]), (180.0, "bilinear", False, None, [0]),
        (270.0, "nearest", True, None, [0]), (-123.4, "nearest", True, None, [255, 0, 0]),
        (400.0, "bilinear", False, None, [0]),
    ]
    for angle, name, expand, center, fill in rotations:
        source = "rgb" if angle == 30.0 else "small"
        out = F.rotate(images[source], angle, interpolation=INTERPOLATION[name], expand=expand, center=center,
                       fill=fill if len(fill) > 1 else fill[0])
        case("rotate", source, {"angle": angle, "interpolation": name, "expand": expand, "center": center,
                               "fill": fill}, out)
    case("rotate", "gray", {"angle": 12.5, "interpolation": "bilinear", "expand": True, "center": None, "fill": [0]},
         F.rotate(images["gray"], 12.5, interpolation=InterpolationMode.BILINEAR, expand=True))
    case("rotate", "rgba", {"angle": 33.0, "interpolation": "bilinear", "expand": False, "center": None,
                            "fill": [0]},
         F.rotate(images["rgba"], 33.0, interpolation=InterpolationMode.BILINEAR))
    case("rotate", "gray16", {"angle": 30.0, "interpolation": "nearest", "expand": True, "center": None,
                              "fill": [0]},
         F.rotate(images["gray16"], 30.0, expand=True))

    # Affine maps (torchvision's inverse matrix, PIL's sampling).
    affines = [
        (25.0, [3, -2], 0.8, [10.0, -5.0], "nearest", None),
        (25.0, [3, -2], 0.8, [10.0, -5.0], "bilinear", None),
        (-10.0, [0, 0], 1.3, [0.0, 20.0], "nearest", None),
        (0.0, [4, 3], 1.0, [0.0, 0.0], "nearest", None),
        (0.0, [0, 0], 1.0, [math.degrees(math.atan(0.5)), 0.0], "nearest", [0, 0]),
        (0.0, [0, 0], 1.0, [0.0, math.degrees(math.atan(-0.3))], "nearest", [0, 0]),
        (0.0, [-7, 0], 1.0, [0.0, 0.0], "nearest", None),
        (60.0, [1, 1], 1.1, [-15.0, 0.0], "bicubic", [4, 9]),
    ]
    for index, (angle, translate, scale, shear, name, center) in enumerate(affines):
        source = "rgb" if index < 2 else "small"
        out = F.affine(images[source], angle=angle, translate=translate, scale=scale, shear=shear,
                       interpolation=INTERPOLATION[name], center=center)
        matrix = F._get_inverse_affine_matrix(
            center if center is not None else [images[source].width * 0.5, images[source].height * 0.5],
            angle, translate, scale, shear)
        case("affine", source, {"angle": angle, "translate": translate, "scale": scale, "shear": shear,
                               "interpolation": name, "center": center, "matrix": matrix}, out)

    # Colour.
    for factor in (0.0, 0.6, 1.7):
        case("brightness", "small", {"factor": factor}, F.adjust_brightness(images["small"], factor))
    for factor in (0.0, 0.5, 1.8):
        case("contrast", "small", {"factor": factor}, F.adjust_contrast(images["small"], factor))
    case("contrast", "gray", {"factor": 1.4}, F.adjust_contrast(images["gray"], 1.4))
    for factor in (0.0, 0.3, 1.9):
        case("saturation", "small", {"factor": factor}, F.adjust_saturation(images["small"], factor))
    for factor in (-0.5, -0.3, -0.001, 0.12, 0.5):
        case("hue", "small", {"factor": factor}, F.adjust_hue(images["small"], factor))
    for factor in (0.0, 0.2, 2.5):
        case("sharpness", "small", {"factor": factor}, F.adjust_sharpness(images["small"], factor))
    case("sharpness", "gray", {"factor": 1.9}, F.adjust_sharpness(images["gray"], 1.9))
    for channels in (1, 3):
        case("grayscale", "small", {"channels": channels}, F.rgb_to_grayscale(images["small"], channels))

    # Tone operations.
    for bits in (1, 3, 6):
        case("posterize", "small", {"bits": bits}, F.posterize(images["small"], bits))
    for threshold in (100.5, 0.0, 255.0):
        case("solarize", "small", {"threshold": threshold}, F.solarize(images["small"], threshold))
    for source in ("low", "gray"):
        case("autocontrast", source, {}, F.autocontrast(images[source]))
        case("equalize", source, {}, F.equalize(images[source]))
    case("invert", "small", {}, F.invert(images["small"]))

    # Tensor half: ToTensor, Normalize, erase.
    tensor = F.to_tensor(images["small"])
    normalized = F.normalize(tensor, mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
    case("normalize", "small", {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}, normalized)
    case("normalize", "gray", {"mean": [0.5], "std": [0.25]}, F.normalize(F.to_tensor(images["gray"]), [0.5], [0.25]))
    small = F.to_tensor(images["small"])
    case("erase", "small", {"top": 4, "left": 6, "height": 10, "width": 12, "value": [0.5, -1.0, 2.0]},
         F.erase(small, 4, 6, 10, 12, torch.tensor([0.5, -1.0, 2.0])[:, None, None]))

    # Magnitude tables of the automatic augmentations (float32 linspace values).
    trivial = autoaugment.TrivialAugmentWide()._augmentation_space(31)
    rand = autoaugment.RandAugment()._augmentation_space(31, (images["rgb"].height, images["rgb"].width))
    tables = {
        "trivialAugmentWide": {k: (v.tolist() if v.ndim > 0 else None) for k, (v, _) in trivial.items()},
        "randAugment": {k: (v.tolist() if v.ndim > 0 else None) for k, (v, _) in rand.items()},
    }

    golden = {
        "generator": "scripts/make_transform_golden.py",
        "versions": {"torch": torch.__version__, "torchvision": torchvision.__version__, "pillow": PIL.__version__},
        "inputs": {name: encode(image) for name, image in images.items()},
        "cases": cases,
        "magnitudes": tables,
    }
    with open(OUT, "w") as f:
        json.dump(golden, f, separators=(",", ":"))
    print(f"wrote {len(cases)} cases, {os.path.getsize(OUT)} bytes to {os.path.normpath(OUT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
