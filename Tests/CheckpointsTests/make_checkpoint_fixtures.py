#!/usr/bin/env python3
"""Writes the checkpoint fixtures used by CheckpointsTests.

Run from anywhere with the torch venv:

    /work/torchenv/bin/python Tests/CheckpointsTests/make_checkpoint_fixtures.py

Every file is written by real torch (or crafted here and then verified by
loading it back with torch.load), and `Fixtures/expected.json` records what
the Swift loader must produce: keys in order, shapes, source dtypes and the
float32 bit patterns of `tensor.float()`. CI has no torch, so the outputs are
committed. Hostile files are only ever *written* here, never loaded.
"""

import collections
import io
import json
import os
import pickle
import pickletools
import struct
import sys
import types
import zipfile
import zlib

import torch
import torch.nn as nn
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "Fixtures")
# Fixed so regenerating does not change expected.json; the tests also craft
# their own payloads with a fresh random marker at run time.
PWNED_MARKER = "/tmp/gantry-pwned-3f9c2a7e51d04b68"

expected = {"pwnedMarker": PWNED_MARKER, "files": {}}


def path(name):
    return os.path.join(OUT, name)


def f32hex(t):
    return t.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes().hex()


def dtype_name(t):
    return {
        torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16",
        torch.float64: "float64", torch.int64: "int64", torch.int32: "int32",
        torch.int16: "int16", torch.int8: "int8", torch.uint8: "uint8", torch.bool: "bool",
    }[t.dtype]


def record(name, fmt, sd, notes=(), key_map=None):
    """Records what loading `name` must give. key_map renames keys (prefix stripping)."""
    tensors = collections.OrderedDict()
    for k, t in sd.items():
        out_key = key_map(k) if key_map else k
        tensors[out_key] = {"shape": list(t.shape), "dtype": dtype_name(t), "f32hex": f32hex(t)}
    expected["files"][name] = {"format": fmt, "keys": list(tensors.keys()),
                               "tensors": tensors, "notes": list(notes)}


def check_loads(name, sd):
    """Loads the file back with torch to prove the fixture is a valid checkpoint."""
    got = torch.load(path(name), map_location="cpu", weights_only=False)
    for k, t in sd.items():
        g = got[k]
        assert g.dtype == t.dtype and g.shape == t.shape, (name, k)
        assert torch.equal(g.float().nan_to_num(7.0), t.float().nan_to_num(7.0)), (name, k)
        assert g.stride() == t.stride(), (name, k, g.stride(), t.stride())


