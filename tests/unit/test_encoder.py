import dramatiq
import pytest
from cryptography.fernet import Fernet

from app.crypto import SealError
from app.messaging.encoder import EncryptedJSONEncoder


def test_messages_are_encrypted_on_the_wire():
    encoder = EncryptedJSONEncoder((Fernet.generate_key().decode(),))

    wire = encoder.encode({"card_id": "c-1"})

    assert b"c-1" not in wire
    assert encoder.decode(wire) == {"card_id": "c-1"}


def test_old_keys_still_decrypt_after_rotation():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed_with_old = EncryptedJSONEncoder((old,)).encode({"id": 1})

    rotated = EncryptedJSONEncoder((new, old))

    assert rotated.decode(sealed_with_old) == {"id": 1}
    assert EncryptedJSONEncoder((new,)).decode(rotated.encode({"id": 2})) == {"id": 2}


def test_an_undecryptable_message_is_a_decode_error_not_a_crash():
    encoder = EncryptedJSONEncoder((Fernet.generate_key().decode(),))
    previous = dramatiq.get_encoder()
    dramatiq.set_encoder(encoder)
    try:
        with pytest.raises(dramatiq.errors.DecodeError):
            dramatiq.Message.decode(
                EncryptedJSONEncoder((Fernet.generate_key().decode(),)).encode({})
            )
        with pytest.raises(SealError):
            encoder.decode(b"garbage")
    finally:
        dramatiq.set_encoder(previous)
