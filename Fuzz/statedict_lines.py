#!/usr/bin/env python3
"""Writes the state_dict of each checkpoint as `key dim dim ...` lines: seeds for the
architecture_keys fuzz target. Needs no torch: globals are stubbed and storages never read.

Usage: statedict_lines.py OUT_DIR CHECKPOINT...  (files it cannot read are skipped)
"""
import collections
import json
import os
import pickle
import struct
import sys
import zipfile


class Shape:
    def __init__(self, size):
        self.size = [int(d) for d in size]


def rebuild_tensor(storage, offset, size, *rest):
    return Shape(size)


class Stub:
    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        pass


class StubUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if name in ("_rebuild_tensor", "_rebuild_tensor_v2"):
            return rebuild_tensor
        if name.startswith("_rebuild_parameter"):
            return lambda data, *rest: data
        if name == "OrderedDict":
            return collections.OrderedDict
        if name == "Size":
            return tuple
        return Stub

    def persistent_load(self, pid):
        return None


def find_state_dict(value, depth=0):
    """The first dict (depth-first) whose values are all tensors, as Gantry unwraps it."""
    if isinstance(value, dict) and depth < 4:
        if value and all(isinstance(v, Shape) for v in value.values()):
            return value
        for v in value.values():
            found = find_state_dict(v, depth + 1)
            if found:
                return found
    return None


def read(path):
    with open(path, "rb") as f:
        head = f.read(9)
    if head[:2] == b"PK":
        with zipfile.ZipFile(path) as z:
            name = next(n for n in z.namelist() if n.endswith("data.pkl"))
            return find_state_dict(StubUnpickler(z.open(name)).load())
    if head[:1] == b"\x80":
        with open(path, "rb") as f:
            unpickler = StubUnpickler(f)
            for _ in range(4):  # magic, protocol version, sys_info, then the object
                obj = unpickler.load()
            return find_state_dict(obj)
    if len(head) == 9 and head[8:9] == b"{":
        with open(path, "rb") as f:
            (length,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(length))
        return {k: Shape(v["shape"]) for k, v in header.items() if k != "__metadata__"}
    return None


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for path in sys.argv[2:]:
        try:
            sd = read(path)
        except Exception:
            continue
        if not sd:
            continue
        lines = [" ".join([key] + [str(d) for d in t.size]) for key, t in sd.items()]
        with open(os.path.join(out, os.path.basename(path) + ".txt"), "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
