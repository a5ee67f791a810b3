"""Checks for scripts/provision.py and scripts/tessera_provision/.

    python3 -m unittest discover -s scripts/tests -v          # fast, stdlib only, offline
    TESSERA_E2E_CACHE=/tmp/tcache python3 -m unittest discover -s scripts/tests -v
        # also provisions (or reuses) that cache and checks the outputs with its venv (needs PyPI once)
"""
import collections
import contextlib
import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
import tempfile
import textwrap
import types
import unittest

SCRIPTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, SCRIPTS)
import provision  # noqa: E402
from tessera_provision import legacy_pth  # noqa: E402


class EnsureTest(unittest.TestCase):
    """The marker logic: skip when intact, redo when missing/corrupt/outdated, never half-done."""

    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.calls = 0

    def tearDown(self):
        shutil.rmtree(self.dir)

    def build(self, fail=False):
        def b():
            self.calls += 1
            provision.write_atomic(os.path.join(self.dir, "a.bin"), b"A" * 100)
            if fail:
                raise provision.ProvisionError("boom")
            provision.write_atomic(os.path.join(self.dir, "b.bin"), b"B")
            return {"n": self.calls}
        return b

    def ensure(self, key="r1", fail=False):
        return provision.ensure("part", self.dir, key, ["a.bin", "b.bin"], self.build(fail))

    def test_second_run_is_noop(self):
        self.assertEqual(self.ensure(), {"n": 1})
        self.assertEqual(self.ensure(), {"n": 1})
        self.assertEqual(self.calls, 1)

    def test_missing_corrupt_or_new_recipe_redoes(self):
        self.ensure()
        os.remove(os.path.join(self.dir, "b.bin"))
        self.ensure()
        with open(os.path.join(self.dir, "a.bin"), "r+b") as f:
            f.write(b"X")
        self.ensure()
        self.ensure(key="r2")
        self.assertEqual(self.calls, 4)

    def test_failed_build_leaves_nothing_that_looks_done(self):
        self.ensure()
        with self.assertRaises(provision.ProvisionError):
            self.ensure(key="r2", fail=True)
        self.assertFalse(os.path.exists(os.path.join(self.dir, ".provisioned-part.json")))
        self.assertFalse(os.path.exists(os.path.join(self.dir, "b.bin")))
        self.ensure(key="r2")
        self.assertEqual(self.calls, 3)


class StepsTest(unittest.TestCase):
    """The step list: every step's needs come before it; clients installs pinned packages."""

    def test_needs_come_first(self):
        self.assertEqual(set(provision.NEEDS), set(provision.STEPS))
        for step, needs in provision.NEEDS.items():
            for n in needs:
                self.assertLess(provision.STEPS.index(n), provision.STEPS.index(step), (step, n))
        self.assertIn("clients", provision.STEPS)
        self.assertEqual(provision.NEEDS["clients"], ["venv"])
        self.assertTrue(set(provision.DEFAULT_STEPS) <= set(provision.STEPS))

    def test_client_pins_are_exact_and_in_the_docs(self):
        for name, version in provision.CLIENT_PINS.items():
            self.assertRegex(version, r"^\d+(\.\d+)+$", name)
            self.assertIn("%s==%s" % (name, version), provision.__doc__)
        self.assertEqual(provision.dist_info("nats-py", "2.16.0"), "nats_py-2.16.0.dist-info")

    def test_clients_failure_says_what_failed(self):
        """A venv whose pip fails: a ProvisionError naming the packages and PyPI, no marker."""
        with tempfile.TemporaryDirectory() as cache:
            bindir = os.path.join(cache, "venv", "bin")
            os.makedirs(bindir)
            for exe in ("python", "pip"):
                with open(os.path.join(bindir, exe), "w") as f:
                    f.write("#!/bin/sh\necho 'ERROR: No matching distribution found' >&2\nexit 1\n")
                os.chmod(os.path.join(bindir, exe), 0o755)
            with open(os.devnull, "w") as quiet, contextlib.redirect_stderr(quiet):
                with self.assertRaises(provision.ProvisionError) as e:
                    provision.step_clients(cache, cache)
            msg = str(e.exception)
            for pin in ("nats-py==", "msgpack==", "PyPI", "No matching distribution"):
                self.assertIn(pin, msg)
            self.assertFalse(os.path.exists(os.path.join(cache, "venv", ".provisioned-clients.json")))


@contextlib.contextmanager
def fake_torch():
    """Modules torch / torch._utils just good enough for pickle to name their globals."""
    torch, utils = types.ModuleType("torch"), types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*a):
        pass

    class FloatStorage:
        pass
    _rebuild_tensor_v2.__module__, FloatStorage.__module__ = "torch._utils", "torch"
    _rebuild_tensor_v2.__qualname__, FloatStorage.__qualname__ = "_rebuild_tensor_v2", "FloatStorage"
    utils._rebuild_tensor_v2, torch.FloatStorage, torch._utils = _rebuild_tensor_v2, FloatStorage, utils
    saved = {k: sys.modules.get(k) for k in ("torch", "torch._utils")}
    sys.modules.update({"torch": torch, "torch._utils": utils})
    try:
        yield torch
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k)
            else:
                sys.modules[k] = v


