#!/usr/bin/env python3
"""Writes the HDF5 seeds (Velox EMD, Berkeley EMD, HyperSpy) of the read_instrument_file
fuzz target into fuzz/corpus/read_instrument_file/.

Not stdlib-only: Python's standard library cannot write HDF5, so this script uses h5py
(with numpy), as installed in Tessera's provisioning venv:

    ~/.cache/tessera/venv/bin/python shared/formats/tests/seeds/make_emd.py

Every file is synthetic (no bytes from the GPL test files) and deterministic: object
timestamps are off and the same library writes the same bytes. valid-emd-* seeds must read;
bad-emd-* seeds must be refused:
- bad-emd-truncated.emd: a valid Velox file cut in half;
- bad-emd-superblock.emd: a valid Velox file whose superblock points the root group at
  junk (the superblock's own bytes);
- bad-emd-huge-shape.emd: a Velox image declared 200 000 x 200 000 (never written, so the
  file stays small): an implausible size, refused before any allocation;
- bad-emd-stream-channel.emd: a spectrum stream with an event beyond its channel count;
- bad-emd-external-storage.emd: image samples stored in an external file;
- bad-emd-other-layout.h5: an HDF5 file that is none of the three layouts.
"""

import json
import pathlib
import sys

try:
    import h5py
    import numpy as np
except ImportError:  # pragma: no cover
    sys.exit("make_emd.py needs h5py and numpy: run it with ~/.cache/tessera/venv/bin/python")

ROOT = pathlib.Path(__file__).resolve().parents[4]
OUT = ROOT / "fuzz" / "corpus" / "read_instrument_file"

IMAGE_JSON = {
    "BinaryResult": {
        "Detector": "HAADF",
        "DetectorIndex": "3",
        "PixelSize": {"width": "2e-10", "height": "2e-10"},
        "Offset": {"x": "0", "y": "0"},
        "PixelUnitX": "m",
        "PixelUnitY": "m",
    },
    "Detectors": {
        "Detector-3": {"DetectorName": "HAADF", "DetectorType": "ScanningDetector"},
        "Detector-4": {
            "DetectorName": "SuperXG21",
            "DetectorType": "AnalyticalDetector",
            "Dispersion": "10",
            "OffsetEnergy": "-1000",
        },
    },
    "Instrument": {"InstrumentClass": "Synthetic"},
    "Optics": {"AccelerationVoltage": "200000"},
    "Scan": {
        "DwellTime": "1e-6",
        "FrameTime": "0.5",
        "ScanSize": {"width": "20", "height": "16"},
        "ScanArea": {"left": "0", "top": "0", "right": "0.25", "bottom": "0.25"},
    },
    "Acquisition": {"AcquisitionStartDatetime": {"DateTime": "1700000000"}},
}


def new_file(path):
    """An HDF5 file whose bytes depend only on what is written into it."""
    f = h5py.File(path, "w", libver="earliest", track_order=False)
    return f


def dataset(group, name, data, **kw):
    return group.create_dataset(name, data=data, track_times=False, **kw)


def text(group, name, s):
    dataset(group, name, np.array([s.encode()], dtype=h5py.string_dtype("ascii")))


def metadata(group, docs):
    rows = 4096
    m = np.zeros((rows, len(docs)), dtype=np.uint8)
    for c, d in enumerate(docs):
        b = json.dumps(d, sort_keys=True).encode()
        m[: len(b), c] = np.frombuffer(b, dtype=np.uint8)
    dataset(group, "Metadata", m)


