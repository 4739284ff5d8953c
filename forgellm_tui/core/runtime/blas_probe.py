"""Which kernel set an OpenBLAS library runs with, and whether its sgemm is right on this CPU.

Run as a script in a fresh process (``python blas_probe.py LIBRARY``): OpenBLAS reads
``OPENBLAS_CORETYPE`` once, when the library is loaded, so each kernel set needs its own process.
Prints one JSON line: the core name, the build string, and the sgemm check's verdict. Imports only
the standard library and NumPy, so it also runs where the package itself is not importable.
"""

from __future__ import annotations

import ctypes
import json
import sys

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112

#: (m, n, k, transpose A): the blocked path with ragged edges (and its threads), small-matrix
#: paths, and the matrix-vector shapes MLX produces for one-token steps
SHAPES = ((261, 197, 131, False), (261, 197, 131, True), (33, 17, 45, False), (7, 5, 3, True),
          (1, 300, 64, False), (64, 1, 300, True))

#: slack over the textbook float32 dot-product error bound (k unit roundoffs times |A|·|B|)
SLACK = 2.0


def sgemm_error(a, b, c) -> float:
    """Worst error of ``c`` against ``a @ b`` in units of the float32 error bound; <= 1 is right.

    The reference is float64 computed without BLAS (``einsum``), so it cannot share a fault with
    the library under test. The bound is element-wise: ``SLACK * k * 2**-24 * (|A| @ |B|)``.
    """
    import numpy as np

    a64, b64 = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    ref = np.einsum("ik,kj->ij", a64, b64)
    scale = np.einsum("ik,kj->ij", np.abs(a64), np.abs(b64))
    bound = SLACK * a64.shape[1] * 2.0**-24 * scale + np.finfo(np.float32).tiny
    return float(np.max(np.abs(np.asarray(c, dtype=np.float64) - ref) / bound))


def library_sgemm(lib, a, b, trans_a: bool):
    """``a @ b`` through the library's ``cblas_sgemm`` (row-major, as MLX calls it)."""
    import numpy as np

    m, k = a.shape
    n = b.shape[1]
    stored = np.ascontiguousarray(a.T if trans_a else a, dtype=np.float32)
    b = np.ascontiguousarray(b, dtype=np.float32)
    c = np.full((m, n), np.nan, dtype=np.float32)  # a kernel that skips an element leaves NaN
    ptr = ctypes.POINTER(ctypes.c_float)
    lib.cblas_sgemm(ROW_MAJOR, TRANS if trans_a else NO_TRANS, NO_TRANS, m, n, k, ctypes.c_float(1.0),
                    stored.ctypes.data_as(ptr), m if trans_a else k, b.ctypes.data_as(ptr), n,
                    ctypes.c_float(0.0), c.ctypes.data_as(ptr), n)
    return c


def check(lib) -> float:
    """The worst ``sgemm_error`` over ``SHAPES`` (fixed seed); NaN counts as infinitely wrong."""
    import numpy as np

    rng = np.random.default_rng(7)
    worst = 0.0
    for m, n, k, trans_a in SHAPES:
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        err = sgemm_error(a, b, library_sgemm(lib, a, b, trans_a))
        worst = max(worst, err if err == err else float("inf"))
    return worst


def text_of(lib, name: str) -> str | None:
    func = getattr(lib, name, None)
    if func is None:
        return None
    func.restype = ctypes.c_char_p
    value = func()
    return value.decode(errors="replace") if value else None


def probe(path: str) -> dict:
    lib = ctypes.CDLL(path)
    info = {"core": text_of(lib, "openblas_get_corename"), "config": text_of(lib, "openblas_get_config")}
    try:
        info["error"] = check(lib)
    except Exception as exc:  # NumPy missing or the call failed: no verdict rather than a wrong one
        info["error"], info["problem"] = None, f"{type(exc).__name__}: {exc}"
    return info


if __name__ == "__main__":
    print(json.dumps(probe(sys.argv[1])))