def write_legacy_pth(path, tensors):
    """Write {name: (shape, [floats])} the way torch<1.6 torch.save does (contiguous float32)."""
    with fake_torch() as torch:
        class T:
            def __init__(self, key, shape):
                self.key, self.shape = key, shape

            def __reduce__(self):
                stride, s = [], 1
                for d in reversed(self.shape):
                    stride.insert(0, s)
                    s *= d
                storage = ("storage", torch.FloatStorage, self.key, "cpu", s, None)
                return torch._utils._rebuild_tensor_v2, (StorageRef(storage), 0, self.shape, tuple(stride),
                                                         False, collections.OrderedDict())

        class StorageRef:
            def __init__(self, pid):
                self.pid = pid

        class P(pickle.Pickler):
            def persistent_id(self, obj):
                return obj.pid if isinstance(obj, StorageRef) else None

        sd = collections.OrderedDict((n, T(str(i), shape)) for i, (n, (shape, _)) in enumerate(tensors.items()))
        with open(path, "wb") as f:
            for obj in (legacy_pth.MAGIC, legacy_pth.PROTOCOL, {"protocol_version": 1001, "little_endian": True}):
                pickle.dump(obj, f, protocol=2)
            P(f, protocol=2).dump(sd)
            keys = [str(i) for i in range(len(tensors))]
            pickle.dump(keys, f, protocol=2)
            for _, vals in tensors.values():
                f.write(struct.pack("<q", len(vals)) + struct.pack("<%df" % len(vals), *vals))


class LegacyPthTest(unittest.TestCase):
    def test_roundtrip(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "x.pth")
            write_legacy_pth(path, {"w": ((2, 3), [1, 2, 3, 4, 5, 6]), "b": ((3,), [7, 8, 9])})
            sd = legacy_pth.read_state_dict(path)
        self.assertEqual(list(sd), ["w", "b"])
        dtype, shape, stride, offset, raw = sd["w"]
        self.assertEqual((dtype, shape, stride, offset), ("<f4", (2, 3), (3, 1), 0))
        self.assertEqual(struct.unpack("<6f", raw), (1, 2, 3, 4, 5, 6))

    def test_rejects_other_files(self):
        with tempfile.NamedTemporaryFile(suffix=".pth") as f:
            pickle.dump(123, f)
            f.flush()
            with self.assertRaises(ValueError):
                legacy_pth.read_state_dict(f.name)


CHECK_OUTPUTS = textwrap.dedent("""
    import json, sys
    import numpy as np, onnxruntime as ort
    from PIL import Image
    sys.path.insert(0, sys.argv[2])
    from tessera_provision import tiny
    p = json.loads(open(sys.argv[1]).read())
    eff = ort.InferenceSession(p["models"]["efficientnet-lite0"]["onnx"], providers=["CPUExecutionProvider"])
    f, l = eff.run(["features", "logits"], {"input": np.zeros((5, 3, 64, 64), np.float32)})
    assert f.shape == (5, 1280) and l.shape == (5, 1000), (f.shape, l.shape)
    assert eff.run(["features"], {"input": np.zeros((1, 3, 67, 93), np.float32)})[0].shape == (1, 1280)
    tiny.texture_check(p["models"]["tiny"]["onnx"])
    img = np.asarray(Image.open(p["samples"]["adf_stem"]))
    assert img.shape == (400, 380) and img.dtype == np.float32 and 900 < img.min() < img.max() < 4500, img.shape
    for k in ("chelsea", "coffee", "brick", "grass", "gravel", "camera", "adf_stem_png"):
        Image.open(p["samples"][k]).load()
    print("ok")
""")


@unittest.skipUnless(os.environ.get("TESSERA_E2E_CACHE"), "set TESSERA_E2E_CACHE=DIR to provision and check DIR")
class EndToEndTest(unittest.TestCase):
    def test_provision_and_outputs(self):
        cache = os.environ["TESSERA_E2E_CACHE"]
        cmd = [sys.executable, os.path.join(SCRIPTS, "provision.py"), "--cache", cache, "--json"]
        out = subprocess.run(cmd, stdout=subprocess.PIPE, check=True, text=True).stdout
        paths = json.loads(out)
        self.assertTrue(os.path.isfile(paths["ort_dylib_path"]))
        with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
            f.write(out)
            f.flush()
            r = subprocess.run([paths["venv_python"], "-c", CHECK_OUTPUTS, f.name, SCRIPTS],
                               stdout=subprocess.PIPE, text=True)
        self.assertEqual(r.stdout.strip().splitlines()[-1:], ["ok"])
        # second run: a no-op, the same JSON
        again = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True, text=True)
        self.assertEqual(json.loads(again.stdout), paths)
        self.assertNotIn("provisioning", again.stderr)


if __name__ == "__main__":
    unittest.main()
