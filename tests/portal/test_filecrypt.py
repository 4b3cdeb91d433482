"""portal/filecrypt: envelope-encrypted private files (security.md FU5)."""

from __future__ import annotations

import io
import os

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from portal import crypto, filecrypt
from portal.filecrypt import (
    MAGIC,
    EncryptingWriter,
    FileIntegrityError,
    key_id_of_file,
    open_private,
    rewrap,
)

ID_NUMBER = b"440305199003071236"
PHONE = b"13812345678"


@pytest.fixture
def small_segments(monkeypatch):
    """7-byte segments, so a few hundred bytes span many of them."""
    monkeypatch.setattr(filecrypt, "SEGMENT", 7)


def write(path, data: bytes, *, pieces: int = 3) -> None:
    with EncryptingWriter(path) as out:
        step = max(1, len(data) // pieces)
        for i in range(0, len(data), step):
            out.write(data[i : i + step])


def read(path) -> bytes:
    with open_private(path) as fh:
        return fh.read()


PLAIN = b"name,id_number,phone\n" + b",".join([b"\xe5\xbc\xa0", ID_NUMBER, PHONE]) * 20


@pytest.mark.parametrize("size", [0, 1, 6, 7, 8, 14, 15, len(PLAIN)])
def test_round_trip_at_every_segment_edge(tmp_path, small_segments, size):
    path = tmp_path / "f"
    write(path, PLAIN[:size])

    assert read(path) == PLAIN[:size]
    raw = path.read_bytes()
    assert raw.startswith(MAGIC)
    for marker in (b"%PDF", b"\xff\xd8", b"\x89PNG"):
        assert not raw.startswith(marker)


def test_no_plaintext_on_disk_and_file_is_private(tmp_path):
    path = tmp_path / "f"
    write(path, PLAIN)

    raw = path.read_bytes()
    assert ID_NUMBER not in raw
    assert PHONE not in raw
    assert b"name,id_number" not in raw
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    # each file has its own data key: the same plaintext never looks the same
    write(tmp_path / "g", PLAIN)
    assert (tmp_path / "g").read_bytes()[-64:] != raw[-64:]


@given(start=st.integers(0, len(PLAIN)), length=st.integers(0, len(PLAIN)))
@hypothesis_settings(max_examples=200, deadline=None)
def test_any_byte_range_reads_like_the_plaintext(tmp_path_factory, start, length):
    filecrypt.SEGMENT, saved = 7, filecrypt.SEGMENT
    try:
        path = tmp_path_factory.mktemp("r") / "f"
        write(path, PLAIN)
    finally:
        filecrypt.SEGMENT = saved
    with open_private(path) as fh:
        fh.seek(start)
        assert fh.read(length) == PLAIN[start : start + length]
        fh.seek(0)
        assert fh.readline() == PLAIN.split(b"\n")[0] + b"\n"


def _fails(path) -> None:
    with pytest.raises(FileIntegrityError):
        read(path)


@pytest.mark.parametrize("where", ["header", "wrapped key", "first", "middle", "last"])
def test_a_changed_byte_anywhere_fails(tmp_path, small_segments, where):
    path = tmp_path / "f"
    write(path, PLAIN)
    raw = bytearray(path.read_bytes())
    offset = {
        "header": 6,  # segment size
        "wrapped key": 30,
        "first": 90,
        "middle": len(raw) // 2,
        "last": len(raw) - 1,
    }[where]
    raw[offset] ^= 0x01
    path.write_bytes(bytes(raw))

    _fails(path)


def test_cutting_or_extending_or_reordering_fails(tmp_path, small_segments):
    path = tmp_path / "f"
    write(path, PLAIN)
    good = path.read_bytes()
    sealed = 7 + filecrypt.TAG
    for bad in (
        good[:-sealed],  # the last segment dropped: cut at a segment boundary
        good[:-5],  # cut inside a segment
        good[:40],  # inside the header
        good + good[-sealed:],  # the last segment repeated
    ):
        path.write_bytes(bad)
        _fails(path)
    header = len(good) - (len(PLAIN) // 7 + 1) * sealed
    swapped = (
        good[:header]
        + good[header + sealed : header + 2 * sealed]
        + good[header : header + sealed]
        + good[header + 2 * sealed :]
    )
    path.write_bytes(swapped)
    _fails(path)


def test_plaintext_files_are_read_only_when_the_caller_accepts_them(tmp_path):
    path = tmp_path / "old.csv"
    path.write_bytes(PLAIN)

    with pytest.raises(FileIntegrityError):
        read(path)
    with open_private(path, legacy=lambda start: start.startswith(b"name,")) as fh:
        assert fh.read() == PLAIN
    with pytest.raises(FileIntegrityError):
        open_private(path, legacy=lambda start: False)


def test_an_encrypted_file_with_its_first_byte_changed_is_not_plaintext(tmp_path):
    path = tmp_path / "f"
    write(path, PLAIN)
    raw = bytearray(path.read_bytes())
    raw[0] = ord("n")
    path.write_bytes(bytes(raw))

    with pytest.raises(FileIntegrityError):
        open_private(path, legacy=lambda start: start.startswith(b"name,id_number\n"))


def test_rewrap_moves_the_data_key_to_the_new_key_and_keeps_the_body(
    tmp_path, settings
):
    path = tmp_path / "f"
    write(path, PLAIN)
    old_keys = list(settings.FIELD_ENCRYPTION_KEYS)
    old_id = crypto.primary_key_id()
    body = path.read_bytes()[-500:]
    assert key_id_of_file(path) == old_id

    settings.FIELD_ENCRYPTION_KEYS = [f"new:{crypto.generate_key()}", *old_keys]
    assert rewrap(path) is True
    assert rewrap(path) is False  # idempotent
    assert key_id_of_file(path) == "new"
    assert path.read_bytes()[-500:] == body
    assert not list(tmp_path.glob(".rewrap-*"))

    settings.FIELD_ENCRYPTION_KEYS = settings.FIELD_ENCRYPTION_KEYS[:1]  # old gone
    assert read(path) == PLAIN


def test_a_file_under_a_dropped_key_fails_cleanly(tmp_path, settings):
    path = tmp_path / "f"
    write(path, PLAIN)
    settings.FIELD_ENCRYPTION_KEYS = [f"other:{crypto.generate_key()}"]

    _fails(path)


def test_abort_leaves_nothing(tmp_path):
    path = tmp_path / "f"
    with pytest.raises(RuntimeError), EncryptingWriter(path) as out:
        out.write(PLAIN)
        raise RuntimeError("upload interrupted")
    assert not path.exists()


def test_reader_memory_is_one_segment(tmp_path):
    """A 3 MiB file is read 64 KiB at a time: the reader holds one segment."""
    path = tmp_path / "big"
    data = os.urandom(3 << 20)
    write(path, data, pieces=50)
    with open_private(path) as fh:
        raw = fh.raw
        assert isinstance(raw, io.RawIOBase)
        total = 0
        while block := fh.read(1 << 16):
            total += len(block)
            assert len(raw._cached[1]) <= filecrypt.SEGMENT
    assert total == len(data)