def tiny_generator():
    torch.manual_seed(1234)
    net = nn.Sequential(nn.ConvTranspose2d(4, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Conv2d(3, 2, 1))
    with torch.no_grad():
        net[1].running_mean.copy_(torch.randn(3))
        net[1].running_var.copy_(torch.rand(3) + 0.5)
        net[1].num_batches_tracked.fill_(7)
    return net


def dtype_zoo():
    torch.manual_seed(99)
    specials = torch.tensor([0.0, -0.0, 1.0, -2.5, 65504.0, 6.1e-5, 5.96e-8, 1e-3, float("inf"), float("-inf")])
    return collections.OrderedDict([
        ("f32", torch.randn(2, 3)),
        ("f16", torch.cat([specials.half(), torch.randn(6).half()])),
        ("f16_nan", torch.tensor([float("nan")], dtype=torch.float16)),
        ("bf16", torch.cat([specials.bfloat16(), torch.randn(6).bfloat16(), torch.tensor([1e38, -3e-39]).bfloat16()])),
        # Values that need rounding to float32, overflow to inf, and float32 subnormals.
        ("f64", torch.tensor([1.0 / 3.0, 0.1, 1e300, -1e300, 1e-310, 3.4028235677973366e38,
                              1.0000000596046448, 1.0000001788139343, -0.0], dtype=torch.float64)),
        ("i64", torch.tensor([0, -1, 2 ** 24 + 1, 2 ** 40 + 3, -(2 ** 62)], dtype=torch.int64)),
        ("i64_scalar", torch.tensor(42, dtype=torch.int64)),
        ("i32", torch.tensor([[1, -2], [3, 2 ** 31 - 1]], dtype=torch.int32)),
        ("i16", torch.tensor([-32768, 32767, 5], dtype=torch.int16)),
        ("i8", torch.tensor([-128, 127, 0], dtype=torch.int8)),
        ("u8", torch.tensor([0, 255, 17], dtype=torch.uint8)),
        ("b", torch.tensor([True, False, True])),
    ])


def views():
    torch.manual_seed(7)
    base = torch.arange(24, dtype=torch.float32) * 0.5 - 3.0
    w = torch.randn(3, 5)
    sd = collections.OrderedDict()
    sd["transposed"] = w.t()                       # stride (1, 5)
    sd["slice_a"] = base[2:8].view(2, 3)           # shares one storage ...
    sd["slice_b"] = base[10:22:3]                  # ... with an offset and step
    sd["column"] = base.view(4, 6)[:, 1]           # stride (6,)
    sd["expanded"] = torch.tensor([1.5, -2.0]).view(2, 1).expand(2, 4)  # stride (1, 0)
    sd["scalar"] = torch.tensor(3.25)
    sd["empty"] = torch.zeros(0, 3)
    sd["param"] = nn.Parameter(torch.randn(4))
    with_attr = torch.randn(2, 2)
    with_attr.note = "python attribute"            # pickled via _rebuild_from_type_v2
    sd["with_attr"] = with_attr
    return sd


# ---------------------------------------------------------------- pickle rewriting

def reencode_pickle(data, py2_strings=False, rename=None):
    """Re-emits a protocol-2 pickle op by op.

    py2_strings: ASCII str ops become SHORT_BINSTRING/BINSTRING, as Python 2 wrote `str`.
    rename: maps string values (e.g. 'cpu' -> 'cuda:0') to new ones.
    Pickles hold no absolute offsets below protocol 4, so ops can change length.
    """
    ops = list(pickletools.genops(data))
    out = bytearray()
    for i, (op, arg, pos) in enumerate(ops):
        end = ops[i + 1][2] if i + 1 < len(ops) else len(data)
        if op.name in ("BINUNICODE", "SHORT_BINUNICODE") and (py2_strings or (rename and arg in rename)):
            s = rename.get(arg, arg) if rename else arg
            raw = s.encode("utf-8")
            if py2_strings and s.isascii():
                out += (b"U" + bytes([len(raw)]) if len(raw) < 256 else b"T" + struct.pack("<i", len(raw))) + raw
            else:
                out += b"X" + struct.pack("<I", len(raw)) + raw
        else:
            out += data[pos:end]
    return bytes(out)


def split_pickles(data):
    """Splits a legacy file into its pickles and the trailing raw storage bytes."""
    f = io.BytesIO(data)
    parts = []
    for _ in range(5):
        start = f.tell()
        for _op in pickletools.genops(f):
            pass
        parts.append(data[start:f.tell()])
    return parts, data[f.tell():]


def rewrite_zip(src, dst, transform, compression=zipfile.ZIP_STORED):
    """Copies a zip entry by entry through transform(name, bytes) -> bytes."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", compression) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, transform(info.filename, zin.read(info.filename)))


def write_zip64(src, dst):
    """Rewrites a zip with zip64 structures everywhere, as writers do for files > 4 GB."""
    with zipfile.ZipFile(src) as zin:
        entries = [(i.filename, zin.read(i.filename)) for i in zin.infolist()]
    out = bytearray()
    central = bytearray()
    for name, data in entries:
        nb = name.encode()
        crc = zlib.crc32(data)
        offset = len(out)
        extra = struct.pack("<HHQQ", 1, 16, len(data), len(data))
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF, len(nb), len(extra))
        out += nb + extra + data
        cextra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), offset)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0, crc,
                               0xFFFFFFFF, 0xFFFFFFFF, len(nb), len(cextra), 0, 0, 0, 0, 0xFFFFFFFF)
        central += nb + cextra
    cd_offset = len(out)
    out += central
    eocd64_offset = len(out)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, len(entries), len(entries), len(central), cd_offset)
    out += struct.pack("<IIQI", 0x07064B50, 0, eocd64_offset, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    with open(dst, "wb") as f:
        f.write(out)


# ---------------------------------------------------------------- 0.3-era legacy file

class OldStorage:
    """Stands in for a torch 0.3 storage; persistent_id turns it into the legacy id tuple."""

    def __init__(self, key, storage_type, location, numel, view=None):
        self.key, self.storage_type, self.location, self.numel, self.view = key, storage_type, location, numel, view


class OldTensor:
    """Pickles like a torch 0.3 tensor: _rebuild_tensor(storage, offset, size, stride)."""

    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, size, stride)

    def __reduce__(self):
        return (torch._utils._rebuild_tensor, self.args)


class Py2OrderedDict:
    """Python 2.7's OrderedDict.__reduce__ passes the items as a list of [key, value] lists."""

    def __init__(self, items):
        self.items = items

    def __reduce__(self):
        return (collections.OrderedDict, ([[k, v] for k, v in self.items],))


class OldPickler(pickle._Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, OldStorage):
            return ("storage", obj.storage_type, obj.key, obj.location, obj.numel, obj.view)
        return None


def write_torch03(name):
    """A torch 0.3 / Python 2 style checkpoint: byte strings, CUDA storages, a storage view."""
    torch.manual_seed(3)
    root_a = torch.randn(10)                       # one CUDA storage shared by two tensors
    root_b = torch.randn(8).half()                 # HalfStorage, seen through a view
    sa = OldStorage("140213", torch.cuda.FloatStorage, "cuda:0", 10)
    sb_view = OldStorage("140777", torch.cuda.HalfStorage, "cuda:0", 8, view=("140999", 2, 5))
    items = [
        ("conv.weight", OldTensor(sa, 0, (2, 3), (3, 1))),
        ("conv.bias", OldTensor(sa, 6, (2,), (2,))),
        ("bn.weight", OldTensor(sb_view, 1, (3,), (1,))),
    ]
    want = collections.OrderedDict([
        ("conv.weight", root_a[0:6].view(2, 3)),
        ("conv.bias", root_a[6:10:2]),
        ("bn.weight", root_b[3:6]),
    ])
    buf = io.BytesIO()
    OldPickler(buf, protocol=2).dump(Py2OrderedDict(items))
    main = reencode_pickle(buf.getvalue(), py2_strings=True)
    head = b"".join(reencode_pickle(pickle.dumps(x, protocol=2), py2_strings=True) for x in (
        0x1950A86A20F9469CFC6C, 1001,
        {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 8}}))
    keys = reencode_pickle(pickle.dumps(["140213", "140777"], protocol=2), py2_strings=True)
    blobs = struct.pack("<q", 10) + root_a.numpy().tobytes() + struct.pack("<q", 8) + root_b.view(torch.int16).numpy().tobytes()
    with open(path(name), "wb") as f:
        f.write(head + main + keys + blobs)
    check_loads(name, want)
    record(name, "pytorch-legacy", want)


