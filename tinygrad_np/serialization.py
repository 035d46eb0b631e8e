"""tg.save / tg.load: state dicts in NumPy's .npz format, never pickle.

A file holds each array as its own .npy member (a model's state dict keeps
its names, so `np.load(path)["0.weight"]` works too) plus one member,
`__tinygrad_np__`, a UTF-8 JSON description of the nesting: dicts (with str,
int, float, bool or None keys), lists, tuples, ints, floats, bools, strings,
None, arrays and Tensors.

`tg.load` never unpickles (object arrays are refused) and returns nothing from
a file that is not sound: it raises `WeightsFileError` naming the file, the
problem and the fix. Before decompressing any array data it checks that the
file is a zip archive (not a pickle, a lone .npy or garbage); that no member
name occurs twice; that the description is valid JSON, well formed at every
depth; that each member the description uses (every member of a plain np.savez
archive) is stored or deflated, unencrypted, with a .npy header of at most
10,000 bytes whose shape and dtype add up to the member's size in the zip
directory; and that those arrays together fit in `max_bytes` (by default 100x
the file's size, at least 64 MiB). Members nothing uses are never decompressed.
Arrays are then read in 1 MiB chunks into memory of the declared size; a member
that yields more or fewer bytes than declared, or fails its CRC-32, is refused.
So memory stays within the arrays' size plus a few MiB, whatever the file says.

`tg.save` writes a temporary file beside the destination (through a symlink,
which stays one), fsyncs it, gives it the destination's permissions and renames
it into place: a crash never leaves a half-written file.

>>> import os, tempfile, numpy as np, tinygrad_np as tg
>>> path = os.path.join(tempfile.mkdtemp(), "opt.npz")
>>> tg.save({"state": {0: {"step": 3, "exp_avg": np.zeros(2)}},
...          "param_groups": [{"lr": 0.1, "params": [0]}]}, path)
>>> tg.load(path)["state"][0]["step"]
3
"""
from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import os
import stat
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from typing import IO, Any, NamedTuple

import numpy as np

from tinygrad_np._tensor import Tensor

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
_FIX = ("copy or download the file again, or re-save it from the model with "
        "tg.save(model.state_dict(), path)")
_HOSTILE = "the file is damaged or was crafted to attack loaders; " + _FIX
_MAX_HEADER = 10_000  # bytes: NumPy's own limit on a .npy header (its max_header_size)
_MAX_DESCRIPTION = 16 << 20  # bytes of JSON: ~100k arrays' worth, a bound on what json makes
_MIN_BUDGET, _BUDGET_RATIO = 64 << 20, 100  # default max_bytes: 100x the file, >= 64 MiB
_CHUNK = 1 << 20  # bytes read (and so decompressed) at a time


class _Header(NamedTuple):
    """What a member's .npy header declares."""
    dtype: np.dtype
    shape: tuple[int, ...]
    fortran_order: bool
    nbytes: int


def _size(n: float) -> str:
    """A byte count for people: "208 bytes", "1.6 KiB", "74.5 GiB"."""
    if n < 1024:
        return f"{n} bytes"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        n /= 1024
        if n < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}"
    raise AssertionError  # unreachable


def _member_error(path: str, info: zipfile.ZipInfo, problem: str,
                  fix: str = _HOSTILE) -> WeightsFileError:
    """A WeightsFileError about one member of the archive."""
    return WeightsFileError(f"{path}: member {info.filename!r} {problem}; {fix}")


@contextlib.contextmanager
def _corrupt_as_error(path: str) -> Iterator[None]:
    """Report what zipfile and zlib raise on damaged data as a WeightsFileError."""
    try:
        yield
    except WeightsFileError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, struct.error,
            NotImplementedError) as error:  # the last: zip features np.savez never uses
        raise WeightsFileError(f"{path} is truncated or corrupt ({error}); {_FIX}") from error


