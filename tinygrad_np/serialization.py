"""tg.save / tg.load: state dicts in NumPy's .npz format, never pickle.

A file holds each array as its own .npy member (a model's state dict keeps
its names, so `np.load(path)["0.weight"]` works too) plus one member,
`__tinygrad_np__`, a UTF-8 JSON description of the nesting: dicts (with str,
int, float, bool or None keys), lists, tuples, ints, floats, bools, strings,
None, arrays and Tensors. Loading uses `allow_pickle=False` and reads every
member up front, so a file that needs pickle, is truncated or corrupt raises
`WeightsFileError` before anything is returned -- nothing is ever unpickled.

>>> import os, tempfile, numpy as np, tinygrad_np as tg
>>> path = os.path.join(tempfile.mkdtemp(), "opt.npz")
>>> tg.save({"state": {0: {"step": 3, "exp_avg": np.zeros(2)}},
...          "param_groups": [{"lr": 0.1, "params": [0]}]}, path)
>>> tg.load(path)["state"][0]["step"]
3
"""
from __future__ import annotations

import json
import os
import stat
import tempfile
import zipfile
import zlib
from typing import Any

import numpy as np

from tinygrad_np.tensor import Tensor

__all__ = ["save", "load", "WeightsFileError"]

META_KEY = "__tinygrad_np__"
FORMAT_VERSION = 1
_KEY_TYPES = {"s": str, "i": int, "f": float, "b": bool, "n": type(None)}


class WeightsFileError(ValueError):
    """A weights file that cannot be loaded safely: corrupt, truncated, or needing pickle."""


# ------------------------------------------------------------------ encoding
def _encode_key(key: Any, where: str) -> list:
    for tag, kind in _KEY_TYPES.items():
        if type(key) is kind:
            return [tag, key]
    if isinstance(key, np.integer):
        return ["i", int(key)]
    raise TypeError(f"tg.save: dict key {key!r} at {where or 'top level'} has type "
                    f"{type(key).__name__}; keys must be str, int, float, bool or None")