# ---------------------------------------------------------------- hostile files

class Pwn:
    def __reduce__(self):
        return (os.system, ("touch " + PWNED_MARKER,))


def legacy_header():
    return b"".join(pickle.dumps(x, protocol=2) for x in (
        0x1950A86A20F9469CFC6C, 1001,
        {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}))


def write_hostile():
    evil = pickle.dumps(collections.OrderedDict([("conv.weight", Pwn())]), protocol=2)
    assert b"posix\nsystem" in evil or b"nt\nsystem" in evil
    with open(path("evil_legacy.pt"), "wb") as f:
        f.write(legacy_header() + evil + pickle.dumps([], protocol=2))
    with open(path("evil_bare_proto4.pkl"), "wb") as f:
        f.write(pickle.dumps(Pwn(), protocol=4))          # STACK_GLOBAL + FRAME + MEMOIZE
    with zipfile.ZipFile(path("evil_zip.pt"), "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", evil)
        z.writestr("archive/byteorder", "little")
        z.writestr("archive/data/0", b"\0" * 16)
        z.writestr("archive/version", "3\n")

    # torch.save(model) of a user class living in an importable module.
    mod = types.ModuleType("models.networks")
    sys.modules["models"] = types.ModuleType("models")
    sys.modules["models.networks"] = mod

    class ResnetGenerator(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 1)

        def forward(self, x):
            return self.conv(x)

    ResnetGenerator.__module__ = "models.networks"
    ResnetGenerator.__qualname__ = "ResnetGenerator"
    mod.ResnetGenerator = ResnetGenerator
    torch.save(ResnetGenerator(), path("model_object.pt"))
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.save(ResnetGenerator(), path("model_object_legacy.pt"), _use_new_zipfile_serialization=False)

    s = torch.jit.script(nn.Linear(2, 2)) if hasattr(torch.jit, "script") else None
    if s is not None:
        s.save(path("torchscript.pt"))