def velox(path, stream, image_shape=(4, 5, 2), write_image=True, external=None):
    with new_file(path) as f:
        text(f, "Version", json.dumps({"version": "4", "format": "Velox"}))
        img = f.create_group("Data/Image/0000000000000000000000000000000a")
        y, x, frames = image_shape
        if write_image:
            v = (np.arange(y * x * frames, dtype=np.uint16) * 7).reshape(image_shape)
            dataset(img, "Data", v)
        elif external:
            img.create_dataset(
                "Data", shape=image_shape, dtype=np.uint8, external=[(external, 0, 4096)],
                track_times=False,
            )
        else:
            img.create_dataset(
                "Data", shape=image_shape, dtype=np.uint16, chunks=(256, 256, 1),
                track_times=False,
            )
        metadata(img, [IMAGE_JSON] * min(frames, 2))
        if stream is not None:
            st = f.create_group("Data/SpectrumStream/0000000000000000000000000000000b")
            text(st, "AcquisitionSettings", json.dumps({"bincount": "16", "StreamEncoding": "uint16"}))
            dataset(st, "Data", np.array(stream, dtype=np.uint16).reshape(-1, 1))
            sj = json.loads(json.dumps(IMAGE_JSON))
            sj["BinaryResult"]["Detector"] = "SuperXG2"
            metadata(st, [sj])


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    # 4 x 5 pixels, 2 frames; counts in channels 3 and 7, pixel markers 65535.
    stream = [3, 3, 65535, 7] + [65535] * 19 + [3, 12]
    valid = OUT / "valid-emd-velox.emd"
    velox(valid, stream)

    with new_file(OUT / "valid-emd-berkeley.emd") as f:
        f.attrs["version_major"] = np.int32(0)
        f.attrs["version_minor"] = np.int32(2)
        g = f.create_group("signals/probe")
        g.attrs["emd_group_type"] = np.int32(1)
        dataset(g, "data", np.arange(6, dtype=np.int32).reshape(3, 2))
        d1 = dataset(g, "dim1", np.array([0.0, 0.25, 0.5]))
        d1.attrs["name"] = np.bytes_(b"x")
        d1.attrs["units"] = np.bytes_(b"[n_m]")
        d2 = dataset(g, "dim2", np.array([0.0, 0.25]))
        d2.attrs["name"] = np.bytes_(b"y")
        d2.attrs["units"] = np.bytes_(b"[n_m]")

    with new_file(OUT / "valid-emd-hyperspy.hspy") as f:
        f.attrs["file_format"] = "HyperSpy"
        f.attrs["file_format_version"] = "3.1"
        g = f.create_group("Experiments/__unnamed__")
        dataset(g, "data", np.arange(12, dtype=np.float32).reshape(3, 4), compression="gzip")
        for i, size in enumerate((3, 4)):
            a = g.create_group(f"axis-{i}")
            a.attrs["size"] = np.int64(size)
            a.attrs["scale"] = 0.5
            a.attrs["offset"] = 0.0
            a.attrs["units"] = "nm"
            a.attrs["navigate"] = False
        g.create_group("metadata/General").attrs["title"] = "synthetic"

    data = valid.read_bytes()
    (OUT / "bad-emd-truncated.emd").write_bytes(data[: len(data) // 2])
    # Superblock v0: the root group's symbol-table entry starts at byte 56, its object
    # header address at 64; point it at byte 8, inside the superblock.
    bad = bytearray(data)
    bad[64:72] = (8).to_bytes(8, "little")
    (OUT / "bad-emd-superblock.emd").write_bytes(bytes(bad))

    velox(OUT / "bad-emd-huge-shape.emd", None, image_shape=(200_000, 200_000, 1), write_image=False)
    velox(OUT / "bad-emd-stream-channel.emd", [1, 65535, 16, 2])
    velox(
        OUT / "bad-emd-external-storage.emd", None, image_shape=(2, 2, 1), write_image=False,
        external="missing-samples.raw",
    )
    # Velox also finds the data of a file without a Version, so this one must lack /Data too.
    with new_file(OUT / "bad-emd-other-layout.h5") as f:
        dataset(f, "temperature", np.arange(3, dtype=np.float32))

    print("wrote", ", ".join(sorted(p.name for p in OUT.iterdir() if "-emd-" in p.name)))


if __name__ == "__main__":
    main()
