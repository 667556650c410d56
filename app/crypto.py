"""Symmetric sealing with Fernet and key rotation: the first key seals, every key opens."""

from __future__ import annotations

import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SealError(ValueError):
    """Data could not be opened with any configured key."""


class Sealer:
    def __init__(self, keys: tuple[str, ...]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is needed")
        self.fernet = MultiFernet([Fernet(key) for key in keys])

    def seal(self, data: dict) -> bytes:
        return self.fernet.encrypt(json.dumps(data, separators=(",", ":")).encode())

    def open(self, token: bytes | str) -> dict:
        try:
            return json.loads(self.fernet.decrypt(token))
        except InvalidToken:
            raise SealError("data could not be decrypted with any configured key") from None
