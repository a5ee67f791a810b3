"""atomap's HyperSpy test file -> float32 single-page greyscale TIFF (+ a 16-bit PNG copy).

The image lives at ``Experiments/<name>/data`` (HyperSpy 3.x layout; in atomap 0.4.2's
``test_ADF_cropped.hdf5`` it is ``Experiments/__unnamed__/data``, float16, 400 x 380 rows x cols).
Needs numpy + h5py.  The PNG exists because the Rust ``image`` crate (0.25) does not decode
Gray32F TIFFs; the ``tiff`` crate does (``DecodingResult::F32``).

Usage: python -m tessera_provision.samples --hdf5 X.hdf5 --tif out.tif --png out.png
"""
import argparse
import os
import struct
import zlib

import numpy as np


def hyperspy_image(path):
    """The first 2-D ``data`` dataset under /Experiments, as float32."""
    import h5py

    with h5py.File(path, "r") as f:
        for name in f["Experiments"]:
            ds = f["Experiments"][name].get("data")
            if ds is not None and ds.ndim == 2:
                return np.asarray(ds[()], dtype=np.float32)
    raise ValueError("%s: no 2-D Experiments/*/data dataset" % path)


def _atomic_write(path, data):
    tmp = "%s.tmp-%d" % (path, os.getpid())
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def tiff_bytes(img):
    """Minimal little-endian baseline TIFF: one page, one strip, uncompressed float32 grey."""
    img = np.ascontiguousarray(img, dtype="<f4")
    h, w = img.shape
    data_off = 8
    ifd_off = data_off + img.nbytes
    # (tag, type, count, value); type 3 = SHORT, 4 = LONG
    entries = [(256, 4, 1, w), (257, 4, 1, h), (258, 3, 1, 32), (259, 3, 1, 1),  # width, height, bits, no compression
               (262, 3, 1, 1), (273, 4, 1, data_off), (277, 3, 1, 1),             # BlackIsZero, strip offset, 1 sample
               (278, 4, 1, h), (279, 4, 1, img.nbytes), (284, 3, 1, 1),           # rows/strip, strip bytes, chunky
               (339, 3, 1, 3)]                                                     # SampleFormat = IEEE float
    ifd = struct.pack("<H", len(entries))
    for tag, typ, count, value in entries:
        ifd += struct.pack("<HHI", tag, typ, count) + (
            struct.pack("<HH", value, 0) if typ == 3 else struct.pack("<I", value))
    ifd += struct.pack("<I", 0)  # no next IFD
    return b"II*\x00" + struct.pack("<I", ifd_off) + img.tobytes() + ifd


def png16_bytes(img):
    """16-bit greyscale PNG, min..max scaled to 0..65535."""
    lo, hi = float(img.min()), float(img.max())
    v = np.round((img - lo) / max(hi - lo, 1e-12) * 65535).astype(">u2")
    h, w = v.shape
    raw = b"".join(b"\x00" + v[r].tobytes() for r in range(h))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--hdf5", required=True)
    ap.add_argument("--tif", required=True)
    ap.add_argument("--png")
    a = ap.parse_args(argv)
    img = hyperspy_image(a.hdf5)
    if not np.isfinite(img).all():
        raise SystemExit("%s: image has non-finite values" % a.hdf5)
    _atomic_write(a.tif, tiff_bytes(img))
    if a.png:
        _atomic_write(a.png, png16_bytes(img))
    print('{"shape": [%d, %d], "min": %g, "max": %g}' % (img.shape + (img.min(), img.max())))


if __name__ == "__main__":
    main()
