"""tg.save / tg.load: exact round trips, and bad files refused with the model unchanged."""
import functools
import json
import os
import pickle
import stat
import struct
import tracemalloc
import warnings
import zipfile
import zlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_np as tg
from tinygrad_np import nn
from tinygrad_np.serialization import META_KEY, WeightsFileError


def make_model(seed: int = 0) -> nn.Sequential:
    tg.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 5), nn.ReLU(), nn.Linear(5, 1), nn.Sigmoid())


def snapshot(model: nn.Module) -> dict:
    return {name: p.data.copy() for name, p in model.named_parameters()}


def assert_unchanged(model: nn.Module, before: dict) -> None:
    for name, p in model.named_parameters():
        np.testing.assert_array_equal(p.data, before[name])


def assert_same(a, b) -> None:
    """Exact structural equality: types, keys (with their types), dtypes, bits."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, dict):
        assert [(type(k), k) for k in a] == [(type(k), k) for k in b]
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same(x, y)
    elif isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and np.shape(a) == np.shape(b)
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes()
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b)
    else:
        assert a == b


# ------------------------------------------------------------ round trips
def test_model_round_trip(tmp_path):
    model = make_model(0)
    path = tmp_path / "weights.npz"
    tg.save(model.state_dict(), path)
    loaded = tg.load(path)
    assert_same(loaded, model.state_dict())
    other = make_model(1)
    other.load_state_dict(loaded)
    x = tg.randn(7, 2)
    np.testing.assert_array_equal(other(x).data, model(x).data)
    # plain NumPy reads the same file by parameter name
    with np.load(path, allow_pickle=False) as archive:
        np.testing.assert_array_equal(archive["0.weight"], model[0].weight.data)


def test_file_is_written_exactly_at_the_given_path(tmp_path):
    path = tmp_path / "model.weights"
    tg.save({"w": np.ones(2)}, str(path))
    assert os.listdir(tmp_path) == ["model.weights"]
    assert zipfile.is_zipfile(path)


def test_optimizer_state_round_trip_is_exact(tmp_path):
    state = {
        "state": {0: {"step": 3, "exp_avg": np.arange(4.0), "exp_avg_sq": np.ones((2, 2))},
                  1: {"momentum_buffer": None}, 7: {}},
        "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "eps": 1e-8, "nesterov": False,
                          "params": [0, 1], "name": "body", "tiny": 5e-324},
                         {"lr": float("nan"), "params": [7], "scale": np.float32(0.5),
                          "count": np.int64(2)}],
    }
    path = tmp_path / "opt.npz"
    tg.save(state, path)
    assert_same(tg.load(path), state)


def test_real_optimizer_state_dict_round_trip(tmp_path):
    model = make_model(0)
    opt = tg.optim.Adam(model.parameters(), lr=0.01)
    x, y = tg.randn(8, 2), np.ones((8, 1))
    for _ in range(3):
        opt.zero_grad()
        nn.functional.binary_cross_entropy(model(x), y).backward()
        opt.step()
    tg.save(opt.state_dict(), tmp_path / "adam.npz")
    loaded = tg.load(tmp_path / "adam.npz")
    assert_same(loaded, opt.state_dict())
    fresh = tg.optim.Adam(make_model(0).parameters(), lr=0.5)
    fresh.load_state_dict(loaded)
    assert fresh.param_groups[0]["lr"] == 0.01


def test_tensors_and_odd_keys_round_trip(tmp_path):
    obj = {"t": tg.tensor(np.arange(3.0), requires_grad=True), 2: "two", 2.5: [None, True],
           None: (), False: {"nested": {"deep": np.array([1, 2], dtype=np.uint8)}},
           META_KEY: "a user key with the reserved name", "a/b": 1, "a": {"b": 2},
           "\x00": np.zeros(1), "line\nbreak": np.ones(2), "": np.ones(1)}
    tg.save(obj, tmp_path / "odd.npz")
    back = tg.load(tmp_path / "odd.npz")
    assert isinstance(back["t"], tg.Tensor) and back["t"].requires_grad
    np.testing.assert_array_equal(back["t"].data, np.arange(3.0))
    del obj["t"], back["t"]
    assert_same(back, obj)


leaves = st.one_of(
    st.none(), st.booleans(), st.integers(-2**70, 2**70), st.text(max_size=5),
    st.floats(allow_nan=False),
    hnp.arrays(st.sampled_from([np.float32, np.float64, np.int32, np.bool_]),
               hnp.array_shapes(min_dims=0, max_dims=2, max_side=3)))
nested = st.recursive(leaves, lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.dictionaries(st.one_of(st.text(max_size=4), st.integers(-5, 5)), inner, max_size=3)),
    max_leaves=8)


@given(nested)
def test_any_nested_state_round_trips(tmp_path_factory, obj):
    path = tmp_path_factory.mktemp("rt") / "x.npz"
    tg.save(obj, path)
    assert_same(tg.load(path), obj)


def test_a_plain_npz_loads_as_named_arrays(tmp_path):
    np.savez(tmp_path / "plain.npz", a=np.ones(2), b=np.zeros((1, 3)))
    loaded = tg.load(tmp_path / "plain.npz")
    assert sorted(loaded) == ["a", "b"] and loaded["b"].shape == (1, 3)


@pytest.mark.parametrize("savez", [np.savez, np.savez_compressed])
def test_a_plain_npz_loads_exactly_as_np_load_reads_it(tmp_path, savez):
    arrays = {"f": np.asfortranarray(np.arange(6.0).reshape(2, 3)), "big": np.arange(3, dtype=">i"),
              "empty": np.zeros((0, 3)), "scalar": np.array(2.5), "text": np.array(["a", "bcd"]),
              "when": np.array(["2024-01-01"], dtype="M8[D]"), "c": np.array([1 + 2j]),
              "rec": np.array([(1.5, 2)], dtype=[("x", "<f4"), ("y", "u1")]),
              "large": np.random.default_rng(0).normal(size=(300, 1000))}  # several chunks
    savez(tmp_path / "plain.npz", **arrays)
    loaded, peak = load_measured(tmp_path / "plain.npz")
    assert peak < sum(a.nbytes for a in arrays.values()) + 8 * MiB, peak  # chunks of 1 MiB
    with np.load(tmp_path / "plain.npz", allow_pickle=False) as archive:
        assert_same(loaded, {name: archive[name] for name in archive.files})
    assert_same(loaded, arrays)
    assert loaded["f"].flags.f_contiguous


def test_compressed_state_round_trips(tmp_path):
    state = {"model": make_model(0).state_dict(), "step": 7, "zeros": np.zeros((256, 1024))}
    tg.save(state, tmp_path / "w.npz", compress=True)
    with zipfile.ZipFile(tmp_path / "w.npz") as archive:
        assert archive.getinfo("zeros.npy").compress_type == zipfile.ZIP_DEFLATED
    assert_same(tg.load(tmp_path / "w.npz"), state)


def test_save_refuses_objects_that_need_pickle(tmp_path):
    with pytest.raises(TypeError, match=r"cannot store set \(at state/0\) without pickle"):
        tg.save({"state": [{1, 2}]}, tmp_path / "bad.npz")
    with pytest.raises(TypeError, match="dtype object, which needs pickle"):
        tg.save({"w": np.array([None, 1], dtype=object)}, tmp_path / "bad.npz")
    with pytest.raises(TypeError, match=r"dict key \(1, 2\) .* has type tuple"):
        tg.save({(1, 2): 3}, tmp_path / "bad.npz")
    assert os.listdir(tmp_path) == []  # nothing, not even a temporary file, is left


# ------------------------------------------------------ refused files
def load_into(model: nn.Module, path) -> None:
    model.load_state_dict(tg.load(path))


def test_truncated_file_is_refused_and_model_unchanged(tmp_path):
    model = make_model(0)
    path = tmp_path / "w.npz"
    tg.save(make_model(1).state_dict(), path)
    data = path.read_bytes()
    before = snapshot(model)
    for cut in (len(data) // 2, len(data) - 10, 30):
        path.write_bytes(data[:cut])
        with pytest.raises(WeightsFileError, match=rf"{path.name} is truncated or corrupt"):
            load_into(model, path)
        assert_unchanged(model, before)


def test_corrupt_file_is_refused_and_model_unchanged(tmp_path):
    model = make_model(0)
    path = tmp_path / "w.npz"
    tg.save(make_model(1).state_dict(), path)
    good = path.read_bytes()
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("0.weight.npy")
    name_length, extra_length = struct.unpack_from("<HH", good, info.header_offset + 26)
    npy_start = info.header_offset + 30 + name_length + extra_length
    before = snapshot(model)
    for offset, message in [(128 + 8, r"w.npz is truncated or corrupt \(Bad CRC-32"),  # data
                            (100, r"w.npz: member '0.weight.npy' has a malformed .npy header")]:
        data = bytearray(good)
        data[npy_start + offset:npy_start + offset + 8] = b"\xff" * 8
        path.write_bytes(bytes(data))
        with pytest.raises(WeightsFileError, match=message):
            load_into(model, path)
        assert_unchanged(model, before)
    path.write_bytes(b"this is not a zip archive at all")
    with pytest.raises(WeightsFileError, match="w.npz is not an .npz weights file|w.npz is not"):
        load_into(model, path)
    assert_unchanged(model, before)


def test_damaged_description_is_refused(tmp_path):
    path = tmp_path / "w.npz"
    np.savez(path, **{META_KEY: np.frombuffer(b"{not json", dtype=np.uint8)})
    with pytest.raises(WeightsFileError, match="not valid JSON"):
        tg.load(path)
    meta = b'{"format": "tinygrad_np", "version": 1, "tree": {"t": "array", "key": "gone"}}'
    np.savez(path, **{META_KEY: np.frombuffer(meta, dtype=np.uint8)})
    with pytest.raises(WeightsFileError, match="array member 'gone' is missing"):
        tg.load(path)
    meta = b'{"format": "tinygrad_np", "version": 99, "tree": null}'
    np.savez(path, **{META_KEY: np.frombuffer(meta, dtype=np.uint8)})
    with pytest.raises(WeightsFileError, match="newer tinygrad_np"):
        tg.load(path)


class Exploit:
    """Unpickling this would create a marker file: proof that code ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickled_files_are_refused_and_never_executed(tmp_path):
    model = make_model(0)
    before = snapshot(model)
    marker = str(tmp_path / "pwned")
    object_npz = tmp_path / "objects.npz"
    np.savez(object_npz, **{"0.weight": np.array([Exploit(marker)], dtype=object)})
    with pytest.raises(WeightsFileError, match="object array that needs pickle.*never unpickles"):
        load_into(model, object_npz)
    raw_pickle = tmp_path / "raw.pkl"
    raw_pickle.write_bytes(pickle.dumps({"0.weight": Exploit(marker)}))
    with pytest.raises(WeightsFileError, match="looks like pickled data"):
        load_into(model, raw_pickle)
    assert not os.path.exists(marker)
    assert_unchanged(model, before)


