"""Page tokens at rest: MultiFernet over TOKEN_ENCRYPTION_KEYS (newest key first).

Encryption always uses the newest key; decryption tries each key, so a new key can be added in
front, `manage.py rotate_token_keys` re-encrypts, and the old key is then removed.
See docs/adr/0002-token-encryption.md.
"""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class TokenDecryptError(Exception):
    """No configured key decrypts this value (a key was removed before rotating)."""


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.TOKEN_ENCRYPTION_KEYS))


def encrypt_token(token: str) -> str:
    return fernet().encrypt(token.encode()).decode()


def decrypt_token(ciphertext: str) -> str:
    try:
        return fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise TokenDecryptError(
            "A stored token could not be decrypted with TOKEN_ENCRYPTION_KEYS: was a key "
            "removed before `manage.py rotate_token_keys` ran?"
        ) from None


def rotate_token(ciphertext: str) -> str:
    """Re-encrypt with the newest key (MultiFernet.rotate keeps the original timestamp)."""
    try:
        return fernet().rotate(ciphertext.encode()).decode()
    except InvalidToken:
        raise TokenDecryptError("A stored token could not be decrypted for rotation.") from None
