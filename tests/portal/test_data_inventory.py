"""The data inventory covers every model field and agrees with how each field is
stored (security.md PI1, PI7)."""

from __future__ import annotations

import re

from django.apps import apps
from django.db import models

from portal.crypto import EncryptedTextField
from portal.data_inventory import (
    CLASSES,
    ENCRYPTED_ELSEWHERE,
    INVENTORY,
    PSEUDONYMOUS,
    RECORD,
    SENSITIVE,
)

# Names that say bank account or medical data: when the relief module adds
# them, they must be classed (and so stored) as sensitive.
SENSITIVE_NAMES = re.compile(
    r"bank|account_no|card_no|iban|medical|diagnos|hospital|illness|disease"
)


def _model_fields() -> dict[str, models.Field]:
    return {
        f"{model._meta.label}.{field.name}": field
        for model in apps.get_models()
        for field in model._meta.concrete_fields
    }


def _encrypted(name: str, field: models.Field) -> bool:
    return isinstance(field, EncryptedTextField) or name in ENCRYPTED_ELSEWHERE


def problems(inventory: dict, fields: dict[str, models.Field]) -> list[str]:
    """Every way `inventory` disagrees with the models (empty when it agrees)."""
    listed = [
        (f"{label}.{name}", data_class)
        for label, classes in inventory.items()
        for data_class, names in classes.items()
        for name in names.split()
    ]
    classes = dict(listed)
    out = [f"missing: {name}" for name in sorted(set(fields) - set(classes))]
    out += [f"no such field: {name}" for name in sorted(set(classes) - set(fields))]
    names = [name for name, _ in listed]
    out += [
        f"listed twice: {n}" for n in sorted({n for n in names if names.count(n) > 1})
    ]
    out += [f"unknown class: {c}" for c in sorted(set(classes.values()) - set(CLASSES))]
    for name, field in fields.items():
        data_class = classes.get(name)
        if data_class is None:
            continue
        if data_class == SENSITIVE and not _encrypted(name, field):
            out.append(f"sensitive but not encrypted: {name}")
        if _encrypted(name, field) and data_class == RECORD:
            out.append(f"encrypted but classed as record: {name}")
        if name.endswith("_hmac") and data_class != PSEUDONYMOUS:
            out.append(f"keyed hash not pseudonymous: {name}")
        if SENSITIVE_NAMES.search(name.rsplit(".", 1)[1]) and data_class != SENSITIVE:
            out.append(f"bank or medical data not sensitive: {name}")
    return out


def test_the_inventory_covers_every_field_and_matches_its_storage():
    found = problems(INVENTORY, _model_fields())

    assert not found, "portal/data_inventory.py (PI1): " + "; ".join(found)


def test_the_blind_indexes_and_the_id_number_are_where_expected():
    classes = {
        f"{label}.{name}": data_class
        for label, by_class in INVENTORY.items()
        for data_class, names in by_class.items()
        for name in names.split()
    }
    assert classes["members.Member.id_number"] == SENSITIVE
    assert classes["members.MembershipApplication.id_number"] == SENSITIVE
    assert classes["members.Member.id_number_hmac"] == PSEUDONYMOUS


def _without(inventory: dict, label: str, name: str) -> dict:
    changed = {k: dict(v) for k, v in inventory.items()}
    changed[label] = {
        c: " ".join(n for n in names.split() if n != name)
        for c, names in changed[label].items()
    }
    return changed


def test_the_checks_bite():
    fields = _model_fields()

    # a new field nobody classed
    assert problems(_without(INVENTORY, "members.Member", "gender"), fields) == [
        "missing: members.Member.gender"
    ]
    # a sensitive class on a column stored in clear
    clear = _without(INVENTORY, "services.Station", "address")
    clear["services.Station"][SENSITIVE] = "address"
    assert problems(clear, fields) == [
        "sensitive but not encrypted: services.Station.address"
    ]
    # an encrypted column called a mere record
    record = _without(INVENTORY, "members.Member", "phone")
    record["members.Member"][RECORD] += " phone"
    assert problems(record, fields) == [
        "encrypted but classed as record: members.Member.phone"
    ]
    # a bank account number in a future model
    bank = models.CharField(max_length=30)
    assert problems(
        {**INVENTORY, "x.Aid": {"personal": "bank_account_no"}},
        {**fields, "x.Aid.bank_account_no": bank},
    ) == ["bank or medical data not sensitive: x.Aid.bank_account_no"]