def test_single_npy_file_is_refused(tmp_path):
    np.save(tmp_path / "w.npy", np.ones(3))
    with pytest.raises(WeightsFileError, match="single .npy array, not an .npz archive"):
        tg.load(tmp_path / "w.npy")


@pytest.mark.parametrize("edit, message", [
    (lambda s: s.update({"2.weight": np.zeros((1, 4), dtype=np.float32)}),
     r"'2.weight': shape \(1, 4\)"),
    (lambda s: s.pop("0.bias"), r"missing keys: '0.bias'"),
    (lambda s: s.update({"4.weight": np.zeros(1)}), r"unexpected keys: '4.weight'"),
])
def test_mismatched_file_is_refused_and_model_unchanged(tmp_path, edit, message):
    model = make_model(0)
    before = snapshot(model)
    state = make_model(1).state_dict()
    edit(state)
    tg.save(state, tmp_path / "w.npz")
    with pytest.raises(RuntimeError, match=message):
        load_into(model, tmp_path / "w.npz")
    assert_unchanged(model, before)


def test_missing_file_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        tg.load(tmp_path / "nope.npz")


def test_messages_tell_garbage_from_pickle_and_keep_os_errors(tmp_path):
    garbage = tmp_path / "w.npz"
    garbage.write_bytes(b"plain text, neither zip nor npy nor pickle")
    with pytest.raises(WeightsFileError, match="neither a zip .* nor a .npy file"):
        tg.load(garbage)
    with pytest.raises(IsADirectoryError):
        tg.load(tmp_path)


