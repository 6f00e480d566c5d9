"""Codecs: round trips, byte-identical streaming, standard readers, corruption detection."""

from __future__ import annotations

import gzip
import io
import random
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from cloudsurge_dask.errors import ConfigError, CorruptData
from cloudsurge_dask.output import codec as codec_module
from cloudsurge_dask.output.codec import CHUNK, get_codec
from cloudsurge_dask.settings import CODECS


def smiles(lines: int, seed: int = 7) -> bytes:
    rng = random.Random(seed)
    atoms = ["C", "N", "O", "S", "Cl", "C=C", "C#N", "C(=O)", "c1ccccc1"]
    return b"".join(
        "".join(rng.choice(atoms) for _ in range(rng.randint(1, 9))).encode() + b"\n"
        for _ in range(lines)
    )


DATA = smiles(120_000)  # ~2.6 MB: several CHUNKs, and a tail that is not a whole CHUNK


@pytest.mark.parametrize("name", CODECS)
@pytest.mark.parametrize("data", [b"", b"C\n", DATA], ids=["empty", "one", "many"])
def test_round_trip(name: str, data: bytes) -> None:
    codec = get_codec(name)
    packed = codec.compress(data, "x.smi")
    assert codec.decompress(packed) == data
    assert b"".join(codec.iter_decompress(packed)) == data
    if data is DATA:
        assert len(packed) < len(data) / 3


@pytest.mark.parametrize("name", CODECS)
def test_streaming_is_byte_identical_whatever_the_feed(name: str) -> None:
    codec = get_codec(name)
    one_shot = codec.compress(DATA, "x.smi")
    rng = random.Random(name)
    compressor = codec.compressor("x.smi")
    position = 0
    while position < len(DATA):
        step = rng.choice([1, 17, 4095, CHUNK - 1, CHUNK, CHUNK + 3, 3 * CHUNK])
        piece = DATA[position : position + step]
        kind = rng.choice([bytes, bytearray, memoryview])
        compressor.write(kind(piece))
        position += step
    assert compressor.finish() == one_shot
    assert compressor.raw_bytes == len(DATA)


def test_extensions_and_names() -> None:
    assert {n: get_codec(n).extension for n in CODECS} == {
        "zst": ".smi.zst",
        "gz": ".smi.gz",
        "zip": ".smi.zip",
    }
    with pytest.raises(ConfigError, match="unknown codec"):
        get_codec("bz2")


def test_gz_is_plain_gzip() -> None:
    packed = get_codec("gz").compress(DATA, "x.smi")
    assert packed[:2] == b"\x1f\x8b"
    assert gzip.decompress(packed) == DATA


def test_zip_is_read_by_zipfile() -> None:
    packed = get_codec("zip").compress(DATA, "C6H6.00000.smi")
    with zipfile.ZipFile(io.BytesIO(packed)) as archive:
        assert archive.testzip() is None
        (info,) = archive.infolist()
        assert info.filename == "C6H6.00000.smi"
        assert info.compress_type == zipfile.ZIP_DEFLATED
        assert info.file_size == len(DATA)
        assert archive.read(info) == DATA


@pytest.mark.skipif(shutil.which("unzip") is None, reason="unzip not installed")
@pytest.mark.parametrize("force_zip64", [False, True])
def test_zip_is_read_by_unzip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, force_zip64: bool
) -> None:
    if force_zip64:  # the >4 GiB layout, exercised on a small member
        monkeypatch.setattr(codec_module, "_ZIP64_LIMIT", 1000)
    packed = get_codec("zip").compress(DATA, "member.smi")
    archive = tmp_path / "part.smi.zip"
    archive.write_bytes(packed)
    tested = subprocess.run(["unzip", "-t", str(archive)], capture_output=True, timeout=30)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    piped = subprocess.run(["unzip", "-p", str(archive), "member.smi"], capture_output=True)
    assert piped.stdout == DATA
    with zipfile.ZipFile(io.BytesIO(packed)) as reader:
        assert reader.read("member.smi") == DATA


@pytest.mark.parametrize("name", CODECS)
def test_corruption_is_detected(name: str) -> None:
    codec = get_codec(name)
    packed = codec.compress(DATA, "x.smi")
    flipped = bytearray(packed)
    flipped[len(flipped) // 2] ^= 0x01
    for bad in (packed[:-4], packed[: len(packed) // 2], packed + b"\0", bytes(flipped), b""):
        with pytest.raises(CorruptData):
            codec.decompress(bad)
