#!/usr/bin/env python3
"""Writes the image fixtures used by ImagingTests.

Run with a venv that has Pillow and numpy (kept outside the repo):

    python3 -m venv /work/pilenv && /work/pilenv/bin/pip install pillow numpy
    /work/pilenv/bin/python Tests/ImagingTests/make_image_fixtures.py

Good images are written by Pillow where it can write the variant, otherwise by the
small PNG writer below (16-bit color, 16-bit alpha, low bit depths, interlacing,
colorspace chunks), which Pillow then reads back as a check. `Fixtures/expected.json`
records for each good file the samples the Swift decoder must return:

- lossless PNGs: exactly what Pillow decodes, except where Pillow cannot hold the
  stored values (16-bit RGB/RGBA/LA, which it cuts to 8 bits by dropping the low byte);
  there the expected samples are the stored 16-bit values for gray/RGB, and
  round(v / 257) for images with a 16-bit alpha channel (see PNGCodec in the module);
- JPEGs: Pillow's decode (after ImageOps.exif_transpose for the EXIF ones; CMYK through
  Pillow's convert("RGB")), compared within a tolerance because IDCT builds may differ.

Bad files record the ImageError code the decoder must throw. CI has no Pillow, so the
outputs are committed.
"""

import ctypes
import ctypes.util
import io
import json
import os
import struct
import zlib

import numpy as np
from PIL import Image, ImageCms, ImageOps

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "Fixtures")
W, H = 13, 7  # odd on purpose: partial MCUs, odd chroma, width != height

good = {}
bad = {}


def path(name):
    return os.path.join(OUT, name)


def write(name, data):
    with open(path(name), "wb") as f:
        f.write(data)
    return data


def record(name, pixels, mode_channels, has_alpha, bit_depth, fmt, orientation=1, tolerance=0, icc=False, pages=1):
    arr = np.asarray(pixels)
    h, w = arr.shape[:2]
    channels = mode_channels + (1 if has_alpha else 0)
    assert arr.size == w * h * channels, (name, arr.shape)
    good[name] = {
        "width": w, "height": h, "colorChannels": mode_channels, "hasAlpha": has_alpha,
        "bitDepth": bit_depth, "format": fmt, "orientation": orientation, "tolerance": tolerance,
        "hasICC": icc, "samples": [int(v) for v in arr.reshape(-1)],
    }
    if pages != 1:
        good[name]["pageCount"] = pages


# ---------------------------------------------------------------- test patterns

yy, xx = np.mgrid[0:H, 0:W]
# Asymmetric in every direction, so any wrong flip or rotation changes many samples.
R8 = ((xx * 19 + yy * 5) % 256).astype(np.uint8)
G8 = ((yy * 37 + xx * 2 + 40) % 256).astype(np.uint8)
B8 = ((xx * yy * 7 + 90) % 256).astype(np.uint8)
A8 = ((xx * 20 + yy * 3) % 256).astype(np.uint8)
RGB8 = np.stack([R8, G8, B8], -1)
RGBA8 = np.stack([R8, G8, B8, A8], -1)
# 16-bit values with meaningful low bytes (a ramp plus odd offsets).
R16 = ((xx * 4999 + yy * 701 + 3) % 65536).astype(np.uint16)
G16 = ((yy * 9001 + xx * 13 + 257) % 65536).astype(np.uint16)
B16 = ((xx * yy * 977 + 40000) % 65536).astype(np.uint16)
A16 = ((xx * 5003 + yy * 11) % 65536).astype(np.uint16)
A16[0, 0] = 0
A16[0, 1] = 65535


def smooth_rgb(w, h):
    """A JPEG-friendly pattern (smooth gradients, one sharp corner) that is still asymmetric."""
    y, x = np.mgrid[0:h, 0:w]
    r = 255 * x / (w - 1)
    g = 255 * y / (h - 1)
    b = 128 + 100 * np.sin(x / 2.0 + y / 3.0)
    img = np.stack([r, g, b], -1)
    img[: h // 3, : w // 3] = [250, 20, 20]  # a red block in the top-left corner only
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------- raw PNG writer

def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def pack_rows(arr, depth):
    """Rows of `arr` (h, w[, c]) as PNG scanline bytes without the filter byte."""
    if depth == 16:
        return [row.astype(">u2").tobytes() for row in arr]
    if depth == 8:
        return [row.astype(np.uint8).tobytes() for row in arr]
    rows = []
    for row in arr:
        bits = "".join(format(int(v), "0%db" % depth) for v in row.reshape(-1))
        bits += "0" * (-len(bits) % 8)
        rows.append(bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits), 8)))
    return rows


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def raw_png(arr, depth, color_type, extra=b"", interlace=False, palette=None):
    h, w = arr.shape[:2]
    raw = b""
    if interlace:
        for x0, y0, dx, dy in ADAM7:
            sub = arr[y0::dy, x0::dx]
            if sub.shape[0] and sub.shape[1]:
                raw += b"".join(b"\0" + r for r in pack_rows(sub, depth))
    else:
        raw = b"".join(b"\0" + r for r in pack_rows(arr, depth))
    head = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, int(interlace)))
    if palette is not None:
        head += chunk(b"PLTE", palette)
    return head + extra + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def pil_samples(name):
    return np.asarray(Image.open(path(name)))


