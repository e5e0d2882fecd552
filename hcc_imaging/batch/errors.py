"""The batch's errors (:mod:`hcc_imaging.batch.pipeline` re-exports them)."""

from __future__ import annotations

from ..errors import HccImagingError

__all__ = ["BatchError", "BatchInterrupted", "StudyStepError"]


class BatchError(HccImagingError, ValueError):
    """A batch cannot run as asked (empty archive, bad option, unreadable annotations ...)."""


class StudyStepError(HccImagingError, RuntimeError):
    """One step of one study failed; ``step`` names it (load, masks, measure ...)."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(message)
        self.step = step


class BatchInterrupted(KeyboardInterrupt):
    """The run was interrupted (SIGINT, Ctrl+C).  Every study record stored before is kept in
    ``OUT/store`` (and the read / assessment files of the patients already done); a run with
    ``resume=True`` (``--resume``) on the same SOURCE and OUT measures only the other studies and
    writes the tables.  A ``KeyboardInterrupt``, so code that stops on one still stops."""

    def __init__(self, out_dir: str, n_done: int, n_studies: int | None) -> None:
        of = f" of {n_studies}" if n_studies is not None else ""
        super().__init__(
            f"batch interrupted: {n_done}{of} studies done and kept in {out_dir}/store; the tables (lesions.csv, "
            "responses.csv, failures.csv) are written when the run is complete. Run it again with --resume "
            "(resume=True), the same SOURCE and --out, to measure the other studies."
        )
        self.out_dir = out_dir
        self.n_done = n_done
        self.n_studies = n_studies
