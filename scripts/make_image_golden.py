#!/usr/bin/python3
"""Writes the image codec test fixtures (Tests/TarsierImageTests/Fixtures/codec/).

Run with Debian's /usr/bin/python3 and its Pillow (python3-pil 9.4, on the same libjpeg-turbo
2.1 the Swift codec links), after scripts/fetch_test_images.sh:

    /usr/bin/python3 scripts/make_image_golden.py

It writes
  png/*.png      small PNGs of every colour type and bit depth, written byte by byte here (so
                 16-bit, sub-byte, interlaced and tRNS cases are exactly what they say), plus
                 a few saved by Pillow;
  jpeg/*.jpg     small JPEGs saved by Pillow: EXIF orientations 1-8 (both byte orders), grey,
                 CMYK, progressive, 4:4:4; and hand-patched ones declaring huge sizes;
  darknet/*.png  Pillow's RGB pixels of every 8th row of the darknet photographs;
  manifest.json  what each file must decode to: size, pixel format, bit depth and the
                 expected samples (Pillow's, after ImageOps.exif_transpose and convert).
Every expectation for a hand-written PNG is checked against Pillow before it is stored.
"""
import io
import json
import os
import struct
import sys
import warnings
import zlib

from PIL import Image, ImageOps

# Pillow suggests converting palette+tRNS images to RGBA, which is exactly what is being checked.
warnings.filterwarnings("ignore", message="Palette images with Transparency")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "TarsierImageTests", "Fixtures", "codec")
DARKNET = os.path.join(ROOT, ".testdata", "darknet")
DARKNET_IMAGES = ["dog", "eagle", "giraffe", "horses", "kite"]
ROW_STEP = 8

# Samples per pixel for PNG colour types 0, 2, 3, 4, 6.
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def pack_row(samples, depth):
    """Samples of one row (already interleaved) as PNG bytes: MSB-first bits, big-endian 16."""
    if depth == 16:
        return b"".join(struct.pack(">H", s) for s in samples)
    if depth == 8:
        return bytes(samples)
    out, acc, bits = bytearray(), 0, 0
    for s in samples:
        acc = (acc << depth) | s
        bits += depth
        if bits == 8:
            out.append(acc)
            acc, bits = 0, 0
    if bits:
        out.append(acc << (8 - bits))
    return bytes(out)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def filter_row(kind, row, prior, bpp):
    """Applies PNG filter `kind` (0-4) to one packed row."""
    out = bytearray()
    for i, x in enumerate(row):
        a = row[i - bpp] if i >= bpp else 0
        b = prior[i] if prior else 0
        c = prior[i - bpp] if prior and i >= bpp else 0
        predictor = [0, a, b, (a + b) // 2, paeth(a, b, c)][kind]
        out.append((x - predictor) & 0xFF)
    return bytes([kind]) + bytes(out)


def encode_image_data(pixels, width, height, depth, colour, interlace):
    """The filtered scanlines of `pixels` (rows of per-pixel sample tuples)."""
    channels = CHANNELS[colour]
    bpp = max(1, channels * depth // 8)
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    raw = bytearray()
    line = 0
    for x0, y0, dx, dy in passes:
        xs = range(x0, width, dx)
        ys = range(y0, height, dy)
        if not xs or not ys:
            continue
        prior = None
        for y in ys:
            row = pack_row([s for x in xs for s in pixels[y][x]], depth)
            raw += filter_row(line % 5, row, prior, bpp)  # every filter type in turn
            prior = row
            line += 1
    return bytes(raw)


def write_png(path, pixels, depth, colour, palette=None, trns=None, interlace=False, extra=b""):
    height, width = len(pixels), len(pixels[0])
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 1 if interlace else 0)
    data = chunk(b"IHDR", ihdr) + extra
    if palette is not None:
        data += chunk(b"PLTE", bytes(v for entry in palette for v in entry))
    if trns is not None:
        data += chunk(b"tRNS", trns)
    compressed = zlib.compress(encode_image_data(pixels, width, height, depth, colour, interlace), 9)
    # Two IDAT chunks, so the decoder has to join them.
    half = len(compressed) // 2
    data += chunk(b"IDAT", compressed[:half]) + chunk(b"IDAT", compressed[half:]) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + data)


