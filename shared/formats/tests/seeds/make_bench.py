#!/usr/bin/env python3
"""Writes 4096² 16-bit files for the decode benchmark (shared/formats/examples/bench_decode.rs):
a DM4 (big-endian tag tree, little-endian data), a DM3, an MRC (mode 6), a SER and, when h5py
and numpy import, a Velox EMD. Synthetic, made with the fuzz seeds' writers.

    python3 shared/formats/tests/seeds/make_bench.py OUT_DIR [SIDE]
"""

import array
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import make_dm  # noqa: E402
import make_mrc  # noqa: E402
import make_ser  # noqa: E402


def pixels(side, big_endian=False):
    """u16 samples of a smooth pattern with noise-like low bits, as bytes."""
    a = array.array("H", bytes(2 * side * side))
    for y in range(side):
        row = [(x * 37 + y * 101 + (x * y) % 251) & 0xFFFF for x in range(side)]
        a[y * side:(y + 1) * side] = array.array("H", row)
    if big_endian != (sys.byteorder == "big"):
        a.byteswap()
    return a.tobytes()


def dm(side, v4):
    return make_dm.haadf(Samples(v4=v4, little=True), dims=(side, side), data=pixels(side))


class Samples(make_dm.Writer):
    """The seeds' writer, taking an image's u16 samples as bytes (it packs value by value)."""

    def array(self, name, code, vs):
        if not isinstance(vs, bytes):
            return super().array(name, code, vs)
        assert code == 4, "u16 samples only"
        return self.entry(21, name, self.data([20, code, len(vs) // 2], vs))


def mrc(side):
    return make_mrc.header(side, side, 1, 6) + pixels(side)


def ser(side):
    elem = ([(-4e-9, 1e-9, 0), (-3e-9, 1e-9, 0)], 2, [side, side], pixels(side))
    dims = [(1, 0.0, 1.0, 0, "Number", "")]
    return make_ser.ser(0x0220, dims, 1, [elem])


def emd(path, side):
    try:
        import make_emd
        import numpy as np
    except ImportError as e:
        print(f"no EMD: {e} (run with the provisioning venv's python for h5py)")
        return
    import json

    data = np.frombuffer(pixels(side), dtype="<u2").reshape(side, side, 1)
    with make_emd.new_file(path) as f:
        make_emd.text(f, "Version", json.dumps({"version": "4", "format": "Velox"}))
        img = f.create_group("Data/Image/0000000000000000000000000000000a")
        make_emd.dataset(img, "Data", data)
        make_emd.metadata(img, [make_emd.IMAGE_JSON])
    print(f"{os.path.basename(path)}: {os.path.getsize(path)} bytes")


def main():
    out = sys.argv[1]
    side = int(sys.argv[2]) if len(sys.argv) > 2 else 4096
    os.makedirs(out, exist_ok=True)
    files = {
        f"bench-{side}-u16.dm4": dm(side, True),
        f"bench-{side}-u16.dm3": dm(side, False),
        f"bench-{side}-u16.mrc": mrc(side),
        f"bench-{side}-u16.ser": ser(side),
    }
    for name, data in files.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
        print(f"{name}: {len(data)} bytes")
    emd(os.path.join(out, f"bench-{side}-u16.emd"), side)


if __name__ == "__main__":
    main()