class _Encoder:
    """Turns a nested object into (JSON tree, {member name: array})."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def member_name(self, path: str) -> str:
        """The archive member for the array at `path`: the path itself when it is a
        readable, unused name (so NumPy users see "0.weight"), else a numbered one."""
        base = path if path and path.isprintable() else f"array_{len(self.arrays)}"
        name, n = base, 1
        while name in self.arrays or name == META_KEY:
            name, n = f"{base}#{n}", n + 1
        return name

    def array(self, array: np.ndarray, path: str, tag: str) -> dict:
        if array.dtype.kind not in "biufcUSmM":
            raise TypeError(f"tg.save: the array at {path or 'top level'} has dtype {array.dtype}, "
                            "which needs pickle; store numbers, bools or strings only")
        name = self.member_name(path)
        self.arrays[name] = array
        return {"t": tag, "key": name}

    def encode(self, obj: Any, path: str) -> Any:
        if isinstance(obj, Tensor):
            node = self.array(np.asarray(obj.data), path, "tensor")
            node["requires_grad"] = bool(obj.requires_grad)
            return node
        if isinstance(obj, np.ndarray):
            return self.array(obj, path, "array")
        if isinstance(obj, np.generic):
            return self.array(np.asarray(obj), path, "scalar")
        if obj is None or type(obj) in (bool, int, float, str):
            return obj
        if isinstance(obj, dict):
            items = []
            for key, value in obj.items():
                child = f"{path}/{key}" if path else str(key)
                items.append([_encode_key(key, path), self.encode(value, child)])
            return {"t": "dict", "items": items}
        if isinstance(obj, (list, tuple)):
            kind = "list" if isinstance(obj, list) else "tuple"
            items = [self.encode(v, f"{path}/{i}" if path else str(i)) for i, v in enumerate(obj)]
            return {"t": kind, "items": items}
        raise TypeError(f"tg.save cannot store {type(obj).__name__} (at "
                        f"{path or 'top level'}) without pickle; store arrays, Tensors, numbers, "
                        "bools, strings, None, and dicts/lists/tuples of them")


def save(obj: Any, path: str | os.PathLike, compress: bool = False) -> None:
    """Write a state dict (model or optimizer, any nesting of arrays and plain values) to `path`.

    The file is exactly `path` (no ".npz" is appended) and is replaced atomically,
    so a crash mid-write never leaves a half-written file behind. An existing file
    keeps its permissions, and a symlink stays a symlink: its target gets the data.
    """
    encoder = _Encoder()
    tree = encoder.encode(obj, "")
    meta = json.dumps({"format": "tinygrad_np", "version": FORMAT_VERSION, "tree": tree})
    members = dict(encoder.arrays)
    members[META_KEY] = np.frombuffer(meta.encode("utf-8"), dtype=np.uint8)
    target = os.path.realpath(path)  # write through symlinks (dangling ones too)
    mode = _mode_for(target)
    folder = os.path.dirname(target)
    handle, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".npz")
    try:
        with os.fdopen(handle, "wb") as f:
            (np.savez_compressed if compress else np.savez)(f, **members)
            f.flush()
            os.chmod(tmp, mode)  # mkstemp made it private
            os.fsync(f.fileno())  # the data is on disk before the rename makes it current
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_folder(folder)


def _mode_for(target: str) -> int:
    """The permissions of the file being replaced, or the usual ones for a new file."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode) & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_folder(folder: str) -> None:
    """Make a rename in `folder` durable, where the OS lets a folder be opened (not Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse to sync a folder; the data itself is synced
    finally:
        os.close(fd)


# ------------------------------------------------------------------ decoding
def _looks_pickled(path: str) -> bool:
    """True when the file starts like a pickle (protocol 2 and later begin with 0x80)."""
    with open(path, "rb") as f:
        return f.read(1) == b"\x80"


def _read_members(path: str) -> dict[str, np.ndarray]:
    """Every member of the archive as an array, or a WeightsFileError saying what is wrong."""
    fix = ("copy or download the file again, or re-save it from the model with "
           "tg.save(model.state_dict(), path)")
    try:
        archive = np.load(path, allow_pickle=False)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise  # not a problem of the file's contents
    except ValueError as error:
        if "pickle" in str(error):  # NumPy's message for anything neither .npz nor .npy
            what = ("it looks like pickled data, which tinygrad_np never loads (unpickling "
                    "can run arbitrary code)" if _looks_pickled(path) else
                    "it is neither a zip (.npz) archive nor a .npy file")
            raise WeightsFileError(
                f"{path} is not an .npz weights file: {what}; " + fix) from error
        raise WeightsFileError(f"{path} is not a readable .npz file ({error}); {fix}") from error
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise WeightsFileError(f"{path} is truncated or corrupt ({error}); {fix}") from error
    if isinstance(archive, np.ndarray):
        raise WeightsFileError(f"{path} is a single .npy array, not an .npz archive of named "
                               f"arrays; load it with np.load, or {fix}")
    try:
        with archive:
            return {name: archive[name] for name in archive.files}
    except ValueError as error:
        if "pickle" in str(error).lower():
            raise WeightsFileError(
                f"{path} holds an object array that needs pickle to load; tinygrad_np never "
                "unpickles (it can run arbitrary code). Store plain numeric arrays: " + fix
            ) from error
        raise WeightsFileError(f"{path} has a corrupt member ({error}); {fix}") from error
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, KeyError) as error:
        raise WeightsFileError(f"{path} is truncated or corrupt ({error}); {fix}") from error


class _Decoder:
    def __init__(self, members: dict[str, np.ndarray], path: str) -> None:
        self.members, self.path = members, path

    def fail(self, what: str) -> WeightsFileError:
        return WeightsFileError(f"{self.path}: the {META_KEY} description is invalid ({what}); "
                                "the file was not written by tg.save or is damaged")

    def decode(self, node: Any) -> Any:
        if node is None or type(node) in (bool, int, float, str):
            return node
        if not isinstance(node, dict) or "t" not in node:
            raise self.fail(f"unexpected entry {node!r:.80}")
        kind = node["t"]
        if kind in ("array", "tensor", "scalar"):
            if node.get("key") not in self.members:
                raise self.fail(f"array member {node.get('key')!r} is missing")
            array = self.members[node["key"]]
            if kind == "scalar":
                return array[()]
            if kind == "tensor":
                return Tensor(array, requires_grad=bool(node.get("requires_grad")))
            return array
        if kind in ("list", "tuple"):
            items = [self.decode(v) for v in node.get("items", [])]
            return items if kind == "list" else tuple(items)
        if kind == "dict":
            result = {}
            for entry in node.get("items", []):
                if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], list)
                        and len(entry[0]) == 2 and entry[0][0] in _KEY_TYPES):
                    raise self.fail(f"bad dict entry {entry!r:.80}")
                (tag, key), value = entry
                if type(key) is not _KEY_TYPES[tag] and not (tag == "f" and type(key) is int):
                    raise self.fail(f"key {key!r} does not have type tag {tag!r}")
                result[float(key) if tag == "f" else key] = self.decode(value)
            return result
        raise self.fail(f"unknown entry type {kind!r}")


def load(path: str | os.PathLike) -> Any:
    """Read what `tg.save` wrote (with allow_pickle=False); a plain .npz gives {name: array}.

    A truncated, corrupt, pickled or non-.npz file raises `WeightsFileError`
    naming the path; nothing is returned half-read. Pass the result to
    `model.load_state_dict`, which checks names and shapes before assigning.
    """
    path = os.fspath(path)
    members = _read_members(path)
    if META_KEY not in members:
        return members  # a plain np.savez archive: its named arrays
    raw = members.pop(META_KEY)
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise WeightsFileError(f"{path}: the {META_KEY} description is not valid JSON "
                               f"({error}); the file is damaged") from error
    if not isinstance(meta, dict) or meta.get("format") != "tinygrad_np" or "tree" not in meta:
        raise WeightsFileError(f"{path}: the {META_KEY} member is not a tinygrad_np description")
    if not isinstance(meta.get("version"), int) or meta["version"] > FORMAT_VERSION:
        raise WeightsFileError(f"{path} was written by a newer tinygrad_np (format version "
                               f"{meta.get('version')}); upgrade tinygrad_np to read it")
    try:
        return _Decoder(members, path).decode(meta["tree"])
    except RecursionError as error:  # only a crafted file nests this deep
        raise WeightsFileError(f"{path}: the {META_KEY} description nests too deeply; "
                               "the file was not written by tg.save") from error