def round16to8(a):
    return (a.astype(np.uint32) * 255 + 32767) // 65535


# ---------------------------------------------------------------- good PNGs

def make_pngs():
    Image.fromarray(R8, "L").save(path("png_gray8.png"))
    record("png_gray8.png", pil_samples("png_gray8.png"), 1, False, 8, "png")

    one = (R8 > 100)
    Image.fromarray(one).convert("1").save(path("png_gray1.png"))
    im = Image.open(path("png_gray1.png"))
    assert im.mode == "1"
    record("png_gray1.png", np.asarray(im.convert("L")), 1, False, 8, "png")

    for depth, scale in ((2, 85), (4, 17)):
        name = "png_gray%d.png" % depth
        stored = (R8 % (1 << depth)).astype(np.uint8)
        write(name, raw_png(stored, depth, 0))
        assert (pil_samples(name) == stored * scale).all(), name
        record(name, stored.astype(int) * scale, 1, False, 8, "png")

    Image.fromarray(R16).save(path("png_gray16.png"))
    im = Image.open(path("png_gray16.png"))
    assert im.mode == "I;16" and (np.asarray(im) == R16).all()
    record("png_gray16.png", np.asarray(im), 1, False, 16, "png")

    # gAMA + cHRM + sRGB would make libpng's simplified API linearise the values.
    srgb_chunks = chunk(b"gAMA", struct.pack(">I", 45455)) + chunk(b"sRGB", b"\0")
    write("png_gray16_srgb_chunks.png", raw_png(R16, 16, 0, extra=srgb_chunks))
    assert (pil_samples("png_gray16_srgb_chunks.png") == R16).all()
    record("png_gray16_srgb_chunks.png", R16, 1, False, 16, "png")

    Image.fromarray(np.stack([R8, A8], -1), "LA").save(path("png_la8.png"))
    record("png_la8.png", pil_samples("png_la8.png"), 1, True, 8, "png")

    write("png_la16.png", raw_png(np.stack([R16, A16], -1), 16, 4))
    record("png_la16.png", round16to8(np.stack([R16, A16], -1)), 1, True, 8, "png")

    Image.fromarray(RGB8, "RGB").save(path("png_rgb8.png"))
    record("png_rgb8.png", pil_samples("png_rgb8.png"), 3, False, 8, "png")

    rgb16 = np.stack([R16, G16, B16], -1)
    write("png_rgb16.png", raw_png(rgb16, 16, 2))
    assert (pil_samples("png_rgb16.png") == (rgb16 >> 8)).all()  # Pillow keeps only the high byte
    record("png_rgb16.png", rgb16, 3, False, 16, "png")

    key = rgb16[2, 3]
    trns = chunk(b"tRNS", struct.pack(">HHH", *[int(v) for v in key]))
    write("png_rgb16_trns.png", raw_png(rgb16, 16, 2, extra=trns))
    alpha = np.where((rgb16 == key).all(-1), 0, 65535).astype(np.uint16)
    assert alpha.min() == 0
    record("png_rgb16_trns.png", np.concatenate([rgb16, alpha[..., None]], -1), 3, True, 16, "png")

    Image.fromarray(RGBA8, "RGBA").save(path("png_rgba8.png"))
    record("png_rgba8.png", pil_samples("png_rgba8.png"), 3, True, 8, "png")

    rgba16 = np.stack([R16, G16, B16, A16], -1)
    write("png_rgba16.png", raw_png(rgba16, 16, 6))
    record("png_rgba16.png", round16to8(rgba16), 3, True, 8, "png")

    write("png_rgb8_interlaced.png", raw_png(RGB8, 8, 2, interlace=True))
    assert (pil_samples("png_rgb8_interlaced.png") == RGB8).all()
    record("png_rgb8_interlaced.png", RGB8, 3, False, 8, "png")

    # gAMA 1.0 would make the simplified API gamma-encode 8-bit output; Pillow ignores it.
    write("png_rgb8_gamma1.png", raw_png(RGB8, 8, 2, extra=chunk(b"gAMA", struct.pack(">I", 100000))))
    record("png_rgb8_gamma1.png", RGB8, 3, False, 8, "png")

    pal = Image.fromarray(RGB8, "RGB").quantize(colors=16, method=Image.Quantize.MEDIANCUT)
    Image.fromarray(RGB8, "RGB").quantize(colors=64).save(path("png_palette.png"))
    im = Image.open(path("png_palette.png"))
    assert im.mode == "P" and len(im.getpalette()) > 16 * 3
    record("png_palette.png", np.asarray(im.convert("RGB")), 3, False, 8, "png")

    pal.save(path("png_palette4.png"))  # 16 colors: Pillow writes 4 bits per index
    im = Image.open(path("png_palette4.png"))
    assert im.mode == "P"
    record("png_palette4.png", np.asarray(im.convert("RGB")), 3, False, 8, "png")

    alphas = bytes((i * 17) % 256 for i in range(16))
    pal.save(path("png_palette_trns.png"), transparency=alphas)
    im = Image.open(path("png_palette_trns.png"))
    assert "transparency" in im.info
    record("png_palette_trns.png", np.asarray(im.convert("RGBA")), 3, True, 8, "png")

    Image.fromarray(R8, "L").save(path("png_gray8_trns.png"), transparency=int(R8[1, 1]))
    im = Image.open(path("png_gray8_trns.png"))
    la = np.stack([R8, np.where(R8 == R8[1, 1], 0, 255).astype(np.uint8)], -1)
    assert (np.asarray(im.convert("LA")) == la).all()
    record("png_gray8_trns.png", la, 1, True, 8, "png")