def pattern(width, height, channels, maximum, seed):
    """Deterministic varied samples: gradients mixed with a little pseudo-randomness."""
    state = seed * 2654435761 % 2**32
    rows = []
    for y in range(height):
        row = []
        for x in range(width):
            px = []
            for c in range(channels):
                state = (state * 1103515245 + 12345) % 2**31
                value = ((x * 37 + y * 91 + c * 53) * (maximum + 1) // 97 + (state >> 8)) % (maximum + 1)
                if (x + y + c) % 7 == 0:
                    value = maximum if (x + c) % 2 else 0  # the extremes too
                px.append(value)
            row.append(tuple(px))
        rows.append(row)
    return rows


def flat(rows):
    return [s for row in rows for px in row for s in px]


def check(condition, message):
    if not condition:
        sys.exit("make_image_golden: " + message)


def pillow_flat(path, mode):
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im)
        im = im.convert(mode)
        return list(im.tobytes())


def png_cases(manifest):
    folder = os.path.join(OUT, "png")
    os.makedirs(folder, exist_ok=True)
    W, H = 13, 7  # odd width: sub-byte rows end mid-byte
    entries, conversions = [], []

    def add(name, rows_expected, fmt, depth, pillow_mode, pillow_expected=None, width=W, height=H):
        path = os.path.join(folder, name)
        expected = flat(rows_expected)
        got = pillow_flat(path, pillow_mode)
        check(got == (pillow_expected if pillow_expected is not None else expected),
              f"{name}: Pillow's {pillow_mode} pixels differ from the expectation")
        entries.append({"file": "png/" + name, "width": width, "height": height, "format": fmt,
                        "bitDepth": depth, "samples": expected})

    def convert_case(name, target, pillow_mode, tolerance=0):
        path = os.path.join(folder, name)
        with Image.open(path) as im:
            size = im.size
        conversions.append({"file": "png/" + name, "as": target, "width": size[0], "height": size[1],
                            "format": target, "bitDepth": 8, "tolerance": tolerance,
                            "samples": pillow_flat(path, pillow_mode)})

    # Grey 1, 2, 4, 8 bit: Pillow's convert("L") replicates the bits (1 -> 255, 2 -> 85 per step).
    for depth in (1, 2, 4, 8):
        rows = pattern(W, H, 1, 2**depth - 1, depth)
        write_png(os.path.join(folder, f"gray{depth}.png"), rows, depth, 0)
        scale = 255 // (2**depth - 1)
        add(f"gray{depth}.png", [[tuple(s * scale for s in px) for px in row] for row in rows], "gray", 8, "L")
    # Grey 16: Pillow holds it as mode I with the raw values.
    rows16 = pattern(W, H, 1, 65535, 16)
    write_png(os.path.join(folder, "gray16.png"), rows16, 16, 0)
    with Image.open(os.path.join(folder, "gray16.png")) as im:
        check(list(im.getdata()) == flat(rows16), "gray16.png: Pillow's values differ")
    entries.append({"file": "png/gray16.png", "width": W, "height": H, "format": "gray", "bitDepth": 16,
                    "samples": flat(rows16)})

    # 16-bit files with more channels: Pillow keeps only the high bytes, so check those.
    def add16(name, rows, colour, fmt, mode, interlace=False):
        write_png(os.path.join(folder, name), rows, 16, colour, interlace=interlace)
        check(pillow_flat(os.path.join(folder, name), mode) == [s >> 8 for s in flat(rows)],
              f"{name}: Pillow's high bytes differ")
        entries.append({"file": "png/" + name, "width": len(rows[0]), "height": len(rows), "format": fmt,
                        "bitDepth": 16, "samples": flat(rows)})

    rows = pattern(W, H, 2, 255, 20)
    write_png(os.path.join(folder, "gray_alpha8.png"), rows, 8, 4)
    add("gray_alpha8.png", rows, "grayAlpha", 8, "LA")
    add16("gray_alpha16.png", pattern(W, H, 2, 65535, 21), 4, "grayAlpha", "LA")

    rows = pattern(W, H, 3, 255, 30)
    write_png(os.path.join(folder, "rgb8.png"), rows, 8, 2)
    add("rgb8.png", rows, "rgb", 8, "RGB")
    add16("rgb16.png", pattern(W, H, 3, 65535, 31), 2, "rgb", "RGB")

    rows = pattern(W, H, 4, 255, 40)
    write_png(os.path.join(folder, "rgba8.png"), rows, 8, 6)
    add("rgba8.png", rows, "rgba", 8, "RGBA")
    add16("rgba16.png", pattern(W, H, 4, 65535, 41), 6, "rgba", "RGBA")

    # Palettes of 1, 2, 4 and 8 bits, without transparency: RGB.
    for depth in (1, 2, 4, 8):
        count = min(2**depth, 200)
        palette = [((i * 73) % 256, (i * 151 + 7) % 256, (255 - i * 29) % 256) for i in range(count)]
        index_rows = pattern(W, H, 1, count - 1, 50 + depth)
        write_png(os.path.join(folder, f"palette{depth}.png"), index_rows, depth, 3, palette=palette)
        add(f"palette{depth}.png", [[palette[px[0]] for px in row] for row in index_rows], "rgb", 8, "RGB")
    # Palettes with a tRNS table shorter than the palette: RGBA, missing entries opaque.
    for depth in (4, 8):
        count = 16
        palette = [((i * 97) % 256, (i * 13 + 100) % 256, (i * 41) % 256) for i in range(count)]
        alphas = bytes((i * 37) % 256 for i in range(count - 5))
        index_rows = pattern(W, H, 1, count - 1, 60 + depth)
        name = f"palette{depth}_trns.png"
        write_png(os.path.join(folder, name), index_rows, depth, 3, palette=palette, trns=alphas)
        expected = [[palette[px[0]] + ((alphas[px[0]] if px[0] < len(alphas) else 255),) for px in row]
                    for row in index_rows]
        add(name, expected, "rgba", 8, "RGBA")
        convert_case(name, "rgb", "RGB")
        convert_case(name, "grayAlpha", "LA", tolerance=1)

    # Grey and RGB with a tRNS colour: Pillow's mode has no alpha; convert("RGBA"/"LA") uses it.
    rows = pattern(W, H, 1, 255, 70)
    rows[0][0] = rows[1][1] = rows[2][5] = (77,)
    write_png(os.path.join(folder, "gray8_trns.png"), rows, 8, 0, trns=struct.pack(">H", 77))
    add("gray8_trns.png", rows, "gray", 8, "L")
    convert_case("gray8_trns.png", "rgba", "RGBA")
    convert_case("gray8_trns.png", "grayAlpha", "LA")
    rows = pattern(W, H, 3, 255, 71)
    rows[3][3] = rows[6][12] = (10, 20, 30)
    write_png(os.path.join(folder, "rgb8_trns.png"), rows, 8, 2, trns=struct.pack(">HHH", 10, 20, 30))
    add("rgb8_trns.png", rows, "rgb", 8, "RGB")
    convert_case("rgb8_trns.png", "rgba", "RGBA")

    # Adam7 interlacing, with sizes that leave some passes partial or empty.
    rows = pattern(11, 9, 3, 255, 80)
    write_png(os.path.join(folder, "rgb8_interlaced.png"), rows, 8, 2, interlace=True)
    add("rgb8_interlaced.png", rows, "rgb", 8, "RGB", width=11, height=9)
    rows = pattern(5, 3, 1, 3, 81)
    write_png(os.path.join(folder, "gray2_interlaced.png"), rows, 2, 0, interlace=True)
    add("gray2_interlaced.png", [[tuple(s * 85 for s in px) for px in row] for row in rows], "gray", 8, "L",
        width=5, height=3)
    add16("rgba16_interlaced.png", pattern(9, 10, 4, 65535, 82), 6, "rgba", "RGBA", interlace=True)

    # gAMA is ignored (Pillow ignores it), so the samples come out as stored.
    rows = pattern(W, H, 3, 255, 90)
    write_png(os.path.join(folder, "rgb8_gamma.png"), rows, 8, 2, extra=chunk(b"gAMA", struct.pack(">I", 100000)))
    add("rgb8_gamma.png", rows, "rgb", 8, "RGB")

    # Conversions Pillow does with exact integer arithmetic, and luma ones within 1.
    convert_case("rgba8.png", "rgb", "RGB")
    convert_case("gray8.png", "rgb", "RGB")
    convert_case("gray4.png", "rgba", "RGBA")
    convert_case("palette8.png", "rgba", "RGBA")
    convert_case("rgb8.png", "gray", "L", tolerance=1)
    convert_case("gray_alpha8.png", "rgba", "RGBA")

    # Saved by Pillow (zlib's own choices, adaptive filters): a crop of a photograph and a
    # palette image; and an RGB PNG whose eXIf chunk says "rotate 90 clockwise" (6).
    photo = Image.open(os.path.join(DARKNET, "dog.jpg")).convert("RGB").crop((200, 100, 264, 148))
    photo.save(os.path.join(folder, "pillow_photo.png"))
    add("pillow_photo.png", [[photo.getpixel((x, y)) for x in range(64)] for y in range(48)], "rgb", 8, "RGB",
        width=64, height=48)
    quantized = photo.quantize(colors=23)
    quantized.save(os.path.join(folder, "pillow_palette.png"))
    rgb = quantized.convert("RGB")
    add("pillow_palette.png", [[rgb.getpixel((x, y)) for x in range(64)] for y in range(48)], "rgb", 8, "RGB",
        width=64, height=48)
    exif = Image.Exif()
    exif[0x0112] = 6
    photo.save(os.path.join(folder, "pillow_exif6.png"), exif=exif)
    upright = ImageOps.exif_transpose(Image.open(os.path.join(folder, "pillow_exif6.png"))).convert("RGB")
    check(upright.size == (48, 64), "pillow_exif6.png: Pillow did not turn it")
    add("pillow_exif6.png", [[upright.getpixel((x, y)) for x in range(48)] for y in range(64)], "rgb", 8, "RGB",
        width=48, height=64)

    manifest["png"] = entries
    manifest["pngConversions"] = conversions


