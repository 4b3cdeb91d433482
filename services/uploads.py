"""Streaming a platform's CSV upload to private storage (security.md AP4).

`BatchUploadHandler` replaces Django's upload handlers for the batch endpoint: it
refuses a request whose Content-Length is already too big before reading it
(413), writes the `file` part straight into the batch directory in 64 KiB pieces
while hashing it, and stops with 413 as soon as the part passes the limit. Only
the first 64 KiB are ever inspected in memory (encoding, header, binary).

The file is encrypted as it is written (portal/filecrypt, security.md FU5): the
plaintext exists only in the request's 64 KiB pieces and the segment being
filled. This handler is the endpoint's only upload handler, so Django's
TemporaryFileUploadHandler never writes the upload to FILE_UPLOAD_TEMP_DIR.
"""

from __future__ import annotations

import codecs
import hashlib
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from rest_framework import status
from rest_framework.exceptions import APIException

from portal.filecrypt import EncryptingWriter
from services.actions.batch_rows import CSV_HEADER
from services.actions.batches import batch_storage_dir

DEFAULT_MAX_BYTES = 200 * 1024 * 1024
SNIFF_BYTES = 64 * 1024
# Room for the multipart framing and the small `program` field.
ENVELOPE_SLACK = 64 * 1024


def max_upload_bytes() -> int:
    return getattr(settings, "PLATFORM_BATCH_MAX_BYTES", DEFAULT_MAX_BYTES)


class UploadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "文件超过200MB上限,请拆分后分批提交。"
    default_code = "file_too_large"

    def __init__(self) -> None:
        limit_mb = max_upload_bytes() // (1024 * 1024)
        super().__init__(f"文件超过{limit_mb}MB上限,请拆分后分批提交。")


class StagedUpload(UploadedFile):
    """An uploaded file already written to its final place in private storage."""

    def __init__(self, *, path: Path, name: str, size: int, sha256: str, head: bytes):
        super().__init__(
            file=None, name=name, content_type="text/csv", size=size, charset=None
        )
        self.path = path
        self.sha256 = sha256
        self.head = head

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


class BatchUploadHandler(FileUploadHandler):
    chunk_size = 64 * 1024

    def __init__(self, request=None) -> None:
        super().__init__(request)
        self.staged: StagedUpload | None = None
        self._fh = None
        self._path: Path | None = None

    def handle_raw_input(
        self, input_data, META, content_length, boundary, encoding=None
    ):
        if content_length and content_length > max_upload_bytes() + ENVELOPE_SLACK:
            raise UploadTooLarge()
        return None

    def new_file(self, field_name, file_name, content_type, content_length, *a, **k):
        super().new_file(field_name, file_name, content_type, content_length, *a, **k)
        if field_name != "file" or self._fh is not None:
            return  # only one `file` part is staged; others are dropped
        self._path = batch_storage_dir() / f"incoming-{uuid.uuid4().hex}.csv"
        self._fh = EncryptingWriter(self._path)
        self._hash = hashlib.sha256()
        self._size = 0
        self._head = b""

    def receive_data_chunk(self, raw_data, start):
        if self._fh is None or self._fh.closed or self.field_name != "file":
            return None  # a second `file` part or another file field: dropped
        self._size += len(raw_data)
        if self._size > max_upload_bytes():
            self._abort()
            raise UploadTooLarge()
        if len(self._head) < SNIFF_BYTES:
            self._head += raw_data[: SNIFF_BYTES - len(self._head)]
        self._hash.update(raw_data)
        self._fh.write(raw_data)
        return None

    def file_complete(self, file_size):
        if self._fh is None or self.field_name != "file" or self.staged is not None:
            return None
        self._fh.close()
        self.staged = StagedUpload(
            path=self._path,
            name=self._path.name,
            size=self._size,
            sha256=self._hash.hexdigest(),
            head=self._head,
        )
        return self.staged

    def upload_interrupted(self):
        self._abort()

    def _abort(self) -> None:
        if self._fh is not None:
            self._fh.abort()
        if self._path is not None:
            self._path.unlink(missing_ok=True)


@dataclass(frozen=True)
class FileCheck:
    encoding: str  # codec name for bytes.decode
    error: str  # "" when the file is acceptable


HEADER_ERROR = f"表头必须为:{CSV_HEADER}"


def inspect_head(head: bytes, *, size: int) -> FileCheck:
    """Encoding (UTF-8, UTF-8 with BOM, GBK), binary content and the header line,
    judged from the first 64 KiB only."""
    if size == 0 or not head.strip():
        return FileCheck("", "文件为空。")
    if b"\x00" in head:
        return FileCheck("", "文件不是文本CSV(含有二进制内容)。")
    encoding = ""
    if head.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    else:
        for candidate in ("utf-8", "gb18030"):
            decoder = codecs.getincrementaldecoder(candidate)()
            try:
                decoder.decode(head, final=size <= len(head))
            except UnicodeDecodeError:
                continue
            encoding = candidate
            break
    if not encoding:
        return FileCheck("", "无法识别文件编码,请使用UTF-8或GBK。")
    first_line, sep, rest = head.partition(b"\n")
    header = first_line.decode(encoding, errors="replace").rstrip("\r")
    if header != CSV_HEADER:
        return FileCheck(encoding, HEADER_ERROR)
    if not rest.strip(b"\r\n \t") and size <= len(head):
        return FileCheck(encoding, "文件只有表头,没有数据行。")
    return FileCheck(encoding, "")
