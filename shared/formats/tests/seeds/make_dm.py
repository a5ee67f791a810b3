#!/usr/bin/env python3
"""Writes the DM3/DM4 seeds of the read_instrument_file fuzz target.

Deterministic and stdlib-only; every file is synthetic (built tag by tag here, no bytes from
any real file). `valid-dm-*` must read, `bad-dm-*` must be refused
(shared/formats/tests/fuzz_seeds.rs replays them).

    python3 shared/formats/tests/seeds/make_dm.py

Layout (see shared/formats/src/dm/mod.rs): a big-endian header (version 3 or 4, tag-tree
length as u32 / u64, byte-order flag), then the root tag group; groups are sorted, open,
count; entries are kind (20 group, 21 data), name length, name, (DM4: entry size), then a
group or `%%%%`, the type definition and the data in the flagged byte order.
"""

import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                   "../../../../fuzz/corpus/read_instrument_file")

SIMPLE = {2: "h", 3: "i", 4: "H", 5: "I", 6: "f", 7: "d", 8: "B", 9: "b", 10: "B",
          11: "q", 12: "Q"}


class Writer:
    def __init__(self, v4, little):
        self.v4 = v4
        self.e = "<" if little else ">"
        self.little = little

    def length(self, v):
        return struct.pack(">Q" if self.v4 else ">I", v)

    def values(self, code, vs):
        return b"".join(struct.pack(self.e + SIMPLE[code], v) for v in vs)

    def data(self, info, payload):
        return (b"%%%%" + self.length(len(info))
                + b"".join(self.length(v) for v in info) + payload)

    def entry(self, kind, name, body):
        n = name.encode("latin-1")
        head = bytes([kind]) + struct.pack(">H", len(n)) + n
        if self.v4:
            head += struct.pack(">Q", len(body))
        return head + body

    def group(self, entries):
        return b"\x00\x01" + self.length(len(entries)) + b"".join(entries)

    # Entries.
    def g(self, name, entries):
        return self.entry(20, name, self.group(entries))

    def num(self, name, code, v):
        return self.entry(21, name, self.data([code], self.values(code, [v])))

    def text(self, name, s):
        units = list(s.encode("utf-16-le"))
        codes = [units[i] | units[i + 1] << 8 for i in range(0, len(units), 2)]
        return self.entry(21, name, self.data([20, 4, len(codes)], self.values(4, codes)))

    def array(self, name, code, vs):
        return self.entry(21, name, self.data([20, code, len(vs)], self.values(code, vs)))

    def image(self, name, data_type, dims, cal, elem, vs, tags=()):
        dim_code = 12 if self.v4 else 5
        cals = [self.g("", [self.num("Origin", 6, o), self.num("Scale", 6, s),
                            self.text("Units", u)]) for (s, o, u) in cal]
        return self.g("", [
            self.g("ImageData", [
                self.g("Calibrations", [self.g("Dimension", cals)]),
                self.array("Data", elem, vs),
                self.num("DataType", 5, data_type),
                self.g("Dimensions", [self.num("", dim_code, d) for d in dims]),
            ]),
            self.g("ImageTags", list(tags)),
            self.text("Name", name),
        ])

    def thumbnail(self):
        return self.image("Image Of seed", 23, [4, 4], [], 5, [0x00808080] * 16)

    def file(self, root_entries):
        tree = self.group(root_entries)
        head = struct.pack(">I", 4 if self.v4 else 3) + self.length(len(tree))
        head += struct.pack(">I", 1 if self.little else 0)
        return head + tree + b"\x00" * 8


def haadf(w, dims=(8, 6), data=None):
    """A u16 HAADF image with a thumbnail, nm calibration and instrument tags."""
    n = dims[0] * dims[1]
    vs = data if data is not None else [(i * 37) % 4096 for i in range(n)]
    tags = [
        w.g("DataBar", [w.text("Acquisition Date", "1/2/2024"),
                        w.text("Acquisition Time", "10:00:00 AM")]),
        w.g("Microscope Info", [w.num("Voltage", 7, 200000.0),
                                w.num("Indicated Magnification", 7, 1.0e6),
                                w.text("Name", "Synthetic")]),
    ]
    img = w.image("HAADF", 10, list(dims), [(0.05, 0.0, "nm"), (0.05, 0.0, "nm")],
                  4, vs, tags)
    return w.file([
        w.g("ImageList", [w.thumbnail(), img]),
        w.g("Thumbnails", [w.g("", [w.num("ImageIndex", 5, 0)])]),
    ])


def spectrum_image(w):
    """A 2 × 2 × 16 f32 EELS spectrum image, spectrum slowest as DM stores it."""
    vs = [float(e * 100 + y * 10 + x) for e in range(16) for y in range(2) for x in range(2)]
    tags = [w.g("Meta Data", [w.text("Format", "Spectrum image"), w.text("Signal", "EELS")])]
    img = w.image("EELS SI", 2, [2, 2, 16],
                  [(0.1, 0.0, "µm"), (0.1, 0.0, "µm"), (0.5, -40.0, "eV")], 6, vs, tags)
    return w.file([w.g("ImageList", [img])])


def deep(w, levels):
    e = w.g("leaf", [])
    for _ in range(levels):
        e = w.g("g", [e])
    return w.file([e])


def main():
    os.makedirs(OUT, exist_ok=True)
    dm3 = Writer(v4=False, little=True)
    dm4 = Writer(v4=True, little=False)
    seeds = {
        "valid-dm-haadf-u16-le.dm3": haadf(dm3),
        "valid-dm-haadf-u16-be.dm4": haadf(dm4),
        "valid-dm-eels-si-f32.dm4": spectrum_image(Writer(v4=True, little=True)),
    }
    good = haadf(dm3)
    # Cut inside the image's Data array.
    seeds["bad-dm-truncated.dm3"] = good[: len(good) * 2 // 3]
    # A tag kind that is neither 20 (group) nor 21 (data).
    bad = bytearray(haadf(dm4))
    at = bad.index(b"ImageList") - 3
    bad[at] = 7
    seeds["bad-dm-tag-kind.dm4"] = bytes(bad)
    # Dimensions of 2^20 × 2^20 pixels over 12 bytes of data: refused before allocating.
    big = dm4.image("bomb", 10, [1 << 20, 1 << 20], [], 4, [1] * 6)
    seeds["bad-dm-dimension-bomb.dm4"] = dm4.file([dm4.g("ImageList", [big])])
    # The ImageList group claims 2^31 tags.
    bad = bytearray(haadf(dm3))
    at = bad.index(b"ImageList") + len(b"ImageList") + 2
    bad[at:at + 4] = struct.pack(">I", 1 << 31)
    seeds["bad-dm-tag-count.dm3"] = bytes(bad)
    # Groups nested 200 deep.
    seeds["bad-dm-deep-nesting.dm4"] = deep(dm4, 200)
    # Data shorter than its Dimensions say.
    short = dm3.image("short", 10, [8, 8], [], 4, [1] * 10)
    seeds["bad-dm-data-size.dm3"] = dm3.file([dm3.g("ImageList", [short])])
    for name, b in sorted(seeds.items()):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(b)
        print(f"{name}: {len(b)} bytes")


if __name__ == "__main__":
    main()
