"""One BLAS thread while a click is segmented (``hcc_imaging._blas``): the limit is taken and
lifted, nested and across threads, and ``segment_lesion`` runs inside it."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from threadpoolctl import ThreadpoolController

from hcc_imaging import _blas


def _blas_threads() -> set[int]:
    return {i["num_threads"] for i in ThreadpoolController().info() if i["user_api"] == "blas"}


@pytest.fixture
def two_threads():  # type: ignore[no-untyped-def]
    """The user's setting: two BLAS threads (this machine's default), put back afterwards."""
    ctl = ThreadpoolController()
    if not ctl.select(user_api="blas").lib_controllers:
        pytest.skip("no BLAS library that threadpoolctl controls")
    with ctl.limit(limits=2, user_api="blas"):
        assert _blas_threads() == {2}
        yield


def test_the_limit_is_one_thread_and_the_users_setting_comes_back(two_threads) -> None:  # type: ignore[no-untyped-def]
    with _blas.one_blas_thread():
        assert _blas_threads() == {1}
        with _blas.one_blas_thread():  # nested: still one, and not lifted by the inner block
            assert _blas_threads() == {1}
        assert _blas_threads() == {1}
    assert _blas_threads() == {2}


def test_an_error_inside_lifts_the_limit(two_threads) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="boom"), _blas.one_blas_thread():
        raise ValueError("boom")
    assert _blas_threads() == {2}
    assert _blas._depth == 0


def test_blocks_in_two_threads_share_the_limit_and_the_last_lifts_it(two_threads) -> None:  # type: ignore[no-untyped-def]
    """Thread A enters, B enters, A leaves (B still runs: still one thread), B leaves (two again):
    without the shared count A would put two threads back under B, or B would leave one behind."""
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, set[int]] = {}

    def a() -> None:
        with _blas.one_blas_thread():
            a_in.set()
            b_in.wait(5)
        a_out.set()

    def b() -> None:
        a_in.wait(5)
        with _blas.one_blas_thread():
            b_in.set()
            a_out.wait(5)
            seen["b after a left"] = _blas_threads()

    ts = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(10)
    assert seen["b after a left"] == {1}
    assert _blas_threads() == {2}


def test_a_click_runs_with_one_blas_thread(two_threads, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """``segment_lesion`` (the napari click, the CLI, the batch) runs inside the limit, and the
    products inside it give the same mask as without it (OpenBLAS splits rows, not sums)."""
    from hcc_imaging.segment import _driver, lesion
    from tests.segment._phantom import perf_phantom

    seen: list[set[int]] = []
    real = _driver._liver_on

    def spy(*a, **k):  # type: ignore[no-untyped-def]
        seen.append(_blas_threads())
        return real(*a, **k)

    monkeypatch.setattr(_driver, "_liver_on", spy)
    ph = perf_phantom(3, noise_sd_hu=15.0, diameter_mm=12.0)
    limited = lesion.segment_lesion(ph.volume, seed_index=ph.seed_index).labels.array
    assert seen and all(s == {1} for s in seen)
    assert _blas_threads() == {2}
    unlimited = lesion.segment_lesion.__wrapped__(ph.volume, seed_index=ph.seed_index).labels.array
    assert seen[-1] == {2}
    assert np.count_nonzero(limited) > 100 and np.array_equal(limited, unlimited)
