"""Pipeline API keys: each lets its holder trigger one pipeline and read that pipeline's runs, nothing else.

A key reads `mlp_<id>_<secret>`. Only the SHA-256 of the secret is stored (the
secret is 256 random bits, so a fast hash is enough: there is nothing to
guess); the key itself is shown once, when it is made. Checking a key looks its
id up and compares the hashes with `hmac.compare_digest` (constant time), also
when the id is unknown, so timing tells nothing about which ids exist.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
import time
from typing import TYPE_CHECKING, Literal, TypedDict

from ..errors import PublishError
from .db import RegistryDB
from .registry import Registry

if TYPE_CHECKING:
    from .workspace import Workspace

__all__ = ["KeyInfo", "KeyRefused", "KeyState", "Keys", "NewKey"]

KeyState = Literal["active", "expired", "revoked"]
_KEY_RE = re.compile(r"^mlp_([0-9a-f]{12})_([A-Za-z0-9_-]{20,100})$")
_DUMMY_HASH = hashlib.sha256(b"no such key").hexdigest()


class KeyInfo(TypedDict):
    id: str
    pipeline: str
    created: float
    expires: float | None
    revoked: float | None
    state: KeyState


class NewKey(TypedDict):
    """What `mlpipe keys create --json` prints: the key is shown this once."""

    id: str
    key: str
    pipeline: str
    expires: float | None


class KeyRefused(PublishError):
    """A key that is malformed, unknown, expired or revoked (HTTP 401)."""


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _info(row: sqlite3.Row, now: float) -> KeyInfo:
    state: KeyState = "revoked" if row["revoked"] else (
        "expired" if row["expires"] is not None and row["expires"] <= now else "active")
    return {"id": row["id"], "pipeline": row["pipeline"], "created": row["created"], "expires": row["expires"],
            "revoked": row["revoked"], "state": state}


class Keys:
    """The API keys of a workspace."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.db = RegistryDB(workspace.registry_path)

    def create(self, pipeline: str, *, expires_in: float | None = None) -> NewKey:
        """A new key for `pipeline` (which must be published), valid for `expires_in` seconds (None: no expiry)."""
        Registry(self.workspace).pipeline(pipeline)
        key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        now = time.time()
        expires = now + expires_in if expires_in else None
        self.db.write(lambda c: c.execute(
            "INSERT INTO api_keys (id, pipeline, hash, created, expires) VALUES (?, ?, ?, ?, ?)",
            (key_id, pipeline, _hash(secret), now, expires)))
        return {"id": key_id, "key": f"mlp_{key_id}_{secret}", "pipeline": pipeline, "expires": expires}

    def list(self, pipeline: str | None = None) -> list[KeyInfo]:
        if not self.db.exists():
            return []
        now = time.time()
        sql, args = "SELECT * FROM api_keys", ()
        if pipeline is not None:
            sql, args = sql + " WHERE pipeline = ?", (pipeline,)
        return self.db.read(lambda c: [_info(r, now) for r in c.execute(sql + " ORDER BY created", args)])

    def revoke(self, key_id: str) -> KeyInfo:
        """Revoke a key by its id (what `keys list` shows); revoking twice is fine."""
        def update(c: sqlite3.Connection) -> KeyInfo | None:
            c.execute("UPDATE api_keys SET revoked = ? WHERE id = ? AND revoked IS NULL", (time.time(), key_id))
            row = c.execute("SELECT * FROM api_keys WHERE id = ?", (key_id,)).fetchone()
            return _info(row, time.time()) if row is not None else None

        found = self.db.write(update) if self.db.exists() else None
        if found is None:
            raise PublishError(f"No API key with id {key_id!r} in the workspace {self.workspace}.",
                               hint="mlpipe keys list shows the ids (the key itself is never needed to revoke it).")
        return found

    def check(self, key: str) -> KeyInfo:
        """The key's record when the key is valid now; KeyRefused (saying why) otherwise."""
        match = _KEY_RE.match(key.strip())
        key_id, secret = match.groups() if match else ("", key)
        row = None
        if match and self.db.exists():
            row = self.db.read(lambda c: c.execute("SELECT * FROM api_keys WHERE id = ?", (key_id,)).fetchone())
        matches = hmac.compare_digest(_hash(secret), row["hash"] if row is not None else _DUMMY_HASH)
        if row is None or not matches:
            raise KeyRefused("This API key is not valid.", hint="Send a key made by mlpipe keys create NAME, as "
                             "'Authorization: Bearer mlp_...'.")
        info = _info(row, time.time())
        if info["state"] != "active":
            raise KeyRefused(f"This API key was {info['state']}.", pipeline=info["pipeline"],
                             hint=f"Ask for a new key: mlpipe keys create {info['pipeline']}.")
        return info