# ---------------------------------------------------------------- good JPEGs

def make_exif(orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def ycck_jpeg(cmyk):
    """CMYK samples (Pillow's ink values) → a YCCK JPEG written by the system libturbojpeg."""
    lib = ctypes.util.find_library("turbojpeg")
    if lib is None:
        print("libturbojpeg not found: skipping jpeg_ycck.jpg")
        return None
    tj = ctypes.CDLL(lib)
    tj.tjInitCompress.restype = ctypes.c_void_p
    tj.tjCompress2.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                               ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_ulong), ctypes.c_int, ctypes.c_int,
                               ctypes.c_int]
    tj.tjFree.argtypes = [ctypes.c_void_p]
    tj.tjDestroy.argtypes = [ctypes.c_void_p]
    h, w = cmyk.shape[:2]
    stored = np.ascontiguousarray(255 - cmyk, dtype=np.uint8)  # Adobe convention: stored = inverted ink
    handle = tj.tjInitCompress()
    out, size = ctypes.c_void_p(), ctypes.c_ulong(0)
    TJPF_CMYK, TJSAMP_444 = 11, 0
    assert tj.tjCompress2(handle, stored.tobytes(), w, 0, h, TJPF_CMYK, ctypes.byref(out), ctypes.byref(size),
                          TJSAMP_444, 95, 0) == 0
    data = ctypes.string_at(out, size.value)
    tj.tjFree(out)
    tj.tjDestroy(handle)
    sof = data.index(b"\xff\xc0")
    assert data[sof + 9] == 4 and b"Adobe" in data
    return data


