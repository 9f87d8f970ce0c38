"""Encryption of channel secrets at rest (Fernet: AES-128-CBC + HMAC-SHA256, from `cryptography`).

The key comes from config (LLMPULSE_SECRET_KEY) or, in embedded mode, from a key file created
once in the data directory with owner-only permissions; losing it makes stored channels unusable,
never readable.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken


class SecretBox:
    def __init__(self, key: str) -> None:
        self._fernet = Fernet(_fernet_key(key))

    def seal(self, values: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(values).encode()).decode()

    def open(self, token: str) -> dict[str, Any]:
        try:
            return json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken:
            raise ValueError("channel secrets cannot be decrypted: LLMPULSE_SECRET_KEY changed") from None


def _fernet_key(key: str) -> bytes:
    """Any passphrase works: it is stretched to the 32 bytes Fernet wants (a real key stays as is)."""
    try:
        if len(base64.urlsafe_b64decode(key.encode())) == 32:
            return key.encode()
    except ValueError:
        pass
    return base64.urlsafe_b64encode(hashlib.sha256(key.encode()).digest())


def load_or_create_key(configured: str, key_file: Path) -> str:
    if configured:
        return configured
    if key_file.exists():
        return key_file.read_text().strip()
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key().decode()
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key