def _open_archive(file: IO[bytes], path: str) -> zipfile.ZipFile:
    """The zip archive in `file`, or a WeightsFileError saying what the file is instead."""
    start = file.read(6)
    if start.startswith(b"\x93NUMPY"):
        raise WeightsFileError(f"{path} is a single .npy array, not an .npz archive of named "
                               f"arrays; load it with np.load, or {_FIX}")
    if not start:
        raise WeightsFileError(f"{path} is truncated or corrupt (the file is empty); {_FIX}")
    if not start.startswith((b"PK\x03\x04", b"PK\x05\x06")):  # what np.load takes for a zip
        what = ("it looks like pickled data, which tinygrad_np never loads (unpickling can run "
                "arbitrary code)" if start[:1] == b"\x80" else  # pickle protocol 2 and later
                "it is neither a zip (.npz) archive nor a .npy file")
        raise WeightsFileError(f"{path} is not an .npz weights file: {what}; {_FIX}")
    with _corrupt_as_error(path):
        return zipfile.ZipFile(file)


def _index(archive: zipfile.ZipFile, path: str) -> dict[str, zipfile.ZipInfo]:
    """The members by the names np.load gives them (".npy" dropped); duplicates are refused."""
    index: dict[str, zipfile.ZipInfo] = {}
    for info in archive.infolist():
        name = info.filename.removesuffix(".npy")
        if name in index:
            first = index[name].filename
            twice = (f"member {first!r} twice" if first == info.filename else
                     f"both {first!r} and {info.filename!r}")
            raise WeightsFileError(f"{path}: the archive holds {twice}; readers disagree on which "
                                   f"copy counts, so tg.load reads neither; {_HOSTILE}")
        index[name] = info
    return index


class _Reader:
    """Reads a member through zipfile, letting one byte past the declared size come out (so
    that a lie shows), and so keeping the CRC-32 that zipfile can then no longer check."""

    def __init__(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
        probe = copy.copy(info)
        probe.file_size, probe.CRC = info.file_size + 1, None  # CRC None: zipfile skips it
        self.stream, self.crc = archive.open(probe), 0

    def read(self, n: int) -> bytes:
        """At most `n` bytes (fewer only at the end), decompressing no more than that."""
        data = self.stream.read(n)
        self.crc = zlib.crc32(data, self.crc)
        return data


def _read_header(stream: _Reader, info: zipfile.ZipInfo, path: str) -> _Header:
    """Parse a member's .npy header and check it against the member's size in the zip."""
    try:
        version = np.lib.format.read_magic(stream)
    except ValueError as error:
        raise _member_error(path, info, f"is not a .npy array ({error})",
                            "tg.load reads .npz archives of arrays only") from error
    if version not in ((1, 0), (2, 0)):
        raise _member_error(path, info, f"has .npy format version {version[0]}.{version[1]}, "
                            "which tg.load does not read (it reads 1.0 and 2.0)")
    field_size = 2 if version == (1, 0) else 4
    length_field = stream.read(field_size)
    length = int.from_bytes(length_field, "little")
    if length > _MAX_HEADER:
        raise _member_error(path, info, f"has a {length}-byte .npy header, more than the "
                            f"{_MAX_HEADER} bytes NumPy allows")
    text = stream.read(length)
    if len(length_field) < field_size or len(text) < length:
        raise _member_error(path, info, "ends inside its .npy header (truncated)", _FIX)
    parse = (np.lib.format.read_array_header_1_0 if version == (1, 0)
             else np.lib.format.read_array_header_2_0)
    try:
        shape, fortran_order, dtype = parse(io.BytesIO(length_field + text))
    except Exception as error:  # NumPy's parser raises ValueError, SyntaxError, TokenError...
        raise _member_error(path, info, f"has a malformed .npy header ({error})") from error
    if dtype.hasobject:
        raise _member_error(path, info, "holds an object array that needs pickle to load; "
                            "tinygrad_np never unpickles (it can run arbitrary code)",
                            "store plain numeric arrays: " + _FIX)
    count = math.prod(shape)
    if min(shape, default=0) < 0 or (count and not dtype.itemsize):
        raise _member_error(path, info, f"declares an impossible shape {shape} {dtype}")
    nbytes, start = count * dtype.itemsize, 6 + 2 + field_size + length  # magic, version
    if start + nbytes != info.file_size:
        raise _member_error(path, info, f"declares shape {shape} {dtype} ({_size(nbytes)} of "
                            f"data), but the zip directory gives the member {_size(info.file_size)}"
                            f" including its {start}-byte header")
    return _Header(dtype, shape, fortran_order, nbytes)


def _open_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo,
                 path: str) -> tuple[_Reader, _Header]:
    """Open a member and read its .npy header, leaving the reader at the array's data."""
    if info.flag_bits & 1 or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise _member_error(path, info, "is encrypted or uses a compression other than deflate "
                            "(np.savez and np.savez_compressed write neither)")
    with _corrupt_as_error(path):
        reader = _Reader(archive, info)
        try:
            return reader, _read_header(reader, info, path)
        except BaseException:
            reader.stream.close()
            raise


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: str) -> np.ndarray:
    """A member's array, read in chunks into exactly the memory its header declares."""
    reader, header = _open_member(archive, info, path)
    with reader.stream, _corrupt_as_error(path):
        flat = np.empty(math.prod(header.shape), header.dtype)
        buffer, done = memoryview(flat.view(np.uint8)), 0
        while done < header.nbytes:
            chunk = reader.read(min(_CHUNK, header.nbytes - done))
            if not chunk:
                raise _member_error(path, info, f"ends after {done} of its {header.nbytes} data "
                                    "bytes (truncated)", _FIX)
            buffer[done:done + len(chunk)] = chunk
            done += len(chunk)
        if reader.read(1):
            raise _member_error(path, info, f"decompresses to more than the {_size(header.nbytes)}"
                                " its header and the zip directory declare")
        if reader.crc != info.CRC:
            raise zipfile.BadZipFile(f"Bad CRC-32 for member {info.filename!r}")
    if header.fortran_order:
        return flat.reshape(header.shape[::-1]).transpose()
    return flat.reshape(header.shape)