def make_jpegs(srgb):
    rgb = smooth_rgb(W, H)
    for name, kwargs in (
        ("jpeg_rgb_444.jpg", dict(quality=95, subsampling=0)),
        ("jpeg_rgb_420.jpg", dict(quality=85, subsampling=2)),
        ("jpeg_progressive.jpg", dict(quality=90, progressive=True)),
    ):
        Image.fromarray(rgb, "RGB").save(path(name), **kwargs)
        record(name, pil_samples(name), 3, False, 8, "jpeg", tolerance=2)

    Image.fromarray(rgb[..., 1], "L").save(path("jpeg_gray.jpg"), quality=92)
    record("jpeg_gray.jpg", pil_samples("jpeg_gray.jpg"), 1, False, 8, "jpeg", tolerance=2)

    cmyk = Image.fromarray(rgb, "RGB").convert("CMYK")
    cmyk.save(path("jpeg_cmyk.jpg"), quality=95)
    im = Image.open(path("jpeg_cmyk.jpg"))
    assert im.mode == "CMYK"
    record("jpeg_cmyk.jpg", np.asarray(im.convert("RGB")), 3, False, 8, "jpeg", tolerance=2)

    # Pillow cannot write YCCK; TurboJPEG turns CMYK input into YCCK (with an Adobe marker).
    ycck = ycck_jpeg(np.asarray(cmyk)[..., :4])
    if ycck is not None:
        write("jpeg_ycck.jpg", ycck)
        im = Image.open(path("jpeg_ycck.jpg"))
        assert im.mode == "CMYK"
        record("jpeg_ycck.jpg", np.asarray(im.convert("RGB")), 3, False, 8, "jpeg", tolerance=2)

    # A larger, non-square pattern with a distinct corner, so every transform differs.
    big = smooth_rgb(24, 16)
    for o in range(1, 9):
        name = "jpeg_orientation_%d.jpg" % o
        Image.fromarray(big, "RGB").save(path(name), quality=95, subsampling=0, exif=make_exif(o))
        im = Image.open(path(name))
        assert im.getexif().get(0x0112) == o
        upright = ImageOps.exif_transpose(im)
        record(name, np.asarray(upright), 3, False, 8, "jpeg", orientation=o, tolerance=2)

    Image.fromarray(rgb, "RGB").save(path("jpeg_icc.jpg"), quality=95, icc_profile=srgb)
    assert Image.open(path("jpeg_icc.jpg")).info.get("icc_profile") == srgb
    record("jpeg_icc.jpg", pil_samples("jpeg_icc.jpg"), 3, False, 8, "jpeg", tolerance=2, icc=True)

    Image.fromarray(RGB8, "RGB").save(path("png_icc.png"), icc_profile=srgb)
    assert Image.open(path("png_icc.png")).info.get("icc_profile") == srgb
    record("png_icc.png", pil_samples("png_icc.png"), 3, False, 8, "png", icc=True)


# ---------------------------------------------------------------- bad files

def fail(name, code, data):
    write(name, data)
    bad[name] = code


def png_chunks(data):
    pos, out = 8, []
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        out.append((data[pos + 4:pos + 8], pos, n))
        pos += 12 + n
    return out


