"""Content digests: which algorithm made a digest, and hashing bytes the same way.

Why BLAKE3: hashing was the ceiling of the store (sha256 runs at about 1.5 GB/s
on one core, and every put and every verified get hashes the whole value).
BLAKE3 with its own threads (`max_threads=AUTO`) hashes at about 10 GB/s on the
2-core machine of issue 14, so a value now costs little more than its write or
its read (`bench/store_bench.py` measures both, side by side).

The digest format, decided once here:

- ``b3-`` + 64 lowercase hex digits: BLAKE3 with its standard 32-byte output,
  what new artifacts are stored under. The hex part is what ``b3sum FILE``
  prints, so a file can be checked by hand.
- 64 lowercase hex digits, no prefix: sha256, what older versions wrote. Such
  digests stay valid for ever: old artifacts, history rows and cache entries
  load and verify without a migration.

A prefix rather than a length, because BLAKE3's standard output is as long as
sha256's (a length could only differ with a non-standard output), and a name
says which algorithm to check with to anyone reading a path or a history row.
The prefix ends in ``-`` so that a digest stays a safe file name and URI path
segment everywhere (no ``:``, which Windows forbids in file names). A later
algorithm gets its own prefix; a digest never changes meaning.

The same value stored by this version and by an older one has two digests, one
per algorithm; both are valid. The only cost is that a step whose input was
re-made after the upgrade sees a new digest and runs once more.

Nothing here imports blake3 at module level: loading the IPython extension
must stay fast.
"""

from __future__ import annotations

import hashlib
import os
import re
from typing import Any, Literal

__all__ = [
    "ALGORITHMS",
    "CURRENT",
    "Algorithm",
    "Hasher",
    "algorithm_of",
    "check_algorithm",
    "hash_bytes",
    "hex_part",
    "is_digest",
]

Algorithm = Literal["blake3", "sha256"]

ALGORITHMS: tuple[Algorithm, ...] = ("blake3", "sha256")
CURRENT: Algorithm = "blake3"
"""The algorithm new artifacts are addressed with."""

_PREFIXES: dict[str, Algorithm] = {"b3-": "blake3", "": "sha256"}
_PREFIX_OF: dict[Algorithm, str] = {alg: prefix for prefix, alg in _PREFIXES.items()}
_DIGEST_RE = re.compile(r"^(b3-)?([0-9a-f]{64})$")


def is_digest(text: Any) -> bool:
    """Whether `text` is a digest of a known algorithm (a member reference `D#NAME` is not)."""
    return isinstance(text, str) and _DIGEST_RE.match(text) is not None


def _match(digest: Any) -> re.Match[str]:
    match = _DIGEST_RE.match(digest) if isinstance(digest, str) else None
    if match is None:
        raise ValueError(
            f"not a content digest: {digest!r} (expected 64 lowercase hex digits,"
            " after 'b3-' for BLAKE3, bare for sha256)"
        )
    return match


def algorithm_of(digest: str) -> Algorithm:
    """The algorithm that made a digest; ValueError for anything that is not a digest."""
    return _PREFIXES[_match(digest).group(1) or ""]


def hex_part(digest: str) -> str:
    """The hash itself, without the algorithm's prefix (what `b3sum` or `sha256sum` print)."""
    return _match(digest).group(2)


def check_algorithm(algorithm: str) -> Algorithm:
    """`algorithm` itself if it is one of `ALGORITHMS`, else a ValueError naming them."""
    if algorithm not in ALGORITHMS:
        known = ", ".join(repr(a) for a in ALGORITHMS)
        raise ValueError(f"unknown digest algorithm {algorithm!r}: expected one of {known}")
    return algorithm  # type: ignore[return-value]


_threads_pid: int | None = None
"""The process whose BLAKE3 hashing started the thread pool (None: not started)."""


def _new_blake3() -> Any:
    """A BLAKE3 hasher on every core, or on one in a process forked after the pool started.

    BLAKE3's threads (a Rust rayon pool, GIL released) do not survive a fork:
    a child that hashes on the pool it inherited waits for ever. Processes
    started by Ray or `spawn` start their own pool; a forked child hashes on
    its own thread, still about four times as fast as sha256.
    """
    global _threads_pid
    try:
        import blake3
    except ImportError as exc:
        raise ModuleNotFoundError(
            "The artifact store addresses values by BLAKE3, which needs the blake3"
            " package: pip install blake3",
            name="blake3",
        ) from exc
    pid = os.getpid()
    if _threads_pid is None:
        _threads_pid = pid
    if _threads_pid != pid:
        return blake3.blake3()
    return blake3.blake3(max_threads=blake3.blake3.AUTO)


class Hasher:
    """An incremental hash of one algorithm whose result is a digest in the store's format."""

    __slots__ = ("_hash", "algorithm")

    def __init__(self, algorithm: str = CURRENT) -> None:
        self.algorithm = check_algorithm(algorithm)
        self._hash = _new_blake3() if algorithm == "blake3" else hashlib.sha256()

    def update(self, data: Any) -> None:
        """Add bytes (anything with the buffer protocol); large ones are hashed without the GIL."""
        self._hash.update(data)

    def digest(self) -> str:
        """The digest of everything added, prefixed as its algorithm requires."""
        return _PREFIX_OF[self.algorithm] + self._hash.hexdigest()


def hash_bytes(data: Any, algorithm: str = CURRENT) -> str:
    """The digest of a whole buffer with one algorithm (pass `algorithm_of(d)` to check `d`)."""
    hasher = Hasher(algorithm)
    hasher.update(data)
    return hasher.digest()