def _read_arrays(archive: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], path: str,
                 max_bytes: int) -> dict[str, np.ndarray]:
    """The members' arrays; every header is checked, and the total size, before any is read."""
    headers = {}
    for name, info in members.items():
        reader, headers[name] = _open_member(archive, info, path)
        reader.stream.close()
    total = sum(header.nbytes for header in headers.values())
    if total > max_bytes:
        name = max(headers, key=lambda name: headers[name].nbytes)
        raise WeightsFileError(
            f"{path}: its arrays would take {_size(total)} of memory, more than the "
            f"{_size(max_bytes)} allowed (the largest, member {members[name].filename!r}, has "
            f"shape {headers[name].shape} {headers[name].dtype}): a zip bomb, or a file of mostly "
            "constant data that compresses extremely well. If you trust the file, pass a larger "
            "max_bytes= to tg.load")
    return {name: _read_member(archive, info, path) for name, info in members.items()}


def _read_description(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: str) -> Any:
    """The tree of the JSON description, from a tinygrad_np format this version reads."""
    if info.file_size > _MAX_DESCRIPTION:
        raise WeightsFileError(f"{path}: the {META_KEY} description is {_size(info.file_size)}, "
                               f"more than the {_size(_MAX_DESCRIPTION)} tg.load reads; {_HOSTILE}")
    raw = _read_member(archive, info, path)
    try:
        if raw.dtype != np.uint8 or raw.ndim != 1:
            raise ValueError(f"it is a {raw.dtype} array of shape {raw.shape}, not UTF-8 bytes")
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError, JSONDecodeError too
        raise WeightsFileError(f"{path}: the {META_KEY} description is not valid JSON "
                               f"({error}); {_FIX}") from error
    if not isinstance(meta, dict) or meta.get("format") != "tinygrad_np" or "tree" not in meta:
        raise WeightsFileError(f"{path}: the {META_KEY} member is not a tinygrad_np description; "
                               f"{_FIX}")
    version = meta.get("version")
    if type(version) is not int:
        raise WeightsFileError(f"{path}: the {META_KEY} description has format version "
                               f"{version!r:.40}, not an integer; {_FIX}")
    if version > FORMAT_VERSION:
        raise WeightsFileError(f"{path} was written by a newer tinygrad_np (format version "
                               f"{version}); upgrade tinygrad_np to read it")
    return meta["tree"]


def _join(where: str, part: Any) -> str:
    """The place of a child in the description, as the encoder names it: "state/0/step"."""
    return f"{where}/{part}" if where else str(part)