def make_bad():
    fail("empty.jpg", "empty", b"")
    fail("html_named.jpg", "notAnImage",
         b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>\n<body>gone</body></html>\n")
    fail("text_named.png", "notAnImage", b"BMW 320i, 2004\nsecond line\n")

    for name, fmt in (("gif_named.png", "GIF"), ("bmp_named.png", "BMP")):
        buf = io.BytesIO()
        Image.fromarray(RGB8, "RGB").save(buf, format=fmt)
        fail(name, "unsupportedFormat", buf.getvalue())
    # Pillow cannot write HEIC; the sniffer only needs the ISO-BMFF `ftyp` box.
    fail("heic_named.jpg", "unsupportedFormat", struct.pack(">I", 24) + b"ftypheic" + b"\0\0\0\0mif1heic" + b"\0" * 64)

    jpeg = open(path("jpeg_rgb_420.jpg"), "rb").read()
    sos = jpeg.index(b"\xff\xda")
    scan_middle = (sos + len(jpeg)) // 2
    for label, cut in (("2", 2), ("header", 20), ("sos", sos + 16), ("scan", scan_middle),
                       ("no_eoi", len(jpeg) - 2)):
        fail("jpeg_truncated_%s.jpg" % label, "truncated", jpeg[:cut])

    # Random bytes in the middle of the entropy-coded data (0xFF avoided so no
    # accidental markers): libjpeg notices bad Huffman codes / extraneous bytes and
    # only *warns*, which must still be an error.
    big = io.BytesIO()
    Image.fromarray(smooth_rgb(64, 48), "RGB").save(big, format="JPEG", quality=90)
    data = bytearray(big.getvalue())
    sos = data.index(b"\xff\xda")
    start = sos + 20 + (len(data) - sos) // 4
    rng = np.random.default_rng(7)
    data[start:start + 120] = bytes(int(v) for v in rng.integers(0, 255, 120))
    fail("jpeg_corrupt_entropy.jpg", "corrupt", bytes(data))

    def patched_sof(width, height):
        d = bytearray(jpeg)
        sof = d.index(b"\xff\xc0")
        d[sof + 5:sof + 9] = struct.pack(">HH", height, width)
        return bytes(d)

    fail("jpeg_bomb.jpg", "tooLarge", patched_sof(65000, 65000))
    fail("jpeg_zero_size.jpg", "invalidSize", patched_sof(0, 7))

    png = open(path("png_rgb8.png"), "rb").read()
    chunks = png_chunks(png)
    idat = next(c for c in chunks if c[0] == b"IDAT")
    for label, cut in (("5", 5), ("ihdr", 20), ("after_ihdr", 33), ("idat", idat[1] + 8 + idat[2] // 2),
                       ("no_iend", len(png) - 12), ("iend_crc", len(png) - 2)):
        fail("png_truncated_%s.png" % label, "truncated", png[:cut])

    d = bytearray(png)
    d[idat[1] + 8 + idat[2] + 1] ^= 0x55  # a CRC byte of the IDAT chunk
    fail("png_bad_idat_crc.png", "corrupt", bytes(d))

    text = b"tEXt" + b"Comment\0made by the fixture script"
    broken = struct.pack(">I", len(text) - 4) + text + struct.pack(">I", (zlib.crc32(text) ^ 1) & 0xFFFFFFFF)
    fail("png_bad_ancillary_crc.png", "corrupt", png[:33] + broken + png[33:])

    # Valid CRC, but the zlib stream inside IDAT is damaged: libpng itself must refuse it.
    d = bytearray(png)
    body = bytearray(d[idat[1] + 8:idat[1] + 8 + idat[2]])
    for i in range(2, len(body) - 4, 3):
        body[i] ^= 0xA5
    fail("png_corrupt_idat.png", "corrupt", png[:idat[1]] + chunk(b"IDAT", bytes(body)) + png[idat[1] + 12 + idat[2]:])

    # Decompression bomb: IHDR says 100000×100000 (10^10 pixels, 30 GB as RGB) but only a
    # few bytes of image data follow; if the decoder got past the header check it would
    # fail differently (or allocate), so `tooLarge` shows the header path refused it.
    ihdr = chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0))
    tail = chunk(b"IDAT", zlib.compress(b"\0" * 300001)) + chunk(b"IEND", b"")
    fail("png_bomb.png", "tooLarge", b"\x89PNG\r\n\x1a\n" + ihdr + tail)

    # Within the limits (160 M pixels) but with 1 KB of IDAT, which deflate (at most
    # 1032:1) cannot expand to 160 MB: refused before the pixel buffer is allocated.
    ihdr = chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 8000, 8, 0, 0, 0, 0))
    fail("png_short_data.png", "corrupt", b"\x89PNG\r\n\x1a\n" + ihdr + chunk(b"IDAT", bytes(1000)) + chunk(b"IEND", b""))

    ihdr = chunk(b"IHDR", struct.pack(">IIBBBBB", 0, 7, 8, 2, 0, 0, 0))
    fail("png_zero_size.png", "invalidSize", b"\x89PNG\r\n\x1a\n" + ihdr + png[33:])


# ---------------------------------------------------------------- TIFF and WebP

def tiff_write(name, arr, **kwargs):
    """tifffile for what Pillow cannot write (16-bit color, alpha types, tiles, planes, byte order)."""
    import tifffile
    tifffile.imwrite(path(name), arr, **kwargs)
    return arr


def mini_tiff(width, height, strip, bps=8, compression=1, sample_format=1, offset=None, photometric=1):
    """A little-endian, single-strip, one-sample TIFF built by hand, for the hostile files that
    Pillow and tifffile refuse to write: the strip right after the header, the IFD after it."""
    ifd = 8 + len(strip) + (len(strip) & 1)
    tags = [(256, 4, width), (257, 4, height), (258, 3, bps), (259, 3, compression), (262, 3, photometric),
            (273, 4, 8 if offset is None else offset), (277, 3, 1), (278, 4, height), (279, 4, len(strip)),
            (339, 3, sample_format)]
    out = b"II*\0" + struct.pack("<I", ifd) + strip + b"\0" * (len(strip) & 1) + struct.pack("<H", len(tags))
    for tag, kind, value in tags:
        out += struct.pack("<HHI", tag, kind, 1) + (struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value))
    return out + struct.pack("<I", 0)