def tiff_orientation(value, big_endian):
    """An EXIF APP1 payload whose IFD0 holds only the orientation tag."""
    e = ">" if big_endian else "<"
    head = (b"MM" if big_endian else b"II") + struct.pack(e + "HI", 42, 8)
    ifd = struct.pack(e + "H", 1) + struct.pack(e + "HHI", 0x0112, 3, 1) + struct.pack(e + "HH", value, 0)
    return b"Exif\x00\x00" + head + ifd + struct.pack(e + "I", 0)


def jpeg_cases(manifest):
    folder = os.path.join(OUT, "jpeg")
    os.makedirs(folder, exist_ok=True)
    entries = []

    def add(name, mode, fmt, orientation=1):
        path = os.path.join(folder, name)
        with Image.open(path) as im:
            upright = ImageOps.exif_transpose(im).convert(mode)
        entries.append({"file": "jpeg/" + name, "width": upright.size[0], "height": upright.size[1],
                        "format": fmt, "bitDepth": 8, "orientation": orientation,
                        "samples": list(upright.tobytes())})

    # 27x18: not a whole number of MCUs. Quadrants of distinct colours so a wrong turn shows.
    base = Image.new("RGB", (27, 18))
    for y in range(18):
        for x in range(27):
            quadrant = (x >= 13) + 2 * (y >= 9)
            colours = [(230, 40, 40), (40, 200, 60), (50, 60, 220), (240, 230, 50)]
            r, g, b = colours[quadrant]
            base.putpixel((x, y), (min(255, r + x), min(255, g + y * 2), b))
    for orientation in range(1, 9):
        name = f"orientation{orientation}.jpg"
        # Odd orientations in big-endian (Motorola) TIFF order, even ones little-endian (Intel).
        base.save(os.path.join(folder, name), quality=95, exif=tiff_orientation(orientation, orientation % 2 == 1))
        add(name, "RGB", "rgb", orientation)

    gray = Image.new("L", (31, 17))
    gray.putdata([(x * 8 + y * 5) % 256 for y in range(17) for x in range(31)])
    gray.save(os.path.join(folder, "gray.jpg"), quality=92)
    add("gray.jpg", "L", "gray")

    cmyk = Image.new("CMYK", (20, 12))
    cmyk.putdata([(x * 12, y * 20, (x + y) * 7, (x * y) % 90) for y in range(12) for x in range(20)])
    cmyk.save(os.path.join(folder, "cmyk.jpg"), quality=95)
    add("cmyk.jpg", "RGB", "rgb")

    photo = Image.open(os.path.join(DARKNET, "dog.jpg")).convert("RGB").crop((150, 120, 246, 184))
    photo.save(os.path.join(folder, "progressive.jpg"), quality=85, progressive=True)
    add("progressive.jpg", "RGB", "rgb")
    photo.save(os.path.join(folder, "subsampling444.jpg"), quality=90, subsampling=0)
    add("subsampling444.jpg", "RGB", "rgb")

    # Restart markers (Pillow 10.2+), for the reduced decoder's bands: not in the manifest, the
    # tests compare them with Tarsier's own whole-image decode.
    big = Image.open(os.path.join(DARKNET, "dog.jpg")).convert("RGB").resize((203, 141))
    big.save(os.path.join(folder, "restart_rows_420.jpg"), quality=85, subsampling=2, restart_marker_rows=1)
    big.save(os.path.join(folder, "restart_rows3_422.jpg"), quality=85, subsampling=1, restart_marker_rows=3)
    big.save(os.path.join(folder, "restart_blocks7_444.jpg"), quality=85, subsampling=0, restart_marker_blocks=7)
    big.convert("L").save(os.path.join(folder, "restart_rows2_gray.jpg"), quality=85, restart_marker_rows=2)

    manifest["jpeg"] = entries


