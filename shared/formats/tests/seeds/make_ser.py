#!/usr/bin/env python3
"""Writes the TIA SER/EMI seeds of the read_instrument_file fuzz target.

Deterministic and stdlib-only; every file is synthetic, built from the layout described in
shared/formats/src/ser/mod.rs (no bytes from real instrument files). Run from anywhere:

    python3 shared/formats/tests/seeds/make_ser.py

valid-* must read (with no companion files), bad-* must be refused.
"""

import struct
from pathlib import Path

OUT = Path(__file__).resolve().parents[4] / "fuzz" / "corpus" / "read_instrument_file"


def ser(version, dims, total, elems, positions=None):
    """A SER file: header, dimension arrays, offset arrays for `total` elements, the elements
    one after another, then one tag per element.

    dims: (size, offset, delta, element, description, units)
    elems: (calibrations [(offset, delta, element)] x first, type code, sizes x first, data)
    """
    wide = version == 0x0220
    two_d = len(elems[0][2]) == 2
    off_fmt = "<Q" if wide else "<I"
    w = 8 if wide else 4
    tag_id = 0x4142 if positions else 0x4152
    b = bytearray(struct.pack("<HHHIIII", 0x4949, 0x0197, version,
                              0x4122 if two_d else 0x4120, tag_id, total, len(elems)))
    array_field = len(b)
    b += bytes(w)
    b += struct.pack("<I", len(dims))
    for size, off, delta, el, desc, units in dims:
        b += struct.pack("<IddII", size, off, delta, el, len(desc)) + desc.encode()
        b += struct.pack("<I", len(units)) + units.encode()
    array_at = len(b)
    struct.pack_into(off_fmt, b, array_field, array_at)
    b += bytes(2 * w * total)
    for i, (cals, code, sizes, data) in enumerate(elems):
        struct.pack_into(off_fmt, b, array_at + i * w, len(b))
        for off, delta, el in cals:
            b += struct.pack("<ddI", off, delta, el)
        b += struct.pack("<H", code)
        b += b"".join(struct.pack("<I", s) for s in sizes)
        b += data
    for i in range(len(elems)):
        struct.pack_into(off_fmt, b, array_at + (total + i) * w, len(b))
        b += struct.pack("<HHI", tag_id, 0, 1_700_000_000 + i)
        if positions:
            b += struct.pack("<dd", *positions[i])
    return bytes(b)


def image_u16(nx, ny):
    data = b"".join(struct.pack("<H", (x * 37 + y * 101) % 65536)
                    for y in range(ny) for x in range(nx))
    return ([(-4e-9, 1e-9, 0), (-3e-9, 1e-9, 0)], 2, [nx, ny], data)


def spectrum_u32(n, shift):
    data = b"".join(struct.pack("<I", 1000 // (1 + abs(c - 20 - shift))) for c in range(n))
    return ([(0.0, 10.0, 0)], 3, [n], data)


def tagged(tag, text):
    """A string of TIA's EMI: 60 00, the tag, the length, the characters."""
    raw = text.encode()
    return b"\x60\x00" + bytes(tag) + struct.pack("<I", len(raw)) + raw


def emi(stem, n):
    info = (
        "<ObjectInfo><ExperimentalDescription><Root>"
        "<Data><Label>High tension</Label><Value>200</Value><Unit>kV</Unit></Data>"
        "<Data><Label>Mode</Label><Value>STEM</Value><Unit></Unit></Data>"
        "</Root></ExperimentalDescription><AcquireDate>Mon Jan 1 10:00:00 2024</AcquireDate>"
        "</ObjectInfo>"
    )
    b = bytearray(b"JK\x00\x02\x00\x00\x00\x00")
    b += tagged((0x00, 0x01), "Synthetic Acquire")
    for k in range(1, n + 1):
        b += tagged((0x00, 0x01), f"Acquire D{k}")
        b += tagged((0x40, 0x04), f"C:\\data\\{stem}_{k}.ser")
        b += tagged((0x19, 0x04), info)
    return bytes(b)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    number = [(1, 0.0, 1.0, 0, "Number", "")]
    image = ser(0x0210, number, 1, [image_u16(8, 6)])
    line = [(4, 0.0, 2e-9, 0, "Position", "meters")]
    spectra = ser(0x0220, line, 4, [spectrum_u32(64, i) for i in range(4)],
                  positions=[(i * 2e-9, 0.0) for i in range(4)])
    stack = ser(0x0210, [(3, 0.0, 1.0, 0, "Number", "")], 3, [image_u16(4, 4)] * 3)

    # Two elements at the same offset: the second overlaps the first.
    overlap = bytearray(stack)
    array_at = struct.unpack_from("<I", overlap, 22)[0]
    struct.pack_into("<I", overlap, array_at + 4, struct.unpack_from("<I", overlap, array_at)[0])
    # More valid elements than elements.
    valid_gt_total = bytearray(image)
    struct.pack_into("<I", valid_gt_total, 18, 5)
    # An element claiming 65536 × 65536 pixels (a 16 GiB image from a tiny file).
    bomb = ser(0x0210, number, 1, [([(0.0, 1e-9, 0)] * 2, 8, [65536, 65536], bytes(64))])
    # Four billion elements whose offset arrays are not there.
    many = bytearray(image)
    struct.pack_into("<I", many, 14, 0xFFFF_FFF0)
    # An unknown data type.
    dtype = ser(0x0210, number, 1, [([(0.0, 1e-9, 0)] * 2, 11, [2, 2], bytes(16))])

    seeds = {
        "valid-ser-image-u16-8x6.ser": image,
        "valid-ser-line-4x64-u32.ser": spectra,
        "valid-ser-stack-3x4x4-u16.ser": stack,
        "bad-ser-truncated.ser": image[: len(image) - 40],
        "bad-ser-overlapping-elements.ser": bytes(overlap),
        "bad-ser-valid-gt-total.ser": bytes(valid_gt_total),
        "bad-ser-bomb-65536x65536.ser": bomb,
        "bad-ser-4g-elements.ser": bytes(many),
        "bad-ser-dtype-11.ser": dtype,
        # An EMI is only metadata: alone (no SER beside it) it must be refused.
        "bad-emi-no-ser.emi": emi("bad-emi-no-ser", 2),
        "bad-emi-truncated.emi": emi("bad-emi-truncated", 1)[:60],
    }
    for name, data in seeds.items():
        (OUT / name).write_bytes(data)
        print(f"{OUT / name} ({len(data)} bytes)")


if __name__ == "__main__":
    main()
