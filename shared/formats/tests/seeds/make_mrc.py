#!/usr/bin/env python3
"""Writes the MRC seeds of the read_instrument_file fuzz target.

Deterministic and stdlib-only; every byte is synthetic. Run from anywhere:

    python3 shared/formats/tests/seeds/make_mrc.py

It writes into fuzz/corpus/read_instrument_file/: `valid-mrc-*` files that must read and
`bad-mrc-*` files that must be refused (shared/formats/tests/fuzz_seeds.rs replays them).
"""

import gzip
import io
import struct
from pathlib import Path

OUT = Path(__file__).resolve().parents[4] / "fuzz" / "corpus" / "read_instrument_file"


def header(nx, ny, nz, mode, *, mxyz=None, cell=None, mapcrs=(1, 2, 3), ispg=0,
           nsymbt=0, exttyp=b"\0\0\0\0", start=(0, 0, 0), big=False, labels=()):
    """A 1024-byte MRC2014 header (little-endian unless `big`)."""
    e = ">" if big else "<"
    mx, my, mz = mxyz or (nx, ny, nz)
    cx, cy, cz = cell or (mx * 1.25, my * 1.25, mz * 1.25)
    h = struct.pack(e + "4i", nx, ny, nz, mode)
    h += struct.pack(e + "3i", *start)
    h += struct.pack(e + "3i", mx, my, mz)
    h += struct.pack(e + "6f", cx, cy, cz, 90.0, 90.0, 90.0)
    h += struct.pack(e + "3i", *mapcrs)
    h += struct.pack(e + "3f", 0.0, 1.0, 0.5)
    h += struct.pack(e + "2i", ispg, nsymbt)
    h = h.ljust(104, b"\0") + exttyp + struct.pack(e + "i", 20140)
    h = h.ljust(196, b"\0") + struct.pack(e + "3f", 0.0, 0.0, 0.0)
    h += b"MAP " + (b"\x11\x11\0\0" if big else b"\x44\x44\0\0")
    h += struct.pack(e + "fi", 0.25, len(labels))
    for label in labels:
        h += label.encode("ascii").ljust(80, b"\0")
    return h.ljust(1024, b"\0")


def fei1_record():
    """One 768-byte FEI1 extended-header record: 200 kV, x 80 000, 1.25 A, 1 s, camera."""
    r = bytearray(768)
    struct.pack_into("<i", r, 0, 768)
    struct.pack_into("<I", r, 8, (1 << 1) | (1 << 5) | (1 << 14) | (1 << 15) | (1 << 31))
    r[20:28] = b"SYNTHSCP"
    struct.pack_into("<d", r, 84, 200000.0)
    struct.pack_into("<dd", r, 156, 1.25e-10, 1.25e-10)
    struct.pack_into("<d", r, 289, 80000.0)
    struct.pack_into("<I", r, 297, (1 << 16) | (1 << 19))
    struct.pack_into("<d", r, 419, 1.0)
    r[435:445] = b"SYNTH-CAM1"
    return bytes(r)


def gz(data):
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="") as f:
        f.write(data)
    return buf.getvalue()


def seeds():
    out = {}
    # A 8 x 6 u16 image with a one-record FEI1 extended header.
    ext = fei1_record()
    pix = struct.pack("<48H", *[(i * 1031) % 65536 for i in range(48)])
    out["valid-mrc-fei1-u16-image.mrc"] = (
        header(8, 6, 1, 6, nsymbt=len(ext), exttyp=b"FEI1", labels=["synthetic"]) + ext + pix
    )
    # A 4 x 3 x 2 f32 volume stored with columns along Z, rows along X, sections along Y.
    vol = struct.pack("<24f", *[i * 0.5 - 3.0 for i in range(24)])
    out["valid-mrc-f32-volume-axis-order.mrc"] = (
        header(4, 3, 2, 2, mxyz=(3, 2, 4), mapcrs=(3, 1, 2), ispg=1, start=(0, -1, 2)) + vol
    )
    # A big-endian f16 image (6 wide: a big-endian NX of 3 or 4 starts like DM3/DM4, whose
    # magic the crate's sniffer checks first).
    half = struct.pack(">24e", *[i / 4 for i in range(24)])
    out["valid-mrc-f16-image-big-endian.mrc"] = header(6, 4, 1, 12, big=True) + half
    # A gzip-compressed stack of three 5 x 4 signed-byte images.
    stack = bytes((i * 7) % 256 for i in range(60))
    out["valid-mrc-i8-stack.mrc.gz"] = gz(header(5, 4, 3, 0, mxyz=(5, 4, 1)) + stack)

    # The header promises 64 x 64 f32 values; 100 bytes follow.
    out["bad-mrc-truncated-data.mrc"] = header(64, 64, 1, 2) + bytes(100)
    # MAPC, MAPR, MAPS = 1, 1, 3 is no axis order.
    out["bad-mrc-bad-axis-order.mrc"] = header(2, 2, 2, 2, mapcrs=(1, 1, 3), ispg=1) + bytes(32)
    # 65535^3 u16 samples: a size bomb refused before allocating.
    out["bad-mrc-huge-dimensions.mrc"] = header(65535, 65535, 65535, 6, ispg=1) + bytes(64)
    # NSYMBT says 1 GiB of extended header.
    out["bad-mrc-extended-header-past-end.mrc"] = header(2, 2, 1, 2, nsymbt=1 << 30) + bytes(16)
    # Mode 101 (4-bit) is refused.
    out["bad-mrc-mode-101.mrc"] = header(4, 4, 1, 101) + bytes(8)
    # A gzip stream cut in half.
    whole = gz(header(16, 16, 1, 2) + struct.pack("<256f", *range(256)))
    out["bad-mrc-truncated.mrc.gz"] = whole[: len(whole) // 2]
    return out


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for name, data in sorted(seeds().items()):
        (OUT / name).write_bytes(data)
        print(f"{name}: {len(data)} bytes")


if __name__ == "__main__":
    main()
