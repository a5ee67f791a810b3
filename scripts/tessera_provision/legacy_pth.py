"""Read a legacy (pre-zip, torch < 1.6) PyTorch ``.pth`` state dict without torch.

Layout of the file, as written by ``torch.save(..., _use_new_zipfile_serialization=False)``:

1. pickle: magic number 0x1950a86a20f9469cfc6c
2. pickle: protocol version (1001)
3. pickle: sys info (endianness, type sizes)
4. pickle: the object (here an OrderedDict name -> tensor); tensors are
   ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`` and each
   storage is a persistent id ``('storage', StorageType, key, location, numel, view)``
5. pickle: list of storage keys, in the order their data follows
6. for each key: int64 little-endian element count, then the raw elements

Stdlib only; :func:`to_numpy` needs numpy.
"""
import collections
import pickle
import struct

MAGIC = 0x1950A86A20F9469CFC6C
PROTOCOL = 1001

# torch storage class name -> (numpy dtype string, bytes per element)
STORAGE_DTYPES = {
    "FloatStorage": ("<f4", 4), "DoubleStorage": ("<f8", 8), "HalfStorage": ("<f2", 2),
    "LongStorage": ("<i8", 8), "IntStorage": ("<i4", 4), "ShortStorage": ("<i2", 2),
    "CharStorage": ("|i1", 1), "ByteStorage": ("|u1", 1), "BoolStorage": ("|b1", 1),
}


class Tensor(collections.namedtuple("Tensor", "storage_key offset shape stride")):
    """A tensor reference into a storage, as rebuilt from the pickle."""


def _rebuild_tensor_v2(storage, storage_offset, size, stride, *_ignored):
    key, view_offset = storage
    return Tensor(key, view_offset + storage_offset, tuple(size), tuple(stride))


def _rebuild_parameter(data, *_ignored):
    return data


class _Unpickler(pickle.Unpickler):
    def __init__(self, f):
        super().__init__(f)
        self.storage_types = {}  # key -> storage class name

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) in (("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor")):
            return _rebuild_tensor_v2
        if (module, name) == ("torch._utils", "_rebuild_parameter"):
            return _rebuild_parameter
        if module == "torch" and name in STORAGE_DTYPES:
            return name  # the storage type travels as its name inside persistent ids
        raise pickle.UnpicklingError("unexpected global %s.%s in legacy .pth" % (module, name))

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise pickle.UnpicklingError("unexpected persistent id %r" % (pid,))
        _, storage_type, key, _location, _numel, view = pid
        self.storage_types[key] = storage_type
        if view is not None:  # (view_key, offset, size): a view into `key`
            view_key, offset, _size = view
            return key, offset
        return key, 0


def read_state_dict(path):
    """Return ``{name: (dtype, shape, stride, offset, raw_bytes_of_storage)}`` from a legacy .pth."""
    with open(path, "rb") as f:
        if pickle.load(f) != MAGIC:
            raise ValueError("%s: not a legacy PyTorch file (bad magic number)" % path)
        if pickle.load(f) != PROTOCOL:
            raise ValueError("%s: unsupported legacy protocol" % path)
        sys_info = pickle.load(f)
        if not sys_info.get("little_endian", True):
            raise ValueError("%s: big-endian files are not supported" % path)
        up = _Unpickler(f)
        obj = up.load()
        keys = pickle.load(f)
        storages = {}
        for key in keys:
            (numel,) = struct.unpack("<q", f.read(8))
            _dtype, size = STORAGE_DTYPES[up.storage_types[key]]
            data = f.read(numel * size)
            if len(data) != numel * size:
                raise ValueError("%s: truncated storage %s" % (path, key))
            storages[key] = data
    if isinstance(obj, dict) and "state_dict" in obj:
        obj = obj["state_dict"]
    out = collections.OrderedDict()
    for name, t in obj.items():
        if isinstance(t, Tensor):
            dtype, _ = STORAGE_DTYPES[up.storage_types[t.storage_key]]
            out[name] = (dtype, t.shape, t.stride, t.offset, storages[t.storage_key])
    return out


def to_numpy(state):
    """Turn :func:`read_state_dict` output into ``{name: np.ndarray}`` (C-contiguous copies)."""
    import numpy as np

    arrays = collections.OrderedDict()
    for name, (dtype, shape, stride, offset, raw) in state.items():
        base = np.frombuffer(raw, dtype=dtype)
        item = base.itemsize
        arr = np.lib.stride_tricks.as_strided(
            base[offset:], shape=shape, strides=[s * item for s in stride]) if shape else base[offset:offset + 1].reshape(())
        arrays[name] = np.ascontiguousarray(arr)
    return arrays


def load(path):
    """Legacy .pth -> ``{name: np.ndarray}``."""
    return to_numpy(read_state_dict(path))