def huge_cases(manifest):
    folder = os.path.join(OUT, "huge")
    os.makedirs(folder, exist_ok=True)

    def huge_png(name, width, height):
        # About 1 KB: a real IHDR declaring the size, then the start of a zlib stream.
        stream = zlib.compress(bytes((i * 7919 + (i >> 5)) % 251 for i in range(4000)), 9)[:900]
        data = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        data += chunk(b"IDAT", stream) + chunk(b"IEND", b"")
        with open(os.path.join(folder, name), "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n" + data)

    huge_png("side_100000.png", 100_000, 100_000)  # beyond the largest side
    huge_png("area_60000.png", 60_000, 60_000)  # each side allowed, the area not

    # A small JPEG whose frame header is patched to 65000x65000 (JPEG sides stop at 65535).
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (120, 30, 200)).save(buffer, format="JPEG", quality=90)
    data = bytearray(buffer.getvalue())
    i = 2
    while True:
        check(data[i] == 0xFF, "could not walk the JPEG markers")
        marker, length = data[i + 1], struct.unpack(">H", data[i + 2:i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            data[i + 5:i + 9] = struct.pack(">HH", 65000, 65000)
            break
        i += 2 + length
    with open(os.path.join(folder, "side_65000.jpg"), "wb") as f:
        f.write(bytes(data))


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def darknet_cases(manifest):
    folder = os.path.join(OUT, "darknet")
    os.makedirs(folder, exist_ok=True)
    entries = []
    for name in DARKNET_IMAGES:
        path = os.path.join(DARKNET, name + ".jpg")
        check(os.path.exists(path), f"{path} is missing; run scripts/fetch_test_images.sh first")
        with Image.open(path) as im:
            rgb = ImageOps.exif_transpose(im).convert("RGB")
        width, height = rgb.size
        sampled = Image.new("RGB", (width, (height + ROW_STEP - 1) // ROW_STEP))
        for k, y in enumerate(range(0, height, ROW_STEP)):
            sampled.paste(rgb.crop((0, y, width, y + 1)), (0, k))
        reference = f"darknet/{name}.rows.png"
        sampled.save(os.path.join(OUT, reference), optimize=True)
        raw = rgb.tobytes()
        entries.append({"file": name + ".jpg", "width": width, "height": height, "rowStep": ROW_STEP,
                        "reference": reference, "fnv1a64": f"{fnv1a64(raw):016x}", "sampleSum": sum(raw)})
    manifest["darknet"] = entries


def main():
    os.makedirs(OUT, exist_ok=True)
    manifest = {"generator": "scripts/make_image_golden.py", "pillow": Image.__version__}
    png_cases(manifest)
    jpeg_cases(manifest)
    huge_cases(manifest)
    darknet_cases(manifest)
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, separators=(",", ":"))
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(OUT) for f in files)
    print(f"make_image_golden: wrote {OUT} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