# ---------------------------------------------------------------- main

def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))

    net = tiny_generator()
    sd = net.state_dict()
    assert hasattr(sd, "_metadata")
    torch.save(sd, path("zip_basic.pt"))
    check_loads("zip_basic.pt", sd)
    record("zip_basic.pt", "pytorch-zip", sd)

    torch.save(sd, path("legacy_basic.pt"), _use_new_zipfile_serialization=False)
    check_loads("legacy_basic.pt", sd)
    record("legacy_basic.pt", "pytorch-legacy", sd)

    zoo = dtype_zoo()
    torch.save(zoo, path("zip_dtypes_proto4.pt"), pickle_protocol=4)
    check_loads("zip_dtypes_proto4.pt", zoo)
    record("zip_dtypes_proto4.pt", "pytorch-zip", zoo)
    torch.save(zoo, path("legacy_dtypes.pt"), _use_new_zipfile_serialization=False)
    check_loads("legacy_dtypes.pt", zoo)
    record("legacy_dtypes.pt", "pytorch-legacy", zoo)

    v = views()
    torch.save(v, path("zip_views.pt"))
    check_loads("zip_views.pt", v)
    record("zip_views.pt", "pytorch-zip", v)
    torch.save(v, path("legacy_views.pt"), _use_new_zipfile_serialization=False)
    check_loads("legacy_views.pt", v)
    record("legacy_views.pt", "pytorch-legacy", v)

    write_torch03("legacy_torch03_py2.pt")

    # CUDA location tags, rewritten in the persistent ids of real files.
    rewrite_zip(path("zip_basic.pt"), path("zip_cuda.pt"),
                lambda n, b: reencode_pickle(b, rename={"cpu": "cuda:0"}) if n.endswith("data.pkl") else b)
    check_loads("zip_cuda.pt", sd)
    record("zip_cuda.pt", "pytorch-zip", sd, notes=["cuda:0"])
    with open(path("legacy_basic.pt"), "rb") as f:
        parts, blobs = split_pickles(f.read())
    parts[3] = reencode_pickle(parts[3], rename={"cpu": "cuda:1"})
    with open(path("legacy_cuda.pt"), "wb") as f:
        f.write(b"".join(parts) + blobs)
    check_loads("legacy_cuda.pt", sd)
    record("legacy_cuda.pt", "pytorch-legacy", sd, notes=["cuda:1"])

    # Wrapper prefixes from DataParallel and torch.compile.
    small = nn.Sequential(nn.Linear(3, 2))
    torch.manual_seed(5)
    small[0].reset_parameters()
    for name, wrapped, notes in [
        ("zip_module_prefix.pt", nn.DataParallel(small), ["stripped 'module.' prefix from 2 keys"]),
        ("zip_orig_mod_prefix.pt", torch.compile(small), ["stripped '_orig_mod.' prefix from 2 keys"]),
        ("zip_module_orig_mod_prefix.pt", nn.DataParallel(torch.compile(small)),
         ["stripped 'module.' prefix from 2 keys", "stripped '_orig_mod.' prefix from 2 keys"]),
    ]:
        wsd = wrapped.state_dict()
        torch.save(wsd, path(name))
        record(name, "pytorch-zip", wsd, notes=notes, key_map=lambda k: k.split(".", 1)[1] if k.startswith("module.") else k)
        fix = expected["files"][name]
        fix["keys"] = [k.replace("_orig_mod.", "") for k in fix["keys"]]
        fix["tensors"] = {k.replace("_orig_mod.", ""): t for k, t in fix["tensors"].items()}

    # Training checkpoints that wrap the state_dict.
    # A separate network: the optimizer step changes parameters in place.
    trained = tiny_generator()
    opt = torch.optim.Adam(trained.parameters(), lr=2e-4, betas=(0.5, 0.999))
    trained(torch.randn(1, 4, 2, 2)).sum().backward()
    opt.step()
    tsd = trained.state_dict()
    torch.save({"epoch": 5, "netG": tsd, "optimizer": opt.state_dict(), "best": 0.25, "tag": b"raw"},
               path("wrapped_netG.pt"))
    record("wrapped_netG.pt", "pytorch-zip", tsd, notes=["'netG'"])
    torch.save({"G": small.state_dict(), "D": sd, "step": 100}, path("wrapped_G_D.pt"))
    record("wrapped_G_D.pt", "pytorch-zip", small.state_dict())

    # Byte order and archive variants.
    be = collections.OrderedDict([("w", torch.randn(2, 3)), ("h", torch.randn(4).half()), ("n", torch.tensor(9))])
    torch.save(be, path("tmp_le.pt"))
    sizes = {"0": 4, "1": 2, "2": 8}

    def to_big(name, b):
        if name.endswith("/byteorder"):
            return b"big"
        key = name.rsplit("/", 1)[1]
        if "/data/" in name and key in sizes:
            n = sizes[key]
            return b"".join(b[i:i + n][::-1] for i in range(0, len(b), n))
        return b
    rewrite_zip(path("tmp_le.pt"), path("zip_bigendian.pt"), to_big)
    check_loads("zip_bigendian.pt", be)
    record("zip_bigendian.pt", "pytorch-zip", be)
    os.remove(path("tmp_le.pt"))

    write_zip64(path("zip_basic.pt"), path("zip64.pt"))
    check_loads("zip64.pt", sd)
    record("zip64.pt", "pytorch-zip", sd)
    rewrite_zip(path("zip_basic.pt"), path("zip_deflated.pt"), lambda n, b: b, zipfile.ZIP_DEFLATED)

    u16 = {"u16": torch.zeros(3, dtype=torch.uint16), "ok": torch.ones(2)}
    torch.save(u16, path("zip_uint16_v3.pt"))

    st = collections.OrderedDict([
        ("a.weight", torch.randn(3, 2)), ("a.half", torch.randn(5).half()),
        ("a.bf16", torch.randn(2, 2).bfloat16()), ("b.f64", torch.randn(3).double()),
        ("b.count", torch.tensor(3)), ("b.mask", torch.tensor([True, False])), ("z.empty", torch.zeros(0)),
    ])
    save_file(st, path("basic.safetensors"), metadata={"format": "pt", "note": "gantry fixture"})
    with open(path("basic.safetensors"), "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    order = sorted((k for k in header if k != "__metadata__"), key=lambda k: (header[k]["data_offsets"][0], k))
    record("basic.safetensors", "safetensors", collections.OrderedDict((k, st[k]) for k in order))

    write_hostile()

    with open(path("expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=False)
        f.write("\n")
    total = sum(os.path.getsize(path(x)) for x in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total} bytes")


if __name__ == "__main__":
    main()