class _Decoder:
    """Checks a description tree and builds what it describes.

    A first, dry run (`arrays` None) checks the whole tree and collects the members it
    uses, so that only those are read; the second run builds the result from them.
    """

    def __init__(self, path: str, members: dict[str, zipfile.ZipInfo]) -> None:
        self.path, self.members = path, members
        self.used: dict[str, zipfile.ZipInfo] = {}
        self.arrays: dict[str, np.ndarray] | None = None

    def fail(self, where: str, what: str) -> WeightsFileError:
        """A WeightsFileError about the entry at `where`."""
        return WeightsFileError(f"{self.path}: the {META_KEY} description is invalid at "
                                f"{where or 'the top level'} ({what}); the file was not written "
                                "by tg.save or is damaged")

    def decode(self, node: Any, where: str = "") -> Any:
        """The value `node` describes (None for arrays in the dry run)."""
        if node is None or type(node) in (bool, int, float, str):
            return node
        kind = node.get("t") if isinstance(node, dict) else None
        if kind in ("array", "tensor", "scalar"):
            return self.array(node, kind, where)
        if kind in ("list", "tuple", "dict"):
            items = node.get("items")
            if not isinstance(items, list):
                raise self.fail(where, f"{kind} items {items!r:.80} are not a list")
            if kind == "dict":
                return dict(self.entry(entry, where) for entry in items)
            values = [self.decode(value, _join(where, i)) for i, value in enumerate(items)]
            return values if kind == "list" else tuple(values)
        raise self.fail(where, f"unexpected entry {node!r:.80}")

    def entry(self, entry: Any, where: str) -> tuple[Any, Any]:
        """A dict entry, [[type tag, key], value], as (key, value)."""
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], list)
                and len(entry[0]) == 2 and isinstance(entry[0][0], str)
                and entry[0][0] in _KEY_TYPES):
            raise self.fail(where, f"bad dict entry {entry!r:.80}")
        (tag, key), value = entry
        if type(key) is not _KEY_TYPES[tag]:
            raise self.fail(where, f"key {key!r:.80} does not have type tag {tag!r}")
        return key, self.decode(value, _join(where, key))

    def array(self, node: dict, kind: str, where: str) -> Any:
        """An array, Tensor or NumPy scalar, from the member the node names."""
        key, requires_grad = node.get("key"), node.get("requires_grad", False)
        if not isinstance(key, str):
            raise self.fail(where, f"array key {key!r:.80} is not a string")
        if key not in self.members:
            raise self.fail(where, f"array member {key!r} is missing")
        if type(requires_grad) is not bool:
            raise self.fail(where, f"requires_grad {requires_grad!r:.80} is not a bool")
        self.used[key] = self.members[key]
        if self.arrays is None:
            return None
        array = self.arrays[key]
        if kind == "scalar":
            if array.ndim:
                raise self.fail(where, f"scalar member {key!r} has shape {array.shape}")
            return array[()]
        return Tensor(array, requires_grad=requires_grad) if kind == "tensor" else array


def load(path: str | os.PathLike, *, max_bytes: int | None = None) -> Any:
    """Read what `tg.save` wrote (never unpickling); a plain .npz gives {name: array}.

    A file that is not a sound .npz (see the module docstring for the checks)
    raises `WeightsFileError` naming the path, the problem and the fix; nothing
    is returned half-read. `max_bytes` caps the memory the arrays may take
    (default: 100x the file's size, at least 64 MiB). Pass the result to
    `model.load_state_dict`, which checks names and shapes before assigning.
    """
    path = os.fspath(path)
    with open(path, "rb") as file, _open_archive(file, path) as archive:
        members = _index(archive, path)
        if max_bytes is None:
            max_bytes = max(_MIN_BUDGET, _BUDGET_RATIO * os.fstat(file.fileno()).st_size)
        description = members.pop(META_KEY, None)
        if description is None:
            return _read_arrays(archive, members, path, max_bytes)  # a plain np.savez archive
        tree = _read_description(archive, description, path)
        decoder = _Decoder(path, members)
        try:
            decoder.decode(tree)  # the dry run: check everything, find the members used
            decoder.arrays = _read_arrays(archive, decoder.used, path, max_bytes)
            return decoder.decode(tree)
        except RecursionError as error:  # only a crafted file nests this deep
            raise WeightsFileError(f"{path}: the {META_KEY} description nests too deeply; "
                                   "the file was not written by tg.save") from error