def test_crafted_deep_nesting_is_refused_cleanly(tmp_path):
    path = tmp_path / "deep.npz"
    tree = '{"t": "list", "items": [' * 5000 + "]}" * 5000
    meta = '{"format": "tinygrad_np", "version": 1, "tree": ' + tree + "}"
    np.savez(path, **{META_KEY: np.frombuffer(meta.encode(), dtype=np.uint8)})
    with pytest.raises(WeightsFileError, match="deep.npz"):  # not a RecursionError
        tg.load(path)


# ------------------------------------------------------ hostile files, built byte by byte
MiB, GiB = 1 << 20, 1 << 30
TREE_W = {"t": "dict", "items": [[["s", "w"], {"t": "array", "key": "w"}]]}


def npy_bytes(shape, descr="<f8", data=b"", pad=0) -> bytes:
    """A .npy file (format 1.0) whose header says `shape` and `descr`, whatever `data` holds."""
    header = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    header += b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + data


def description(tree) -> bytes:
    meta = json.dumps({"format": "tinygrad_np", "version": 1, "tree": tree}).encode()
    return npy_bytes((len(meta),), "|u1", meta)


def stored(name, data):
    """A member stored as is, with honest sizes and CRC."""
    return (name, data, zipfile.ZIP_STORED, len(data), zlib.crc32(data))


