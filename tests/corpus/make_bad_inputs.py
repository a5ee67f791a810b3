#!/usr/bin/env python3
"""Writes the bad-input corpus of tests/tests/bad_inputs.rs into tests/corpus/bad-inputs/.

Deterministic and stdlib only (a minimal msgpack writer is below), so the files can be
regenerated and compared byte for byte:

    python3 tests/corpus/make_bad_inputs.py && git diff --stat tests/corpus

What each file is, how the test delivers it and what must come back is in
bad-inputs/cases.json, which this script does not touch. Cases that are big (the oversized
payloads) or derived from a valid frame at test time (duplicate sequence numbers) have no
file; the test builds them from their description.
"""

import hashlib
import json
import os
import struct
import zlib

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bad-inputs")
# The fuzz target decode_image found this one: 752 bytes declaring 65286 x 1023 pixels.
SPARSE_JPEG = os.path.join(
    os.path.dirname(os.path.abspath(__file__)),
    "../../fuzz/corpus/decode_image/bad-jpeg-sparse-65286x1023.jpg",
)


def read(path):
    with open(path, "rb") as f:
        return f.read()

# The instrument and runs the test sets up before delivering the corpus.
RUN = "corpus"
STOPPED_RUN = "corpus-stopped"
FRAMES_BUCKET = "tessera_frames"


def noise(n, seed):
    """`n` deterministic pseudo-random bytes (SHA-256 in counter mode)."""
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(f"{seed}:{i}".encode()).digest()
        i += 1
    return bytes(out[:n])


# ---------------------------------------------------------------- msgpack (named fields)


def mp(v):
    """Encodes `v` as msgpack the way rmp_serde::to_vec_named does for these types."""
    if v is None:
        return b"\xc0"
    if v is True:
        return b"\xc3"
    if v is False:
        return b"\xc2"
    if isinstance(v, int):
        if 0 <= v < 0x80:
            return bytes([v])
        if 0 <= v <= 0xFF:
            return b"\xcc" + struct.pack(">B", v)
        if 0 <= v <= 0xFFFF:
            return b"\xcd" + struct.pack(">H", v)
        if 0 <= v <= 0xFFFFFFFF:
            return b"\xce" + struct.pack(">I", v)
        if v >= 0:
            return b"\xcf" + struct.pack(">Q", v)
        return b"\xd3" + struct.pack(">q", v)
    if isinstance(v, float):
        return b"\xcb" + struct.pack(">d", v)
    if isinstance(v, str):
        b = v.encode()
        if len(b) < 32:
            return bytes([0xA0 | len(b)]) + b
        if len(b) <= 0xFF:
            return b"\xd9" + bytes([len(b)]) + b
        return b"\xda" + struct.pack(">H", len(b)) + b
    if isinstance(v, (bytes, bytearray)):
        if len(v) <= 0xFF:
            return b"\xc4" + bytes([len(v)]) + bytes(v)
        if len(v) <= 0xFFFF:
            return b"\xc5" + struct.pack(">H", len(v)) + bytes(v)
        return b"\xc6" + struct.pack(">I", len(v)) + bytes(v)
    if isinstance(v, list):
        head = bytes([0x90 | len(v)]) if len(v) < 16 else b"\xdc" + struct.pack(">H", len(v))
        return head + b"".join(mp(x) for x in v)
    if isinstance(v, dict):
        head = bytes([0x80 | len(v)]) if len(v) < 16 else b"\xde" + struct.pack(">H", len(v))
        return head + b"".join(mp(k) + mp(x) for k, x in v.items())
    raise TypeError(type(v))


def frame(run=RUN, seq=0, width=64, height=64, dtype="u8", pixels=None, **changes):
    """A frame message as a dict (field order as in tessera_protocol::Frame)."""
    if pixels is None:
        pixels = {"inline": bytes((i * 7) % 251 for i in range(width * height))}
    f = {
        "version": 1,
        "run": run,
        "seq": seq,
        "timestamp_ms": 1_700_000_000_000,
        "width": width,
        "height": height,
        "dtype": dtype,
        "pixels": pixels,
    }
    f.update(changes)
    return f


def object_pixels(name, size, bucket=FRAMES_BUCKET):
    return {"object": {"bucket": bucket, "name": name, "size": size}}


