"""Pieces of the published OpenAPI document that drf-spectacular cannot derive
from the views (security.md AP7: the document is the contract, so error bodies
and links between operations are described exactly as the API sends them).

Plain data and a postprocessing hook, no Django imports: portal.settings reads
`APPEND_COMPONENTS` and names `postprocess_links` in SPECTACULAR_SETTINGS.
"""

from __future__ import annotations

from typing import Any

_STRINGS = {"type": "array", "items": {"type": "string"}}

# DRF's 400 body: field name -> list of messages; a list of objects reports its
# failing items by index ({"riders": {"0": {"name": ["…"]}}}); errors that are
# not about one field come as {"detail": "…", "code": "…"} or non_field_errors.
VALIDATION_ERROR = {
    "type": "object",
    "description": (
        "请求有误。字段名 → 错误说明列表;列表中的对象按下标(从0开始)列出其"
        "字段错误;与单个字段无关的错误为 detail(及 code)。"
    ),
    "properties": {
        "detail": {"anyOf": [{"type": "string"}, _STRINGS]},
        "code": {"type": "string"},
        "non_field_errors": _STRINGS,
    },
    "additionalProperties": {"anyOf": [_STRINGS, {"type": "object"}]},
}

APPEND_COMPONENTS = {"schemas": {"ValidationError": VALIDATION_ERROR}}

# (operation, status) -> links to the operations that read what it created.
_LINKS: dict[tuple[str, str], dict[str, dict[str, Any]]] = {
    ("enrollment_batches_create", "202"): {
        "GetEnrollmentBatch": {
            "operationId": "enrollment_batches_retrieve",
            "parameters": {"batch_id": "$response.body#/id"},
        },
        "GetEnrollmentBatchErrors": {
            "operationId": "enrollment_batches_errors",
            "parameters": {"batch_id": "$response.body#/id"},
        },
    },
    ("enrollments_create", "200"): {
        "GetEnrollmentBatch": {
            "operationId": "enrollment_batches_retrieve",
            "parameters": {"batch_id": "$response.body#/batch_id"},
        },
        "GetEnrollmentBatchErrors": {
            "operationId": "enrollment_batches_errors",
            "parameters": {"batch_id": "$response.body#/batch_id"},
        },
    },
}


def postprocess_links(result: dict, generator, request, public) -> dict:
    """Add OpenAPI links (drf-spectacular has no annotation for them): a client
    or a stateful test follows a created batch's id to the batch's reads."""
    for item in result.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            for status, response in operation.get("responses", {}).items():
                links = _LINKS.get((operation.get("operationId", ""), status))
                if links:
                    response["links"] = links
    return result
