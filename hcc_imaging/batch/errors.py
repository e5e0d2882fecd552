"""The batch's errors (:mod:`hcc_imaging.batch.pipeline` re-exports them)."""

from __future__ import annotations

from ..errors import HccImagingError

__all__ = ["BatchError", "StudyStepError"]


class BatchError(HccImagingError, ValueError):
    """A batch cannot run as asked (empty archive, bad option, unreadable annotations ...)."""


class StudyStepError(HccImagingError, RuntimeError):
    """One step of one study failed; ``step`` names it (load, masks, measure ...)."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(message)
        self.step = step
