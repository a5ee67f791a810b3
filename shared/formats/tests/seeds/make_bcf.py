#!/usr/bin/env python3
"""Writes the BCF seeds of the `read_instrument_file` fuzz target.

Deterministic and stdlib-only; every byte is synthetic. Writes into
fuzz/corpus/read_instrument_file/:
  valid-bcf-map-3x2.bcf      a 3 x 2 BSE image and a 16-channel EDS map using the three
                             packings (16-bit pulses, 12-bit pulses, instructively packed),
                             in an SFS container of 544-byte chunks (chained file table)
  valid-bcf-compressed.bcf   the same with both files zlib-compressed ("AACS")
  bad-bcf-truncated.bcf      the first half of the valid file
  bad-bcf-chain-loop.bcf     the file table's chunk chain points back at itself
  bad-bcf-huge-map.bcf       the map claims 100000 x 100000 pixels
  bad-bcf-zlib-claim.bcf     a compressed header whose blocks claim 4 GiB x 1000
  bad-bcf-bad-packing.bcf    a packed spectrum with value size 3
  bad-bcf-no-header.bcf      a container without EDSDatabase/HeaderData

Layout as in shared/formats/src/bcf/{sfs,spectrum_image}.rs.
Run: python3 shared/formats/tests/seeds/make_bcf.py
"""

import base64
import os
import struct
import zlib

OUT = os.path.join(
    os.path.dirname(os.path.abspath(__file__)),
    "..", "..", "..", "..", "fuzz", "corpus", "read_instrument_file",
)


