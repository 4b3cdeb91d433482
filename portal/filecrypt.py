"""Private files at rest: envelope encryption with AES-256-GCM (security.md FU5).

Each file gets its own random 256-bit data key. The data key is sealed
("wrapped") with the primary key of FIELD_ENCRYPTION_KEYS (portal/crypto.py), so
the key that opens a file never sits on the disk or in the database next to it,
and rotating FIELD_ENCRYPTION_KEYS only rewrites a file's small header
(`rewrap`), never its body.

Layout (all integers big-endian):

    header   MAGIC (4) | version (1) | segment size (4) | nonce prefix (8)
             | key id length (1) | key id | wrapped data key (12 nonce + 32 + 16 tag)
    body     segment 0 | segment 1 | ... | segment n-1

Every segment but the last holds exactly `segment size` plaintext bytes (64 KiB)
sealed with the data key: nonce = nonce prefix || segment number (4), associated
data = the fixed header fields || segment number || last flag (1 for the final
segment, else 0). So a segment cannot be moved, a file cannot be cut at a
segment boundary (the new final segment was sealed with last = 0) or extended,
and any changed byte fails its segment's tag. An empty file is one empty final
segment. The plaintext size follows from the file size, and any plaintext byte
range can be read by decrypting only the segments that hold it (the batch
stager reads chunks by byte range, several workers at once).

MAGIC begins with NUL, which no accepted batch CSV contains (services/uploads
`inspect_head` refuses it), so a file written before encryption is told apart by
its first bytes; callers decide whether such a legacy file is acceptable.
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Callable
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.core.exceptions import ImproperlyConfigured

from portal.crypto import keyring

MAGIC = b"\x00PFE"
VERSION = 1
SEGMENT = 64 * 1024
TAG = 16
_FIXED = struct.Struct(">4sBI8s")  # magic, version, segment size, nonce prefix
_WRAPPED = 12 + 32 + TAG
_WRAP_AAD = b"portal-file-key\x00"
_SEG_AAD = b"portal-file-segment\x00"


class FileIntegrityError(ValueError):
    """The file is not a readable encrypted file: changed, cut short, extended,
    or sealed with a key that is no longer in FIELD_ENCRYPTION_KEYS."""


def _segment_aad(fixed: bytes, index: int, last: bool) -> bytes:
    return _SEG_AAD + fixed + struct.pack(">IB", index, 1 if last else 0)


def _wrap(data_key: bytes, fixed: bytes) -> tuple[str, bytes]:
    key_id, ring = keyring()
    nonce = os.urandom(12)
    sealed = ring[key_id].encrypt(nonce, data_key, _WRAP_AAD + fixed + key_id.encode())
    return key_id, nonce + sealed


def _header(fixed: bytes, key_id: str, wrapped: bytes) -> bytes:
    kid = key_id.encode()
    if len(kid) > 255:
        raise ImproperlyConfigured("Encryption key id longer than 255 bytes")
    return fixed + bytes([len(kid)]) + kid + wrapped


class _Header:
    __slots__ = ("fixed", "segment", "prefix", "key_id", "wrapped", "length")

    @classmethod
    def read(cls, fh) -> _Header:
        head = cls()
        fixed = fh.read(_FIXED.size)
        if len(fixed) != _FIXED.size:
            raise FileIntegrityError("header cut short")
        magic, version, segment, prefix = _FIXED.unpack(fixed)
        if magic != MAGIC or version != VERSION or not 0 < segment <= 1 << 24:
            raise FileIntegrityError("not an encrypted file of a known version")
        size = fh.read(1)
        if len(size) != 1:
            raise FileIntegrityError("header cut short")
        kid = fh.read(size[0])
        wrapped = fh.read(_WRAPPED)
        if len(kid) != size[0] or len(wrapped) != _WRAPPED:
            raise FileIntegrityError("header cut short")
        head.fixed, head.segment, head.prefix = fixed, segment, prefix
        head.key_id = kid.decode("ascii", errors="replace")
        head.wrapped = wrapped
        head.length = _FIXED.size + 1 + len(kid) + _WRAPPED
        return head

    def data_key(self) -> bytes:
        _, ring = keyring()
        aead = ring.get(self.key_id)
        if aead is None:
            raise FileIntegrityError(f"no key with id {self.key_id!r}")
        try:
            return aead.decrypt(
                self.wrapped[:12],
                self.wrapped[12:],
                _WRAP_AAD + self.fixed + self.key_id.encode(),
            )
        except InvalidTag as exc:
            raise FileIntegrityError("data key does not open") from exc


class EncryptingWriter:
    """Write plaintext in any pieces; sealed 64 KiB segments go to disk as they
    fill. `close()` seals the final segment; `abort()` removes the file. The file
    is created new (never overwrites) with mode 0600."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._fh = os.fdopen(fd, "wb")
        self._key = os.urandom(32)
        self._aead = AESGCM(self._key)
        self._fixed = _FIXED.pack(MAGIC, VERSION, SEGMENT, os.urandom(8))
        self._prefix = self._fixed[-8:]
        key_id, wrapped = _wrap(self._key, self._fixed)
        self._fh.write(_header(self._fixed, key_id, wrapped))
        self._buf = bytearray()
        self._index = 0
        self.size = 0  # plaintext bytes written
        self.closed = False

    def _seal(self, data: bytes, *, last: bool) -> None:
        nonce = self._prefix + struct.pack(">I", self._index)
        aad = _segment_aad(self._fixed, self._index, last)
        self._fh.write(self._aead.encrypt(nonce, data, aad))
        self._index += 1

    def write(self, data: bytes) -> int:
        self._buf += data
        self.size += len(data)
        # Keep at least one byte back: a full segment is sealed as "not last"
        # only once it is known that more data follows.
        while len(self._buf) > SEGMENT:
            self._seal(bytes(self._buf[:SEGMENT]), last=False)
            del self._buf[:SEGMENT]
        return len(data)

    def close(self) -> None:
        if self.closed:
            return
        self._seal(bytes(self._buf), last=True)
        self._buf = bytearray()
        self._fh.close()
        self.closed = True

    def abort(self) -> None:
        if not self.closed:
            self._fh.close()
            self.closed = True
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> EncryptingWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class DecryptingReader(io.RawIOBase):
    """A seekable, read-only raw stream of the plaintext of an encrypted file.
    Holds one decrypted segment at a time; wrap in io.BufferedReader for
    readline / iteration (see `open_private`)."""

    def __init__(self, fh) -> None:
        super().__init__()
        self._fh = fh
        fh.seek(0)
        head = _Header.read(fh)
        self._fixed, self._prefix = head.fixed, head.prefix
        self._segment_size = head.segment
        self._aead = AESGCM(head.data_key())
        self._body = head.length
        body = os.fstat(fh.fileno()).st_size - head.length
        sealed = self._segment_size + TAG
        self._count = max(1, -(-body // sealed))
        last = body - (self._count - 1) * sealed - TAG
        if body <= 0 or last < 0:
            raise FileIntegrityError("file cut short")
        self.size = (self._count - 1) * self._segment_size + last
        self._pos = 0
        self._cached: tuple[int, bytes] | None = None

    def _segment(self, index: int) -> bytes:
        if self._cached is not None and self._cached[0] == index:
            return self._cached[1]
        last = index == self._count - 1
        sealed = self._segment_size + TAG
        self._fh.seek(self._body + index * sealed)
        data = self._fh.read(sealed)
        if not last and len(data) != sealed:
            raise FileIntegrityError("file cut short")
        nonce = self._prefix + struct.pack(">I", index)
        try:
            plain = self._aead.decrypt(
                nonce, data, _segment_aad(self._fixed, index, last)
            )
        except InvalidTag as exc:
            raise FileIntegrityError(f"segment {index} does not open") from exc
        self._cached = (index, plain)
        return plain

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = self.size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if pos < 0:
            raise ValueError("negative seek position")
        self._pos = pos
        return pos

    def readinto(self, buffer) -> int:
        if self._pos >= self.size:
            return 0
        index, offset = divmod(self._pos, self._segment_size)
        plain = self._segment(index)
        n = min(len(buffer), len(plain) - offset)
        buffer[:n] = plain[offset : offset + n]
        self._pos += n
        return n

    def close(self) -> None:
        if not self.closed:
            self._fh.close()
            self._cached = None
        super().close()


def is_encrypted(path: Path) -> bool:
    with Path(path).open("rb") as fh:
        return fh.read(len(MAGIC)) == MAGIC


def open_private(
    path: Path, *, legacy: Callable[[bytes], bool] | None = None
) -> io.BufferedReader:
    """Open a private file for reading its plaintext (binary, seekable).

    A file without the encryption header is a plaintext file from before
    encryption: it is returned as is only if `legacy(first 4 KiB)` says it looks
    like one; otherwise (or without `legacy`) FileIntegrityError. The check keeps
    an encrypted file whose first byte was changed from being read as plaintext.
    """
    fh = Path(path).open("rb")  # noqa: SIM115 - returned to the caller
    try:
        start = fh.read(4096)
        if start.startswith(MAGIC):
            return io.BufferedReader(DecryptingReader(fh), buffer_size=SEGMENT)
        if legacy is None or not legacy(start):
            raise FileIntegrityError("not an encrypted file")
        fh.seek(0)
        return fh
    except BaseException:
        fh.close()
        raise


def key_id_of_file(path: Path) -> str | None:
    """The id of the key that wraps the file's data key; None for plaintext."""
    with Path(path).open("rb") as fh:
        if fh.read(len(MAGIC)) != MAGIC:
            return None
        fh.seek(0)
        return _Header.read(fh).key_id


def rewrap(path: Path) -> bool:
    """Seal the file's data key again with the primary key (key rotation).
    The body is not touched: the new file is the new header followed by a copy
    of the sealed segments, then renamed over the old one (a reader that has the
    old file open keeps reading it). Returns whether the file changed."""
    path = Path(path)
    primary, _ = keyring()
    with path.open("rb") as fh:
        if fh.read(len(MAGIC)) != MAGIC:
            return False
        fh.seek(0)
        head = _Header.read(fh)
        if head.key_id == primary:
            return False
        key_id, wrapped = _wrap(head.data_key(), head.fixed)
        tmp = path.with_name(f".rewrap-{path.name}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(_header(head.fixed, key_id, wrapped))
                fh.seek(head.length)
                while block := fh.read(1 << 20):
                    out.write(block)
                out.flush()
                os.fsync(out.fileno())
            # Deleted meanwhile (batch cleanup, retention): do not bring it back.
            try:
                same = os.stat(path).st_ino == os.fstat(fh.fileno()).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                tmp.unlink(missing_ok=True)
                return False
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return True


def rewrap_tree(root: Path, *, dry_run: bool = False) -> int:
    """`rewrap` every encrypted file under `root` whose data key is not under
    the primary key (plaintext files are left alone); returns how many were (or,
    with dry_run, would be) rewrapped. Used by `manage.py rotate_field_keys`."""
    primary, _ = keyring()
    count = 0
    root = Path(root)
    if not root.is_dir():
        return 0
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            if name.startswith(".rewrap-"):
                continue
            path = Path(dirpath) / name
            try:
                key_id = key_id_of_file(path)
            except (FileNotFoundError, FileIntegrityError):
                continue  # deleted meanwhile, or damaged: its reader reports it
            if key_id is None or key_id == primary:
                continue
            if dry_run or rewrap(path):
                count += 1
    return count
