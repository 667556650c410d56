"""Messages are encrypted whole on the wire: Fernet, with key rotation."""

from __future__ import annotations

import dramatiq

from app.crypto import Sealer


class EncryptedJSONEncoder(dramatiq.Encoder):
    """Compact JSON sealed with MultiFernet; an unreadable message is dead-lettered by Dramatiq."""

    def __init__(self, keys: tuple[str, ...]) -> None:
        self.sealer = Sealer(keys)

    def encode(self, data: dict) -> bytes:
        return self.sealer.seal(data)

    def decode(self, data: bytes) -> dict:
        # Dramatiq wraps this error as DecodeError and nacks the message to the dead-letter
        # queue, so a message sealed with an unknown key never crash-loops a worker.
        return self.sealer.open(data)
