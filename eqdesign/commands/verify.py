"""`eqdesign verify`: each saved model re-checked (api.loading.verify)."""

from __future__ import annotations

from collections.abc import Sequence

from ..api.loading import verify
from ..results import Verification, VerifyBatch


def verify_paths(paths: Sequence[str]) -> VerifyBatch:
    return VerifyBatch([verify_one(p) for p in paths])


def verify_one(path: str, samples: int = 16, seed: int = 0) -> Verification:
    return verify(path, samples=samples, seed=seed)