def sfs(files, chunk):
    """An SFS container with folder EDSDatabase holding `files` [(name, bytes)]."""
    payload = chunk - 32
    per_tree = payload // 512
    n_entries = len(files) + 1
    tree_chunks = -(-n_entries // per_tree)
    chunks = [(0, b"")]  # chunk 0: the container head
    tree_at = len(chunks)

    def entry(table, size, parent, is_dir, name):
        e = bytearray(512)
        struct.pack_into("<iQ", e, 0, table, size)
        struct.pack_into("<i", e, 40, parent)
        e[220] = 1 if is_dir else 0
        e[224:224 + len(name)] = name.encode()
        return bytes(e)

    tree = [entry(-1, 0, -1, True, "EDSDatabase")]
    nxt = tree_at + tree_chunks
    bodies = []
    for name, data in files:
        n_data = max(1, -(-len(data) // payload))
        n_table = -(-n_data // (payload // 4))
        table_at, data_at = nxt, nxt + n_table
        nxt = data_at + n_data
        tree.append(entry(table_at, len(data), 0, False, name))
        pointers = b"".join(struct.pack("<I", k) for k in range(data_at, data_at + n_data))
        bodies.append((table_at, n_table, pointers, data))
    for i in range(tree_chunks):
        link = tree_at + i + 1 if i + 1 < tree_chunks else 0
        chunks.append((link, b"".join(tree[i * per_tree:(i + 1) * per_tree])))
    for table_at, n_table, pointers, data in bodies:
        step = payload // 4 * 4
        for i in range(n_table):
            link = table_at + i + 1 if i + 1 < n_table else 0
            chunks.append((link, pointers[i * step:(i + 1) * step]))
        for i in range(0, max(len(data), 1), payload):
            chunks.append((0, data[i:i + payload]))
    assert len(chunks) == nxt
    out = bytearray(0x118 + chunk * len(chunks))
    for k, (link, body) in enumerate(chunks):
        at = 0x118 + k * chunk
        struct.pack_into("<I", out, at, link)
        out[at + 32:at + 32 + len(body)] = body
    out[0:8] = b"AAMVHFSS"
    struct.pack_into("<fI", out, 0x124, 2.6, chunk)
    struct.pack_into("<III", out, 0x140, tree_at, n_entries, len(chunks))
    return bytes(out)


def aacs(data, block):
    """Esprit's compression: an "AACS" head, zlib blocks from 0x80."""
    blocks = [data[i:i + block] for i in range(0, len(data), block)]
    out = bytearray(0x80)
    out[0:4] = b"AACS"
    struct.pack_into("<I", out, 4, block)
    struct.pack_into("<I", out, 12, len(blocks))
    for b in blocks:
        z = zlib.compress(b, 6)
        out += struct.pack("<IIII", len(z), len(b), 0, len(z) + 16) + z
    return bytes(out)


def pixel(x, flag, pulses, data):
    return struct.pack("<IHHIHHHI", x, 16, 0, 0x000C0000, flag, 0, pulses, len(data)) + data


def pack12(channels):
    out = b""
    for g in range(0, len(channels), 4):
        grp = channels[g:g + 4]
        c = grp + [0] * (4 - len(grp))
        b = bytes([
            ((c[0] & 0xF) << 4) | (c[1] >> 8), c[0] >> 4, c[2] >> 4,
            c[1] & 0xFF, c[3] & 0xFF, ((c[2] & 0xF) << 4) | (c[3] >> 8),
        ])
        out += b[:[0, 2, 4, 6, 6][len(grp)]]
    return out


def packed_map(width=3, height=2, value_size=1):
    out = bytearray(0x1A0)
    struct.pack_into("<II", out, 0, height, width)
    out += struct.pack("<I", 2)
    p16 = [3, 3, 7, 15]
    out += pixel(0, 0, 4, b"".join(struct.pack("<H", v) for v in p16))
    out += pixel(1, 1, 5, pack12([1, 2, 3, 4, 4]))
    out += struct.pack("<I", 1)
    d = bytes([0, 2, value_size, 3, 5, 0x21, 0x03, 2, 2, 10, 0, 1, 2])
    d += struct.pack("<I", 4)
    out += pixel(0, 3, 2, d) + struct.pack("<HH", 9, 9)
    return bytes(out)


def header(width=3, height=2, channels=16):
    bse = b"".join(struct.pack("<H", i * 100) for i in range(width * height))
    se = bytes(width * height * 2)
    sums = [0] * channels
    for c in [3, 3, 7, 15, 1, 2, 3, 4, 4, 9, 9]:
        sums[c] += 1
    for c, v in [(2, 6), (3, 7), (4, 8), (5, 11), (6, 12)]:
        sums[c] += v
    xml = (
        '<?xml version="1.0" encoding="WINDOWS-1252" standalone="yes"?>'
        '<TRTSpectrumDatabase><RTHeader/>'
        '<ClassInstance Type="TRTSpectrumDatabase" Name="Synthetic">'
        '<Header><Date>9.8.2016</Date><Time>14:8:10</Time><FileVersion>1</FileVersion></Header>'
        '<ClassInstance Type="TRTSEMData"><HV>2E1</HV><WD>8,5</WD><Mag>1500</Mag>'
        '<DX>0.25</DX><DY>0.5</DY></ClassInstance>'
        f'<ClassInstance Type="TRTDSPConfiguration"><ImageWidth>{width}</ImageWidth>'
        f'<ImageHeight>{height}</ImageHeight></ClassInstance>'
        f'<ClassInstance Type="TRTImageData"><ItemSize>2</ItemSize><Width>{width}</Width>'
        f'<Height>{height}</Height><PlaneCount>2</PlaneCount>'
        f'<Plane0><Description>BSE</Description><Data>{base64.b64encode(bse).decode()}</Data>'
        f'</Plane0><Plane1><Description>SE</Description>'
        f'<Data>{base64.b64encode(se).decode()}</Data></Plane1></ClassInstance>'
        '<ChCount>4096</ChCount><DetectorCount>1</DetectorCount>'
        '<SpectrumData0><ClassInstance Type="TRTSpectrum"><TRTHeaderedClass>'
        '<ClassInstance Type="TRTDetectorHeader"><Type>XFlash \u00b5</Type></ClassInstance>'
        '</TRTHeaderedClass><ClassInstance Type="TRTSpectrumHeader">'
        f'<ChannelCount>{channels}</ChannelCount><CalibAbs>-4.7E-1</CalibAbs>'
        '<CalibLin>1E-2</CalibLin></ClassInstance>'
        f'<Channels>{",".join(map(str, sums))},</Channels></ClassInstance></SpectrumData0>'
        '</ClassInstance></TRTSpectrumDatabase>'
    )
    return xml.encode("cp1252")


def main():
    os.makedirs(OUT, exist_ok=True)
    hdr, hmap = header(), packed_map()
    valid = sfs([("HeaderData", hdr), ("SpectrumData0", hmap)], 544)
    seeds = {
        "valid-bcf-map-3x2.bcf": valid,
        "valid-bcf-compressed.bcf": sfs(
            [("HeaderData", aacs(hdr, 700)), ("SpectrumData0", aacs(hmap, 100))], 1000
        ),
        "bad-bcf-truncated.bcf": valid[: len(valid) // 2],
    }
    loop = bytearray(valid)
    struct.pack_into("<I", loop, 0x118 + 2 * 544, 1)  # table chunk 2 -> 1
    seeds["bad-bcf-chain-loop.bcf"] = bytes(loop)
    huge = bytearray(hmap)
    struct.pack_into("<II", huge, 0, 100_000, 100_000)
    seeds["bad-bcf-huge-map.bcf"] = sfs([("HeaderData", hdr), ("SpectrumData0", bytes(huge))], 4096)
    claim = bytearray(aacs(hdr, 700))
    struct.pack_into("<I", claim, 4, 0xFFFFFFFF)
    struct.pack_into("<I", claim, 12, 1000)
    seeds["bad-bcf-zlib-claim.bcf"] = sfs([("HeaderData", bytes(claim)), ("SpectrumData0", hmap)], 4096)
    seeds["bad-bcf-bad-packing.bcf"] = sfs(
        [("HeaderData", hdr), ("SpectrumData0", packed_map(value_size=3))], 4096
    )
    seeds["bad-bcf-no-header.bcf"] = sfs([("SpectrumData0", hmap)], 4096)
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        print(f"{name}: {len(data)} bytes")


if __name__ == "__main__":
    main()
