"""Bearer-token authentication: tokens map to owner ids (docs/design.md §10.3)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from pathlib import Path

ANONYMOUS = "anonymous"


class AuthError(Exception):
    """The caller could not be authenticated."""


class TokensFileError(ValueError):
    """The tokens file is unreadable or not of the documented shape."""


def load_tokens(path: str) -> dict[str, list[str]]:
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TokensFileError(f"cannot read tokens file {path}: {exc}") from exc
    ok = isinstance(raw, dict) and all(
        isinstance(owner, str)
        and owner
        and isinstance(tokens, list)
        and all(isinstance(t, str) and t for t in tokens)
        for owner, tokens in raw.items()
    )
    if not ok:
        raise TokensFileError(
            f"tokens file {path} must be a JSON object from owner id to a list of tokens, "
            'e.g. {"alice": ["token-a1"]}'
        )
    tokens: dict[str, list[str]] = raw
    return tokens


class Authenticator:
    """Resolves the `authorization` metadata to an owner id.

    Presented tokens are hashed and compared against every known token hash
    with hmac.compare_digest and no early exit, so timing says nothing about
    which token (or how much of one) matched. Tokens are never logged.
    """

    def __init__(self, tokens: dict[str, list[str]], allow_anonymous: bool) -> None:
        self._known = [
            (hashlib.sha256(tok.encode()).digest(), owner)
            for owner, toks in tokens.items()
            for tok in toks
        ]
        self.allow_anonymous = allow_anonymous

    def owner(self, metadata: Sequence[tuple[str, str | bytes]] | None) -> str:
        header = None
        for key, value in metadata or ():
            if key.lower() == "authorization":
                header = value.decode() if isinstance(value, bytes) else value
                break
        if header is None:
            if self.allow_anonymous:
                return ANONYMOUS
            raise AuthError("missing credentials: send 'authorization: Bearer <token>'")
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("malformed authorization header: expected 'Bearer <token>'")
        digest = hashlib.sha256(token.strip().encode()).digest()
        found: str | None = None
        for known, owner in self._known:
            if hmac.compare_digest(known, digest) and found is None:
                found = owner
        if found is None:
            raise AuthError("unknown token")
        return found