def make_tiffs(srgb):
    rgb = Image.fromarray(RGB8, "RGB")
    for name, compression in (("tiff_rgb8.tif", "raw"), ("tiff_rgb8_lzw.tif", "tiff_lzw"),
                              ("tiff_rgb8_packbits.tif", "packbits"), ("tiff_rgb8_deflate.tif", "tiff_adobe_deflate")):
        rgb.save(path(name), compression=compression)
        assert (pil_samples(name) == RGB8).all(), name
        record(name, RGB8, 3, False, 8, "tiff")
    # The fixture that used to show TIFF as unsupported: still a TIFF under a .jpg name.
    rgb.save(path("tiff_named.jpg"), format="TIFF")
    record("tiff_named.jpg", RGB8, 3, False, 8, "tiff")

    Image.fromarray(R8, "L").save(path("tiff_gray8.tif"))
    record("tiff_gray8.tif", pil_samples("tiff_gray8.tif"), 1, False, 8, "tiff")
    tiff_write("tiff_gray16.tif", R16, compression="zlib", predictor=True)
    assert (pil_samples("tiff_gray16.tif") == R16).all()
    record("tiff_gray16.tif", R16, 1, False, 16, "tiff")
    tiff_write("tiff_gray16_be.tif", R16, byteorder=">")
    assert (pil_samples("tiff_gray16_be.tif") == R16).all()
    record("tiff_gray16_be.tif", R16, 1, False, 16, "tiff")
    tiff_write("tiff_miniswhite.tif", R8, photometric="miniswhite")
    assert (pil_samples("tiff_miniswhite.tif") == 255 - R8).all()
    record("tiff_miniswhite.tif", 255 - R8, 1, False, 8, "tiff")

    la8 = tiff_write("tiff_la8.tif", np.stack([R8, A8], -1), photometric="minisblack", extrasamples=["unassalpha"])
    assert (np.asarray(Image.open(path("tiff_la8.tif")).convert("LA")) == la8).all()
    record("tiff_la8.tif", la8, 1, True, 8, "tiff")
    la16 = tiff_write("tiff_la16.tif", np.stack([R16, A16], -1), photometric="minisblack", extrasamples=["unassalpha"],
                      compression="zlib")
    record("tiff_la16.tif", la16, 1, True, 16, "tiff")
    rgb16 = tiff_write("tiff_rgb16.tif", np.stack([R16, G16, B16], -1), photometric="rgb", compression="zlib",
                       predictor=True)
    record("tiff_rgb16.tif", rgb16, 3, False, 16, "tiff")
    Image.fromarray(RGBA8, "RGBA").save(path("tiff_rgba8.tif"), compression="tiff_lzw")
    assert (pil_samples("tiff_rgba8.tif") == RGBA8).all()
    record("tiff_rgba8.tif", RGBA8, 3, True, 8, "tiff")
    rgba16 = tiff_write("tiff_rgba16.tif", np.stack([R16, G16, B16, A16], -1), photometric="rgb",
                        extrasamples=["unassalpha"], compression="zlib")
    record("tiff_rgba16.tif", rgba16, 3, True, 16, "tiff")

    # Associated alpha: stored premultiplied; Pillow un-premultiplies (c * 255 // a, 0 where a = 0).
    a = A8.astype(np.uint32)[..., None]
    tiff_write("tiff_rgba8_assoc.tif", np.concatenate([(RGB8 * a + 127) // 255, a], -1).astype(np.uint8),
               photometric="rgb", extrasamples=["assocalpha"])
    im = Image.open(path("tiff_rgba8_assoc.tif"))
    record("tiff_rgba8_assoc.tif", np.asarray(im.convert("RGBA")), 3, True, 8, "tiff")
    a16 = A16.astype(np.uint64)[..., None]
    color16 = np.stack([R16, G16, B16], -1).astype(np.uint64)
    premultiplied = (color16 * a16 + 32767) // 65535
    tiff_write("tiff_rgba16_assoc.tif", np.concatenate([premultiplied, a16], -1).astype(np.uint16), photometric="rgb",
               extrasamples=["assocalpha"])
    straight = np.where(a16 == 0, 0, np.minimum(65535, premultiplied * 65535 // np.maximum(a16, 1)))
    record("tiff_rgba16_assoc.tif", np.concatenate([straight, a16], -1), 3, True, 16, "tiff")

    rgb.quantize(colors=64).save(path("tiff_palette.tif"))
    im = Image.open(path("tiff_palette.tif"))
    assert im.mode == "P"
    record("tiff_palette.tif", np.asarray(im.convert("RGB")), 3, False, 8, "tiff")

    # Tiles overhanging the right and bottom edges; strips of 3 rows in separate planes.
    big = smooth_rgb(40, 24)
    tiff_write("tiff_tiled.tif", big, photometric="rgb", tile=(16, 16), compression="zlib")
    assert (pil_samples("tiff_tiled.tif") == big).all()
    record("tiff_tiled.tif", big, 3, False, 8, "tiff")
    tiff_write("tiff_planar.tif", np.moveaxis(RGB8, -1, 0), photometric="rgb", planarconfig="separate",
               rowsperstrip=3, compression="zlib")
    assert (pil_samples("tiff_planar.tif") == RGB8).all()
    record("tiff_planar.tif", RGB8, 3, False, 8, "tiff")
    rgba16_big = np.stack([big[..., 0].astype(np.uint16) * 257 + 3, big[..., 1].astype(np.uint16) * 250,
                           big[..., 2].astype(np.uint16) * 256 + 7, np.full((24, 40), 40000, np.uint16)], -1)
    tiff_write("tiff_tiled_planar16.tif", np.moveaxis(rgba16_big, -1, 0), photometric="rgb", planarconfig="separate",
               tile=(16, 16), extrasamples=["unassalpha"], compression="zlib")
    record("tiff_tiled_planar16.tif", rgba16_big, 3, True, 16, "tiff")
    tiff_write("tiff_bigtiff.tif", RGB8, photometric="rgb", bigtiff=True)
    record("tiff_bigtiff.tif", RGB8, 3, False, 8, "tiff")

    # Through libtiff's RGBA interface: bilevel, CMYK, JPEG-compressed YCbCr.
    Image.fromarray(R8 > 100).convert("1").save(path("tiff_bilevel.tif"), compression="group4")
    im = Image.open(path("tiff_bilevel.tif"))
    assert im.mode == "1"
    record("tiff_bilevel.tif", np.asarray(im.convert("L")), 1, False, 8, "tiff")
    smooth = Image.fromarray(smooth_rgb(W, H), "RGB")
    smooth.convert("CMYK").save(path("tiff_cmyk.tif"))
    # libtiff truncates where Pillow rounds in CMYK → RGB: 1 apart at most.
    record("tiff_cmyk.tif", np.asarray(Image.open(path("tiff_cmyk.tif")).convert("RGB")), 3, False, 8, "tiff",
           tolerance=1)
    smooth.save(path("tiff_jpeg.tif"), compression="jpeg", quality=90)
    record("tiff_jpeg.tif", np.asarray(Image.open(path("tiff_jpeg.tif")).convert("RGB")), 3, False, 8, "tiff",
           tolerance=2)

    wide = Image.fromarray(smooth_rgb(24, 16), "RGB")
    for o in (3, 5, 6, 8):
        name = "tiff_orientation_%d.tif" % o
        wide.save(path(name), tiffinfo={0x0112: o})
        im = Image.open(path(name))
        assert im.getexif().get(0x0112) == o
        record(name, np.asarray(ImageOps.exif_transpose(im)), 3, False, 8, "tiff", orientation=o)

    rgb.save(path("tiff_icc.tif"), icc_profile=srgb, compression="tiff_adobe_deflate")
    assert Image.open(path("tiff_icc.tif")).info.get("icc_profile") == srgb
    record("tiff_icc.tif", RGB8, 3, False, 8, "tiff", icc=True)
    pages = [Image.fromarray(np.roll(RGB8, k, axis=1), "RGB") for k in range(3)]
    pages[0].save(path("tiff_multipage.tif"), save_all=True, append_images=pages[1:], compression="tiff_adobe_deflate")
    assert Image.open(path("tiff_multipage.tif")).n_frames == 3
    record("tiff_multipage.tif", RGB8, 3, False, 8, "tiff", pages=3)

    # A strip that inflates to 10 MB where the image needs 4 KB: libtiff stops at the strip's
    # size, so this decodes (to zeros) without the rest ever being inflated.
    write("tiff_strip_overflow.tif", mini_tiff(64, 64, zlib.compress(bytes(10_000_000), 9), compression=8))
    record("tiff_strip_overflow.tif", np.zeros((64, 64), np.uint8), 1, False, 8, "tiff")


def make_webps(srgb):
    smooth = Image.fromarray(smooth_rgb(W, H), "RGB")
    smooth.save(path("webp_lossy.webp"), quality=80)
    record("webp_lossy.webp", pil_samples("webp_lossy.webp"), 3, False, 8, "webp")
    Image.fromarray(RGB8, "RGB").save(path("webp_named.jpg"), format="WEBP")
    record("webp_named.jpg", pil_samples("webp_named.jpg"), 3, False, 8, "webp")
    Image.fromarray(RGB8, "RGB").save(path("webp_lossless.webp"), lossless=True)
    assert (pil_samples("webp_lossless.webp") == RGB8).all()
    record("webp_lossless.webp", RGB8, 3, False, 8, "webp")
    rgba = Image.fromarray(RGBA8, "RGBA")
    rgba.save(path("webp_alpha_lossy.webp"), quality=85)
    record("webp_alpha_lossy.webp", pil_samples("webp_alpha_lossy.webp"), 3, True, 8, "webp")
    rgba.save(path("webp_alpha_lossless.webp"), lossless=True, exact=True)
    assert (pil_samples("webp_alpha_lossless.webp") == RGBA8).all()
    record("webp_alpha_lossless.webp", RGBA8, 3, True, 8, "webp")
    smooth.save(path("webp_icc.webp"), lossless=True, icc_profile=srgb)
    assert Image.open(path("webp_icc.webp")).info.get("icc_profile") == srgb
    record("webp_icc.webp", pil_samples("webp_icc.webp"), 3, False, 8, "webp", icc=True)
    Image.fromarray(smooth_rgb(24, 16), "RGB").save(path("webp_orientation_6.webp"), lossless=True, exif=make_exif(6))
    im = Image.open(path("webp_orientation_6.webp"))
    assert im.getexif().get(0x0112) == 6
    record("webp_orientation_6.webp", np.asarray(ImageOps.exif_transpose(im)), 3, False, 8, "webp", orientation=6)


def make_bad_tiffs_webps():
    deflate = open(path("tiff_rgb8_deflate.tif"), "rb").read()
    fail("tiff_truncated_header.tif", "truncated", deflate[:6])
    (ifd,) = struct.unpack("<I", deflate[4:8])
    fail("tiff_truncated_ifd.tif", "truncated", deflate[:ifd + 40])
    plain = open(path("tiff_rgb8.tif"), "rb").read()
    assert struct.unpack("<I", plain[4:8])[0] < len(plain) - 100, "Pillow writes the IFD before the pixels"
    fail("tiff_truncated_strip.tif", "truncated", plain[:-50])

    pixels = bytes(RGB8[..., 0].tobytes())
    fail("tiff_zero_size.tif", "invalidSize", mini_tiff(0, 7, pixels))
    # 10^10 pixels declared, 1 KB of data: refused from the header, before any allocation.
    fail("tiff_bomb.tif", "tooLarge", mini_tiff(100000, 100000, zlib.compress(bytes(100000)), compression=8))
    # 144 M pixels (within the limits) from 2 KB of deflate, which cannot inflate to 144 MB.
    fail("tiff_deflate_bomb.tif", "corrupt", mini_tiff(12000, 12000, zlib.compress(bytes(2_000_000), 9), compression=8))
    fail("tiff_bad_strip_offset.tif", "truncated", mini_tiff(W, H, pixels, offset=1 << 30))
    floats = np.linspace(0, 1, W * H, dtype="<f4").tobytes()
    fail("tiff_float.tif", "unsupportedFormat", mini_tiff(W, H, floats, bps=32, sample_format=3))

    lossy = open(path("webp_lossy.webp"), "rb").read()
    fail("webp_truncated.webp", "truncated", lossy[:len(lossy) // 2])
    frames = [Image.fromarray(np.roll(RGB8, k, axis=0), "RGB") for k in range(2)]
    frames[0].save(path("webp_animated.webp"), save_all=True, append_images=frames[1:], lossless=True, duration=100)
    assert Image.open(path("webp_animated.webp")).n_frames == 2
    bad["webp_animated.webp"] = "unsupportedFormat"


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(path(f))
    srgb = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    # LittleCMS stamps the creation time into the header (bytes 24-35); pin it so that
    # regenerating leaves the fixtures unchanged (LittleCMS leaves the profile ID zero).
    srgb[24:36] = struct.pack(">6H", 2024, 1, 1, 0, 0, 0)
    srgb = bytes(srgb)
    write("srgb.icc", srgb)
    make_pngs()
    make_jpegs(srgb)
    make_bad()
    make_tiffs(srgb)
    make_webps(srgb)
    make_bad_tiffs_webps()
    with open(path("expected.json"), "w") as f:
        json.dump({"good": good, "bad": bad}, f, sort_keys=True, separators=(",", ":"))
        f.write("\n")
    total = sum(os.path.getsize(path(f)) for f in os.listdir(OUT))
    print("%d good, %d bad, %d bytes" % (len(good), len(bad), total))


if __name__ == "__main__":
    main()
