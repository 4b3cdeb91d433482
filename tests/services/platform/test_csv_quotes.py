"""Quotes in a batch CSV: an unclosed quote is one malformed_row, never the rows
after it silently dropped nor a failed batch; the chunk reader and the splitter
always agree on what a record is."""

from __future__ import annotations

import io
from datetime import date

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from portal.filecrypt import EncryptingWriter
from services.actions.batch_rows import MSG, csv_records
from services.actions.batches import _scan_chunks
from services.models import BatchRowError, EnrollmentBatch, EnrollmentBatchChunk
from tests.factories import make_id_number
from tests.services.platform.builders import csv_bytes, rider_row

URL = "/api/v1/enrollment-batches/"


def five_riders() -> list[list[str]]:
    return [
        rider_row(
            name=name,
            id_number=make_id_number(born=date(1990, 1, i + 1)),
            phone=f"1380013800{i}",
            rider_id=f"R{i}",
        )
        for i, name in enumerate(["张三", "李四", "王五", "赵六", "钱七"])
    ]


def run_batch(client, body: bytes, capture) -> EnrollmentBatch:
    with capture(execute=True):
        response = client.post(
            URL,
            {"file": io.BytesIO(body), "program": "e-road"},
            format="multipart",
            HTTP_IDEMPOTENCY_KEY="quotes-1",
        )
    assert response.status_code == 202, response.content
    return EnrollmentBatch.objects.get(pk=response.json()["id"])


@pytest.mark.django_db
@pytest.mark.parametrize("row", [1, 3, 5])
@pytest.mark.parametrize("column", [0, 8], ids=["name", "consented_at"])
def test_an_unclosed_quote_is_one_malformed_row_and_the_others_count(
    alpha, program, django_capture_on_commit_callbacks, row, column
):
    # given: row `row` opens a quote that is never closed (before the fix the
    # rows from it to the end of the file vanished: total_rows 0 for row 1)
    rows = five_riders()
    rows[row - 1][column] = '"' + rows[row - 1][column]

    # when
    batch = run_batch(alpha, csv_bytes(rows), django_capture_on_commit_callbacks)

    # then
    detail = alpha.get(f"{URL}{batch.pk}/").json()
    assert detail["status"] == "done"
    assert detail["total_rows"] == detail["processed_rows"] == 5
    assert (detail["created"], detail["already_enrolled"], detail["rejected"]) == (
        4,
        0,
        1,
    )
    errors = list(BatchRowError.objects.values_list("row", "field", "code", "message"))
    assert errors == [(row, "", "malformed_row", MSG["malformed_quotes"])]


@pytest.mark.django_db
def test_quoted_fields_and_an_unclosed_quote_across_chunks(
    alpha, program, django_capture_on_commit_callbacks, settings
):
    # given: chunks of two rows; properly quoted fields ("" inside one), a stray
    # quote after a closing quote, and an unclosed quote in the fourth row
    settings.PLATFORM_BATCH_CHUNK_ROWS = 2
    settings.PLATFORM_BATCH_PARALLEL = 1
    rows = five_riders()
    rows[0][0] = '"张三"'
    rows[1][7] = '"C-""1"""'
    rows[2][5] = '"R2"x'
    rows[3][0] = '"赵六'

    # when
    batch = run_batch(alpha, csv_bytes(rows), django_capture_on_commit_callbacks)

    # then
    assert EnrollmentBatchChunk.objects.filter(batch=batch).count() == 3
    batch.refresh_from_db()
    assert (batch.total_rows, batch.created, batch.rejected) == (5, 3, 2)
    assert list(BatchRowError.objects.values_list("row", "code")) == [
        (3, "malformed_row"),
        (4, "malformed_row"),
    ]


def test_csv_records_reads_quoted_fields_and_isolates_an_unclosed_quote():
    text = (
        '"张三",a\r\n'  # quoted field
        '"多\n行",b\n'  # one record over two lines
        "\n"  # blank line: skipped
        'c,"d""e"\n'  # doubled quote inside
        '"x"y,z\n'  # text after a closing quote
        "f,g\rh\n"  # bare carriage return
        '"未闭合,i\n'  # quote never closed
        "j,k\n"
    )
    rows = list(csv_records(text))
    assert rows == [
        ["张三", "a"],
        ["多\n行", "b"],
        ["c", 'd"e'],
        [],
        [],
        [],
        ["j", "k"],
    ]
    assert [type(row).__name__ for row in rows[3:6]] == ["MalformedRecord"] * 3


LINE = st.lists(
    st.sampled_from(["a", "张", ",", '"', '""', "\r", " "]), max_size=6
).map("".join)


@given(lines=st.lists(LINE, max_size=12), chunk_rows=st.integers(1, 4))
@hypothesis_settings(max_examples=300, deadline=None)
def test_splitter_and_reader_agree_on_every_record(tmp_path_factory, lines, chunk_rows):
    # given: any file of short lines made of quotes, commas, CRs and text
    path = tmp_path_factory.mktemp("csv") / "f.csv"
    data = ("header\n" + "\n".join(lines) + ("\n" if lines else "")).encode()
    with EncryptingWriter(path) as out:  # as the upload handler stores it
        out.write(data)

    # when: it is cut into chunks and each chunk is read
    ranges, total = _scan_chunks(path, chunk_rows=chunk_rows)
    per_chunk = [
        len(list(csv_records(data[start:end].decode()))) for start, end, *_ in ranges
    ]

    # then: every chunk yields exactly the rows it was counted with
    assert per_chunk == [count for *_, count in ranges]
    assert sum(per_chunk) == total
