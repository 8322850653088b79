"""SCRAM-SHA-256 verifiers as PostgreSQL stores them, so no cleartext password ever reaches the server.

`CREATE ROLE ... PASSWORD '<verifier>'` stores a verifier as given (PostgreSQL's `password_encryption`
only applies to cleartext), and the server then checks logins against it exactly as if it had hashed the
password itself. The statement text, which the server logs (`log_statement=ddl`, or as the failing
statement of a retried deploy), then carries a salted PBKDF2 hash, never the password.

Format (PostgreSQL `src/backend/libpq/auth-scram.c`, RFC 5802 and RFC 7677):
`SCRAM-SHA-256$<iterations>:<salt, base64>$<StoredKey, base64>:<ServerKey, base64>`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

ITERATIONS = 4096
"""PostgreSQL's default `scram_iterations` (the value its own clients and `password_encryption` use)."""
SALT_BYTES = 16
"""PostgreSQL's SCRAM_DEFAULT_SALT_LEN."""
PREFIX = "SCRAM-SHA-256$"


def verifier(password: str, salt: bytes, iterations: int = ITERATIONS) -> str:
    """The verifier of `password` with `salt`.

    PostgreSQL applies SASLprep to the password first; for ASCII letters and digits (what the platform
    generates) SASLprep is the identity, and anything else is refused here rather than hashed differently.
    """
    if not (password.isascii() and password.isalnum()):
        raise ValueError("only ASCII letters and digits are hashed here (SASLprep is their identity)")
    if len(salt) < SALT_BYTES:
        raise ValueError(f"a SCRAM salt needs at least {SALT_BYTES} bytes, got {len(salt)}")
    if iterations < 1:
        raise ValueError("iterations must be positive")
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return f"{PREFIX}{iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def verifier_from_base64_salt(password: str, salt_base64: str) -> str:
    """`verifier` with the salt as `random.RandomBytes` gives it (`base64`), stable across previews."""
    return verifier(password, base64.b64decode(salt_base64, validate=True))