def deflated(head: bytes, zeros: int = 0) -> bytes:
    """Raw deflate data for `head` then `zeros` zero bytes (a multiple of 1 MiB), built in
    milliseconds: one fully flushed block of 1 MiB of zeros (~1 KB), repeated."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    start = compressor.compress(head) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(bytes(MiB)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return start + block * (zeros // MiB) + b"\x03\x00"  # then an empty final block


def write_zip(path, members) -> None:
    """A zip archive written by hand, so sizes and CRCs can lie. `members` holds
    (name, bytes as stored, compression method, declared uncompressed size, CRC)."""
    out, directory = bytearray(), bytearray()
    for name, raw, method, size, crc in members:
        fields = struct.pack("<HHHHHIII", 20, 0, method, 0, 0x21, crc, len(raw), size)
        entry = struct.pack("<HH", len(name), 0)
        directory += (b"PK\x01\x02" + struct.pack("<H", 20) + fields + entry
                      + struct.pack("<HHHII", 0, 0, 0, 0, len(out)) + name.encode())
        out += b"PK\x03\x04" + fields + entry + name.encode() + raw
    end = struct.pack("<HHHHIIH", 0, 0, len(members), len(members), len(directory), len(out), 0)
    path.write_bytes(bytes(out + directory) + b"PK\x05\x06" + end)


@functools.lru_cache
def crc_with_zeros(head: bytes, zeros: int) -> int:
    """CRC-32 of `head` then `zeros` zero bytes (0.5 s for 1 GiB, so computed once)."""
    crc, chunk = zlib.crc32(head), bytes(64 * MiB)
    for _ in range(zeros // len(chunk)):
        crc = zlib.crc32(chunk, crc)
    return crc


def bomb(name: str, nbytes: int = GiB):
    """A valid member (np.load reads it) whose .npy header honestly declares `nbytes` of
    float64 zeros, deflated ~1000:1."""
    head = npy_bytes((nbytes // 8,))
    return (name, deflated(head, nbytes), zipfile.ZIP_DEFLATED, len(head) + nbytes,
            crc_with_zeros(head, nbytes))


def load_measured(path, **kwargs):
    """tg.load(path) under tracemalloc (NumPy reports its buffers to it too):
    (the result, or the exception raised, and the peak bytes allocated)."""
    tracemalloc.start()
    try:
        outcome = tg.load(path, **kwargs)
    except Exception as error:  # the test inspects it
        outcome = error
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return outcome, peak


def assert_refused(outcome, path, *fragments) -> None:
    assert isinstance(outcome, WeightsFileError), repr(outcome)
    for fragment in (str(path), *fragments):
        assert fragment in str(outcome), (fragment, str(outcome))


def test_unreferenced_zip_bomb_is_never_decompressed(tmp_path):
    path = tmp_path / "w.npz"
    write_zip(path, [stored("w.npy", npy_bytes((2,), data=bytes(16))),
                     bomb("junk.npy"), stored(f"{META_KEY}.npy", description(TREE_W))])
    assert path.stat().st_size < 1.1 * MiB
    outcome, peak = load_measured(path)
    assert isinstance(outcome, dict) and outcome["w"].tolist() == [0.0, 0.0], repr(outcome)
    assert peak < 5 * MiB, peak


@pytest.mark.parametrize("with_description", [True, False])
def test_referenced_zip_bomb_is_refused_before_reading(tmp_path, with_description):
    path = tmp_path / "w.npz"
    members = [bomb("w.npy")]
    if with_description:
        members.append(stored(f"{META_KEY}.npy", description(TREE_W)))
    write_zip(path, members)
    outcome, peak = load_measured(path)
    assert_refused(outcome, path, "1.0 GiB", "'w.npy'", "(134217728,) float64", "max_bytes=")
    assert peak < 5 * MiB, peak


def test_max_bytes_sets_the_budget(tmp_path):
    path = tmp_path / "w.npz"
    tg.save({"a": np.ones(100), "b": np.zeros(100)}, path)
    outcome, _ = load_measured(path, max_bytes=1000)
    assert_refused(outcome, path, "1.6 KiB", "more than the 1000 bytes")
    assert tg.load(path, max_bytes=1600)["a"].sum() == 100


@pytest.mark.parametrize("zeros, expected", [
    (GiB, "decompresses to more than"),  # the zip directory's size is too small
    (0, "ends after 0 of its 128 data bytes"),  # ... too large: truncated
], ids=["size too small", "size too large"])
def test_a_lying_zip_size_is_caught_while_reading(tmp_path, zeros, expected):
    head = npy_bytes((16,))
    raw = deflated(head, zeros)
    # the CRC fits the bytes the directory's size covers, so zipfile alone would not notice
    crc = zlib.crc32(head + bytes(128)) if zeros else zlib.crc32(head)
    path = tmp_path / "w.npz"
    write_zip(path, [("w.npy", raw, zipfile.ZIP_DEFLATED, len(head) + 128, crc),
                     stored(f"{META_KEY}.npy", description(TREE_W))])
    outcome, peak = load_measured(path)
    assert_refused(outcome, path, "'w.npy'", expected)
    assert peak < 5 * MiB, peak


def test_a_huge_declared_shape_is_refused(tmp_path):
    path = tmp_path / "w.npz"
    head = npy_bytes((10000, 1000000), data=bytes(16))  # 74.5 GiB declared, 16 bytes present
    write_zip(path, [stored("w.npy", head)])
    outcome, peak = load_measured(path)
    assert_refused(outcome, path, "'w.npy'", "shape (10000, 1000000) float64 (74.5 GiB")
    assert peak < 5 * MiB, peak
    # the zip directory backs the header up (3.5 GiB), though the data is not in the file
    head = npy_bytes((7 * GiB // 16,))
    write_zip(path, [("w.npy", head, zipfile.ZIP_STORED, len(head) + 7 * GiB // 2, 0)])
    outcome, peak = load_measured(path)
    assert_refused(outcome, path, "'w.npy'", f"shape ({7 * GiB // 16},) float64", "3.5 GiB")
    assert peak < 5 * MiB, peak


@pytest.mark.parametrize("name", ["0.weight.npy", f"{META_KEY}.npy"])
def test_duplicate_member_names_are_refused(tmp_path, name):
    path = tmp_path / "w.npz"
    tg.save(make_model(0).state_dict(), path)
    with warnings.catch_warnings(), zipfile.ZipFile(path, "a") as archive:
        warnings.simplefilter("ignore", UserWarning)  # zipfile: "Duplicate name"
        archive.writestr(name, archive.read(name))
    outcome, _ = load_measured(path)
    assert_refused(outcome, path, f"{name!r} twice")


def test_duplicate_member_names_in_a_plain_npz_are_refused(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, a=np.ones(2))
    with warnings.catch_warnings(), zipfile.ZipFile(path, "a") as archive:
        warnings.simplefilter("ignore", UserWarning)
        archive.writestr("a.npy", npy_bytes((2,), data=bytes(16)))
    outcome, _ = load_measured(path)
    assert_refused(outcome, path, "'a.npy' twice")


@pytest.mark.parametrize("with_description", [True, False])
def test_an_oversized_npy_header_is_refused_as_such(tmp_path, with_description):
    path = tmp_path / "w.npz"
    members = [stored("w.npy", npy_bytes((2,), data=bytes(16), pad=20000))]
    if with_description:
        members.append(stored(f"{META_KEY}.npy", description(TREE_W)))
    write_zip(path, members)
    outcome, _ = load_measured(path)
    assert_refused(outcome, path, "'w.npy'", "20056-byte .npy header", "10000")
    assert "pickle" not in str(outcome)


def test_members_that_are_not_plain_npy_arrays_are_refused(tmp_path):
    path = tmp_path / "w.npz"
    write_zip(path, [stored("notes.txt", b"hello")])
    assert_refused(load_measured(path)[0], path, "'notes.txt'", "not a .npy array")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_BZIP2) as archive:
        archive.writestr("w.npy", npy_bytes((2,), data=bytes(16)))
    assert_refused(load_measured(path)[0], path, "'w.npy'", "compression")


def test_an_oversized_description_is_refused_unread(tmp_path):
    path = tmp_path / "w.npz"
    head = description(TREE_W)
    write_zip(path, [stored("w.npy", npy_bytes((2,), data=bytes(16))),
                     (f"{META_KEY}.npy", head, zipfile.ZIP_STORED, 17 * MiB, 0)])
    assert_refused(load_measured(path)[0], path, f"{META_KEY} description is 17.0 MiB")


@pytest.mark.parametrize("meta, where", [
    ({"format": "tinygrad_np", "version": 1, "tree": {"t": "dict", "items": 5}}, "top level"),
    ({"format": "tinygrad_np", "version": 1, "tree": {"t": "list", "items": {"a": 1}}},
     "top level"),
    ({"format": "tinygrad_np", "version": 1, "tree": {"t": "list"}}, "top level"),
    ({"format": "tinygrad_np", "version": 1, "tree": [1, 2]}, "top level"),
    ({"format": "tinygrad_np", "version": 1, "tree": {"t": ["array"]}}, "top level"),
    ({"format": "tinygrad_np", "version": 1, "tree": {"t": "dict", "items": [[["s", 5], 1]]}},
     "top level"),
    ({"format": "tinygrad_np", "version": 1, "tree": {"t": "dict", "items": [[[[1], 5], 1]]}},
     "top level"),
    ({"format": "tinygrad_np", "version": 1, "tree": {"t": "dict", "items": [[["i", True], 1]]}},
     "top level"),
    ({"format": "tinygrad_np", "version": 1, "tree": {"t": "dict", "items": [[["s", "k"]]]}},
     "top level"),
    ({"format": "tinygrad_np", "version": 1, "tree": {"t": "list", "items": [
        {"t": "dict", "items": [[["s", "a"], {"t": "tensor", "key": 5}]]}]}}, "0/a"),
    ({"format": "tinygrad_np", "version": 1, "tree": {"t": "list", "items": [
        {"t": "tensor", "key": "w", "requires_grad": "yes"}]}}, "at 0"),
    ({"format": "tinygrad_np", "version": 1, "tree": {"t": "scalar", "key": "w"}}, "top level"),
    ({"format": "tinygrad_np", "version": "1", "tree": None}, "version"),
    ({"format": "tinygrad_np", "version": 1}, "tinygrad_np description"),
    ([1, 2], "tinygrad_np description"),
])
def test_malformed_descriptions_are_refused_naming_the_place(tmp_path, meta, where):
    path = tmp_path / "w.npz"
    raw = json.dumps(meta).encode()
    write_zip(path, [stored("w.npy", npy_bytes((2,), data=bytes(16))),
                     stored(f"{META_KEY}.npy", npy_bytes((len(raw),), "|u1", raw))])
    outcome, _ = load_measured(path)
    assert_refused(outcome, path, META_KEY, where)


# ------------------------------------------------------ save: modes, symlinks, durability
@pytest.mark.parametrize("mode", [0o600, 0o640])
def test_save_keeps_the_destination_mode(tmp_path, mode):
    path = tmp_path / "w.npz"
    tg.save({"w": np.zeros(2)}, path)
    os.chmod(path, mode)
    tg.save({"w": np.ones(2)}, path)
    assert stat.S_IMODE(os.stat(path).st_mode) == mode
    assert tg.load(path)["w"].tolist() == [1.0, 1.0]


def test_save_gives_a_new_file_the_usual_mode(tmp_path):
    umask = os.umask(0o027)
    try:
        tg.save({"w": np.zeros(2)}, tmp_path / "w.npz")
    finally:
        os.umask(umask)
    assert stat.S_IMODE(os.stat(tmp_path / "w.npz").st_mode) == 0o640


def test_save_writes_through_a_symlink(tmp_path):
    (tmp_path / "runs").mkdir()
    (tmp_path / "links").mkdir()
    target, link = tmp_path / "runs" / "w.npz", tmp_path / "links" / "latest.npz"
    tg.save({"w": np.zeros(2)}, target)
    os.chmod(target, 0o600)
    link.symlink_to(os.path.join("..", "runs", "w.npz"))
    tg.save({"w": np.ones(2)}, link)
    assert link.is_symlink() and os.readlink(link) == os.path.join("..", "runs", "w.npz")
    assert tg.load(target)["w"].tolist() == [1.0, 1.0]
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert os.listdir(tmp_path / "runs") == ["w.npz"]  # no temporary file left behind
    assert os.listdir(tmp_path / "links") == ["latest.npz"]


def test_save_through_a_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "latest.npz"
    link.symlink_to("w.npz")
    tg.save({"w": np.ones(2)}, link)
    assert link.is_symlink() and (tmp_path / "w.npz").is_file()
    assert tg.load(tmp_path / "w.npz")["w"].tolist() == [1.0, 1.0]


def test_save_fsyncs_the_file_before_the_rename_and_the_folder_after(tmp_path, monkeypatch):
    calls = []
    fsync, replace = os.fsync, os.replace

    def record_fsync(fd):
        calls.append("fsync folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        fsync(fd)

    def record_replace(src, dst):
        calls.append("rename")
        replace(src, dst)

    monkeypatch.setattr(os, "fsync", record_fsync)
    monkeypatch.setattr(os, "replace", record_replace)
    tg.save({"w": np.ones(2)}, tmp_path / "w.npz")
    assert calls == ["fsync file", "rename", "fsync folder"]