def run_start(run, instrument="tem-1", **changes):
    s = {
        "version": 1,
        "run": run,
        "instrument": instrument,
        "sample": "corpus",
        "modality": "STEM",
        "started_at_ms": 0,
    }
    s.update(changes)
    return s


def run_stop(run):
    return {"version": 1, "run": run, "reason": "success", "frames": 1}


# ---------------------------------------------------------------- images


def png(width, height, rows=None, declared=None):
    """An 8-bit grayscale PNG (stored deflate blocks, so the bytes never depend on zlib)."""
    dw, dh = declared or (width, height)
    if rows is None:
        rows = [bytes((x * 3 + y * 5) % 256 for x in range(width)) for y in range(height)]
    raw = b"".join(b"\x00" + r for r in rows)

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", dw, dh, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw, 0))
        + chunk(b"IEND", b"")
    )


def tiff(width, height, bits, data, sample_format=1, compression=1, byte_count=None):
    """A little-endian one-strip grayscale TIFF holding `data`."""
    entries = [
        (256, 4, width),  # ImageWidth, LONG
        (257, 4, height),  # ImageLength
        (258, 3, bits),  # BitsPerSample, SHORT
        (259, 3, compression),  # Compression
        (262, 3, 1),  # PhotometricInterpretation: BlackIsZero
        (273, 4, 0),  # StripOffsets (patched below)
        (277, 3, 1),  # SamplesPerPixel
        (278, 4, height),  # RowsPerStrip
        (279, 4, len(data) if byte_count is None else byte_count),  # StripByteCounts
        (339, 3, sample_format),  # SampleFormat: 1 uint, 3 float
    ]
    ifd_len = 2 + 12 * len(entries) + 4
    data_offset = 8 + ifd_len
    out = bytearray(b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", len(entries)))
    for tag, typ, value in entries:
        if tag == 273:
            value = data_offset
        packed = struct.pack("<H", value) + b"\x00\x00" if typ == 3 else struct.pack("<I", value)
        out += struct.pack("<HHI", tag, typ, 1) + packed
    out += struct.pack("<I", 0)  # no next IFD
    return bytes(out) + data


def gray16(width, height):
    return b"".join(
        struct.pack("<H", (x * 257 + y * 131) % 65536) for y in range(height) for x in range(width)
    )


def floats(width, height, fmt, bad_at, bad):
    vals = [float((i * 37) % 1000) for i in range(width * height)]
    vals[bad_at] = bad
    return b"".join(struct.pack("<" + fmt, v) for v in vals)


def jpeg_truncated():
    """SOI, a JFIF header and the start of a scan with no end-of-image marker."""
    app0 = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sos = b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00"
    return b"\xff\xd8\xff\xe0" + struct.pack(">H", len(app0) + 2) + app0 + sos + noise(200, "jpg")


def jpeg_corrupt():
    """SOI, garbage and EOI: no frame header at all."""
    return b"\xff\xd8" + noise(300, "jpeg-corrupt").replace(b"\xff", b"\x00") + b"\xff\xd9"


def files():
    good_png = png(64, 64)
    good_tiff = tiff(64, 64, 16, gray16(64, 64))
    nested = b""
    for _ in range(100):
        nested += b"\x81\xa1a"  # {"a": {"a": ...
    nested += b"\xc0"
    valid = mp(frame(seq=900))
    return {
        # -------- image files, decoded by the instrument (tessera publish)
        "img-zero-byte.tif": b"",
        "img-truncated.png": good_png[: len(good_png) // 2],
        "img-truncated.tif": good_tiff[: len(good_tiff) // 3],
        "img-truncated.jpg": jpeg_truncated(),
        "img-corrupt.png": good_png[:41] + noise(len(good_png) - 53, "png") + good_png[-12:],
        "img-corrupt-ifd.tif": b"II*\x00" + struct.pack("<I", 1_000_000) + noise(64, "ifd"),
        "img-corrupt-lzw.tif": tiff(64, 64, 8, noise(2000, "lzw"), compression=5),
        "img-corrupt.jpg": jpeg_corrupt(),
        "img-bomb-100000x100000.tif": tiff(100_000, 100_000, 8, b"", byte_count=0xFFFFFFFF),
        "img-bomb-100000x100000.png": png(1, 1, declared=(100_000, 100_000)),
        "img-jpeg-sparse-65286x1023.jpg": read(SPARSE_JPEG),
        "img-12bit.tif": tiff(8, 8, 12, noise(96, "12bit")),
        "img-nan.tif": tiff(16, 16, 32, floats(16, 16, "f", 37, float("nan")), sample_format=3),
        "img-not-an-image.bin": b"GIF89a" + noise(120, "gif"),
        # -------- raw samples, sent as a frame's inline pixels
        "px-nan-f32.raw": floats(64, 64, "f", 3 * 64 + 5, float("nan")),
        "px-inf-f64.raw": floats(64, 64, "d", 4095, float("inf")),
        "px-constant-u16.raw": struct.pack("<H", 1000) * (64 * 64),
        "px-gray-u8-64x64.raw": bytes((i * 7) % 251 for i in range(64 * 64)),
        "px-gray-u8-16x16.raw": bytes((i * 7) % 251 for i in range(16 * 16)),
        # -------- objects a frame refers to
        "obj-short.raw": noise(100, "short"),
        "obj-zero-byte.raw": b"",
        # -------- messages published as-is
        "msg-zero-byte.bin": b"",
        "msg-random-bytes.bin": b"\x13" + noise(255, "random"),
        "msg-json.bin": json.dumps({"version": 1, "run": RUN, "seq": 1}).encode(),
        "msg-truncated.msgpack": valid[: len(valid) - 1000],
        "msg-trailing-bytes.msgpack": mp(frame(seq=901)) + b"\xc0\xc0\xc0",
        "msg-version-99.msgpack": mp(frame(seq=902, version=99)),
        "msg-version-0.msgpack": mp(frame(seq=903, version=0)),
        "msg-missing-pixels.msgpack": mp({k: v for k, v in frame(seq=904).items() if k != "pixels"}),
        "msg-missing-version.msgpack": mp({k: v for k, v in frame(seq=905).items() if k != "version"}),
        "msg-wrong-type.msgpack": mp({**frame(seq=906), "width": "64"}),
        "msg-unknown-dtype.msgpack": mp(frame(seq=907, dtype="u12")),
        "msg-deep-nesting.msgpack": b"\x82\xa7version\x01\xa1a" + nested,
        "msg-bad-run-id.msgpack": mp(frame(run="a.b", seq=908)),
        "msg-frame-bomb.msgpack": mp(
            frame(
                seq=909,
                width=100_000,
                height=100_000,
                dtype="u16",
                pixels=object_pixels("corpus/bomb.raw", 20_000_000_000),
            )
        ),
        "msg-dangling-object.msgpack": mp(
            frame(seq=910, pixels=object_pixels("corpus/never-uploaded.raw", 64 * 64))
        ),
        "msg-foreign-bucket.msgpack": mp(
            frame(seq=911, pixels=object_pixels("corpus/x.raw", 64 * 64, bucket="elsewhere"))
        ),
        "msg-object-short.msgpack": mp(
            frame(seq=912, pixels=object_pixels("corpus/obj-short.raw", 64 * 64))
        ),
        "msg-object-zero-byte.msgpack": mp(
            frame(seq=913, pixels=object_pixels("corpus/obj-zero-byte.raw", 64 * 64))
        ),
        "msg-unknown-run.msgpack": mp(frame(run="ghost-run", seq=0)),
        "msg-stop-before-start.msgpack": mp(run_stop("never-started")),
        "msg-frame-after-stop.msgpack": mp(frame(run=STOPPED_RUN, seq=1)),
        "msg-start-missing-modality.msgpack": mp(
            {k: v for k, v in run_start("no-modality").items() if k != "modality"}
        ),
        "msg-start-wrong-instrument.msgpack": mp(run_start("wrong-inst", instrument="tem-2")),
        "msg-start-bad-params.msgpack": mp(run_start("bad-params", params={"chip": 1})),
        "msg-frame-other-instrument.msgpack": mp(frame(seq=914)),
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in sorted(files().items()):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    total = sum(len(d) for d in files().values())
    print(f"wrote {len(files())} files, {total} bytes, to {OUT}")


if __name__ == "__main__":
    main()
