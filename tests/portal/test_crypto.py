import pytest
from cryptography.exceptions import InvalidTag

from portal import crypto

pytestmark = pytest.mark.django_db


def test_encrypt_round_trips_and_is_not_deterministic():
    a = crypto.encrypt("440305199003071236", purpose="member.id_number")
    b = crypto.encrypt("440305199003071236", purpose="member.id_number")

    assert a != b
    assert "440305" not in a
    assert crypto.decrypt(a, purpose="member.id_number") == "440305199003071236"


def test_ciphertext_is_bound_to_its_purpose():
    token = crypto.encrypt("13812345678", purpose="member.phone")

    with pytest.raises(InvalidTag):
        crypto.decrypt(token, purpose="member.id_number")


def test_rotation_reads_old_keys_and_writes_with_the_new(settings):
    old = crypto.encrypt("13812345678", purpose="p")
    settings.FIELD_ENCRYPTION_KEYS = [
        f"new:{crypto.generate_key()}",
        *settings.FIELD_ENCRYPTION_KEYS,
    ]

    assert crypto.decrypt(old, purpose="p") == "13812345678"
    assert crypto.key_id_of(crypto.encrypt("x", purpose="p")) == "new"


def test_blind_index_is_keyed_and_separates_purposes(settings):
    a = crypto.blind_index("13812345678", purpose="phone")

    assert a == crypto.blind_index("13812345678", purpose="phone")
    assert a != crypto.blind_index("13812345678", purpose="id_number")
    settings.BLIND_INDEX_KEY = "another-key"
    assert a != crypto.blind_index("13812345678", purpose="phone")


def test_encrypted_field_refuses_plaintext_lookups():
    from members.models import Member

    with pytest.raises(TypeError):
        Member.objects.filter(id_number="440305199003071236").exists()
