"""``forgellm-tui doctor [--json]``: the device, BLAS library, kernel set, threads and MLX versions.

Runs after the OpenBLAS re-exec like every command, so it shows what a training run gets here.
"""

from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("doctor", help="show the device, BLAS library and kernel set, threads, MLX/mlx-lm versions")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=run)


def _rows(d: dict) -> list[tuple[str, str]]:
    kernel = d["kernel_set"] or "-"
    if d["kernel_note"]:
        kernel += f" ({d['kernel_note']})"
    blas = d["blas"]
    if d["blas_library"]:
        blas += f" {d['blas_library']}"
    if d["blas_config"]:
        blas += f" [{d['blas_config']}]"
    threads = f"{d['blas_threads']} BLAS threads" if d["blas_threads"] else "-"
    threads += f", {d['cpu_cores']} CPU cores"
    if d["openblas_num_threads"]:
        threads += f" (OPENBLAS_NUM_THREADS={d['openblas_num_threads']})"
    cpu = d["cpu"] + (f" (supports {d['cpu_best_kernel_set']} kernels)" if d["cpu_best_kernel_set"] else "")
    mlx = (d["mlx"] or "not installed") + (f" (mlx-cpu {d['mlx_cpu']})" if d["mlx_cpu"] else "")
    rows = [("device", d["device"]), ("BLAS library", blas), ("kernel set", kernel), ("threads", threads),
            ("CPU", cpu), ("MLX", mlx), ("mlx-lm", d["mlx_lm"] or "not installed"),
            ("Python", f"{d['python']} on {d['platform']}")]
    if d["preload_disabled"]:
        rows.append(("note", "FORGELLM_NO_BLAS_PRELOAD is set: no OpenBLAS preload, no kernel choice"))
    if d["hint"]:
        rows.append(("hint", d["hint"]))
    return rows


def run(args) -> int:
    from forgellm_tui.core.runtime import backend as runtime, collect

    try:
        data = collect()
    finally:
        runtime.shutdown_mlx()
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    rows = _rows(data)
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")
    return 0
