"""Data-parallel training: 2 ranks on this machine (ring backend, 127.0.0.1 only) through mlx.launch.

One uninterrupted 2-rank run (module fixture) is compared with a single-process run of the same
global batch, with a run whose rank 1 is killed mid-run, and with that run resumed.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from forgellm_tui import cli
from forgellm_tui.core.runs import checkpoints as ck
from forgellm_tui.core.config.model import load_config
from forgellm_tui.core.runs.lock import RunLock, RunLocked
from forgellm_tui.core.training.engine import train
from forgellm_tui.settings import Settings

from train_helpers import metrics_lines, run_json, small_cpt

pytestmark = pytest.mark.slow

LOCAL2 = "127.0.0.1,127.0.0.1"   # loopback only
COMPARED = ("training_loss", "validation_loss", "gradient_norm")


def _config(ws: Path, name: str, **over) -> Path:
    small_cpt(ws)
    raw = {"model": "models/base/forge-tiny", "data": "data/cpt-small", "name": name, "max_iterations": 6,
           "batch_size": 4, "grad_accumulation_steps": 2, "max_seq_length": 128, "learning_rate": 1e-3,
           "lr_schedule": "cosine", "warmup_steps": 1, "lora_parameters": {"rank": 4, "scale": 20.0, "dropout": 0.0},
           "steps_per_report": 1, "steps_per_eval": 3, "val_batches": 2, "save_every": 3, "early_stopping": False,
           "seed": 3, **over}
    path = ws / "configs" / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _runs(ws: Path) -> list[str]:
    return sorted(p.name for p in (ws / "models" / "cpt").iterdir()) if (ws / "models" / "cpt").is_dir() else []


def _weights(run: Path) -> dict:
    import mlx.core as mx

    return mx.load(str(run / "adapters.safetensors"))


@pytest.fixture(scope="module")
def dist(demo_dir, tmp_path_factory):
    """(workspace, uninterrupted 2-rank run, single-process run, CLI output of the 2-rank run)."""
    ws = tmp_path_factory.mktemp("dist") / "ws"
    shutil.copytree(demo_dir, ws, symlinks=True)
    single = train(load_config(_config(ws, "single"), settings=Settings.load(ws)))
    assert single.status == "finished"
    out = subprocess.run([sys.executable, "-m", "forgellm_tui", "--workspace", str(ws), "train",
                          str(_config(ws, "two")), "--hosts", LOCAL2], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return ws, ws / "models" / "cpt" / "two", single.run_dir, out.stdout


def test_two_ranks_train_like_one_process_and_write_one_run_folder(dist):
    import mlx.core as mx

    from forgellm_tui.core.distributed.group import weights_digest

    ws, two, single, out = dist
    assert "starting 2 ranks (ring) on 127.0.0.1, 127.0.0.1" in out and "2 ranks" in out
    assert "it      6/6" in out and "/rank)" in out and "finished (reached max_iterations) at iteration 6/6" in out
    assert _runs(ws) == ["single", "two"]                       # one run folder for both ranks, no temp folders
    info = run_json(two)
    assert info["status"] == "finished"
    assert info["distributed"]["world_size"] == 2 and info["distributed"]["hosts"] == ["127.0.0.1", "127.0.0.1"]
    # both ranks end with identical weights: each rank's SHA-256, gathered at the final checkpoint
    state = ck.read_state(two / "checkpoints" / "0000006")
    assert state["rank_weights_sha256"] == [weights_digest(_weights(two))] * 2
    # the same global batch gives the same losses as one process
    a, b = metrics_lines(single), metrics_lines(two)
    assert [r["iteration"] for r in a] == [r["iteration"] for r in b]
    for x, y in zip(a, b):
        assert x["trained_tokens"] == y["trained_tokens"]
        for key in COMPARED:
            assert (x[key] is None) == (y[key] is None), (x["iteration"], key)
            if x[key] is not None:
                assert y[key] == pytest.approx(x[key], rel=1e-4), (x["iteration"], key)
    wa, wb = _weights(single), _weights(two)
    assert all(mx.allclose(wa[k], wb[k], rtol=0, atol=1e-4).item() for k in wa)


def test_a_killed_rank_fails_the_run_and_a_resume_equals_the_uninterrupted_run(dist, capsys):
    import mlx.core as mx

    ws, two, _, _ = dist
    env = dict(os.environ, FORGELLM_FAULT_HANG="1:5")    # rank 1 stops before iteration 5: kill it there
    proc = subprocess.Popen([sys.executable, "-m", "forgellm_tui", "--workspace", str(ws), "train",
                             str(_config(ws, "killed")), "--hosts", LOCAL2],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines = []
    guard = threading.Timer(240, proc.kill)       # never hang the suite
    guard.start()
    try:
        for line in proc.stdout:
            lines.append(line)
            if "HANGING rank 1 pid" in line:
                os.kill(int(line.split("HANGING rank 1 pid ")[1].split()[0]), signal.SIGKILL)
                break
        killed_at = time.monotonic()
        rest = proc.communicate(timeout=120)[0]
        stopped_in = time.monotonic() - killed_at
    finally:
        guard.cancel()
        if proc.poll() is None:
            proc.kill()
    out = "".join(lines) + rest
    assert any("HANGING rank 1 pid" in line for line in lines), out[-3000:]
    assert proc.returncode == 1, out[-3000:]
    assert stopped_in < 60, stopped_in                          # rank 0 noticed the lost peer and ended
    assert "connection to a peer was lost" in out and "resume it: forgellm-tui train --resume" in out
    run = ws / "models" / "cpt" / "killed"
    info = run_json(run)
    assert info["status"] == "failed" and info["iteration"] == 4 and info["last_checkpoint"] == "0000003"
    assert [it for it, _ in ck.list_complete(run)] == [3]       # the last good checkpoint is intact
    a, b = ck.load_weights(two / "checkpoints" / "0000003"), ck.load_weights(run / "checkpoints" / "0000003")
    assert all(mx.array_equal(a[k], b[k]).item() for k in a)

    rc = cli.main(["--workspace", str(ws), "train", "--resume", str(run)])
    out = capsys.readouterr().out
    assert rc == 0 and "resuming killed" in out and "iterations 3->6" in out, out[-3000:]
    info = run_json(run)
    assert info["status"] == "finished" and info["resumed_from"][0]["iteration"] == 3
    wa, wb = _weights(two), _weights(run)
    assert all(mx.array_equal(wa[k], wb[k]).item() for k in wa)  # bit-identical to the uninterrupted run
    ra, rb = metrics_lines(two), metrics_lines(run)
    assert [r["iteration"] for r in ra] == [r["iteration"] for r in rb]
    for x, y in zip(ra, rb):
        for key in COMPARED + ("learning_rate", "trained_tokens", "epoch"):
            assert x[key] == y[key], (x["iteration"], key)
    assert "killed" in _runs(ws) and not [n for n in _runs(ws) if n.startswith(".")]   # no temp folders left


def _refusals(ws: Path, tmp: Path):
    (tmp / "bad.json").write_text('["127.0.0.1", oops]')
    (tmp / "one.json").write_text('[{"ssh": "127.0.0.1", "ips": ["127.0.0.1"]}]')
    yield "unreachable host", ["--hosts", "127.0.0.1,forgellm-nobody@127.0.0.1"], \
        ["cannot reach host 'forgellm-nobody@127.0.0.1'", "SSH", "docs/distributed.md"]
    yield "hostfile not JSON", ["--hostfile", str(tmp / "bad.json")], ["bad.json", "not valid JSON", "line 1"]
    yield "one host", ["--hostfile", str(tmp / "one.json")], ["1 host", "at least 2 ranks"]
    yield "batch not divisible", ["--hosts", "127.0.0.1,127.0.0.1,127.0.0.1"], \
        ["batch_size", "4 is not divisible by the 3 ranks", "multiple of 3"]
    yield "rank 0 elsewhere", ["--hosts", "forgellm-nobody@127.0.0.1,127.0.0.1"], ["must be this machine"]
    yield "bad backend", ["--set", "distributed.backend=nccl", "--hosts", LOCAL2], ["backend 'nccl'", "ring, mpi"]


def test_bad_distributed_input_is_refused_before_any_training(workspace, tmp_path, capsys):
    config = _config(workspace, "refused")
    for label, extra, words in _refusals(workspace, tmp_path):
        rc = cli.main(["--workspace", str(workspace), "train", str(config), *extra])
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        assert rc == 2, (label, captured.out, captured.err)
        assert len(lines) == 1 and lines[0].startswith("error: "), (label, captured.err)
        for word in words:
            assert word in lines[0], (label, word, lines[0])
        assert "Traceback" not in captured.err + captured.out, label
        assert _runs(workspace) == [], label                  # nothing written

    # mlx.launch missing: a Python whose environment has no mlx.launch (and none on PATH)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(os.path.realpath(sys.executable))
    env = {k: v for k, v in os.environ.items() if k != "FORGELLM_MLX_LAUNCH"}
    env["PATH"] = f"{bin_dir}:/usr/bin:/bin"
    out = subprocess.run([str(bin_dir / "python"), "-m", "forgellm_tui", "--workspace", str(workspace), "train",
                          str(config), "--hosts", LOCAL2], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 2, out.stderr
    assert "mlx.launch not found" in out.stderr and "pip install mlx" in out.stderr and "Traceback" not in out.stderr
    assert _runs(workspace) == []


GATE = """
import sys
from pathlib import Path
from forgellm_tui.core.training.control import TrainingControl
from forgellm_tui.core.distributed.group import RankRefused, SyncedControl, init_world, share_checkpoint
from forgellm_tui.core.errors import DataError, ForgeError

world = init_world("ring")
folder = Path(sys.argv[1])
copy, cleanup = share_checkpoint(world, folder if world.is_main else None)
same = all((copy / f.name).read_bytes() == f.read_bytes() for f in folder.iterdir())
print(f"rank {world.rank} copy {'same' if same else 'DIFFERENT'} {'own' if copy == folder else 'temp'}", flush=True)
if cleanup:
    cleanup()
    assert not copy.exists()
local = TrainingControl()
if world.is_main:
    local.set_max_iterations(42)
    local.stop("stopped by test")
control = SyncedControl(world, local)
control.sync(10)
print(f"rank {world.rank} sync stop={control.stop_requested} max={control.take_max_iterations(10)}", flush=True)
error = DataError("data folder not found", path="/x/data") if world.rank == 1 else None
try:
    world.check_ready(error)
except RankRefused:
    print(f"rank {world.rank} refused quietly", flush=True)
except ForgeError as exc:
    print(f"rank {world.rank} says: {exc}", flush=True)
"""


def test_start_up_gate_and_what_rank_0_shares(dist, tmp_path):
    """Rank 0 shares checkpoint files and control requests; a rank that cannot train stops all."""
    from forgellm_tui.core.distributed.launch import find_launcher, free_ports

    ws, two, _, _ = dist
    script = tmp_path / "gate.py"
    script.write_text(GATE)
    out = subprocess.run([find_launcher(), "--hosts", "127.0.0.1", "-n", "2", "--backend", "ring",
                          "--starting-port", str(free_ports(2)), "--", sys.executable, str(script),
                          str(two / "checkpoints" / "0000003")], capture_output=True, text=True, timeout=120)
    text = out.stdout + out.stderr
    assert "rank 0 copy same own" in text and "rank 1 copy same temp" in text, text
    assert "rank 0 sync stop=True max=42" in text and "rank 1 sync stop=True max=42" in text, text
    assert "rank 0 says: rank 1 on" in text and "/x/data: data folder not found" in text, text
    assert "rank 1 refused quietly" in text, text


def test_ctrl_c_stops_every_rank_after_the_same_step(dist):
    """Ctrl-C reaches rank 0 only; all ranks stop together and rank 0 saves the checkpoint."""
    ws, _, _, _ = dist
    proc = subprocess.Popen([sys.executable, "-m", "forgellm_tui", "--workspace", str(ws), "train",
                             str(_config(ws, "ctrl-c", max_iterations=400, save_every=1000)), "--hosts", LOCAL2],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    guard = threading.Timer(240, proc.kill)       # never hang the suite
    guard.start()
    try:
        for line in proc.stdout:
            if line.startswith("it ") and line.split()[1].startswith("3/"):
                break
        folder = ws / "models" / "cpt" / "ctrl-c"
        with pytest.raises(RunLocked, match=f"pid {run_json(folder)['pid']}"):  # rank 0 holds the run folder
            RunLock.acquire(folder)
        proc.send_signal(signal.SIGINT)
        out = proc.communicate(timeout=120)[0]
    finally:
        guard.cancel()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out[-3000:]
    assert "SIGINT: all ranks stop after this step" in out and "Traceback" not in out
    run = ws / "models" / "cpt" / "ctrl-c"
    info = run_json(run)
    assert info["status"] == "stopped" and 3 <= info["iteration"] < 400
    state = ck.read_state(run / "checkpoints" / f"{info['iteration']:07d}")
    assert state["reason"] == "stop" and len(set(state["rank_weights_sha256"])) == 1


def test_two_ranks_train_dpo_like_one_process(workspace):
    """A DPO run on two ranks (each with its share of every batch's pairs) equals the single-process run:
    the same preference losses and reward metrics, the same weights, one run folder."""
    import mlx.core as mx

    from train_helpers import small_pref

    data = small_pref(workspace, train=16, valid=8)
    over = {"training_type": "dpo", "data": data, "max_seq_length": 64, "max_iterations": 4, "steps_per_eval": 2,
            "save_every": 2, "val_batches": -1}
    single = train(load_config(_config(workspace, "dpo-single", **over), settings=Settings.load(workspace)))
    assert single.status == "finished"
    out = subprocess.run([sys.executable, "-m", "forgellm_tui", "--workspace", str(workspace), "train",
                          str(_config(workspace, "dpo-two", **over)), "--hosts", LOCAL2],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    two = workspace / "models" / "dpo" / "dpo-two"
    assert sorted(p.name for p in (workspace / "models" / "dpo").iterdir()) == ["dpo-single", "dpo-two"]
    a, b = metrics_lines(single.run_dir), metrics_lines(two)
    assert [r["iteration"] for r in a] == [r["iteration"] for r in b]
    keys = COMPARED + ("reward_accuracy", "reward_margin", "val_reward_accuracy", "val_reward_margin")
    compared = 0
    for x, y in zip(a, b):
        for key in keys:
            assert (x.get(key) is None) == (y.get(key) is None), (x["iteration"], key)
            if x.get(key) is not None:
                assert y[key] == pytest.approx(x[key], rel=1e-4, abs=1e-6), (x["iteration"], key)
                compared += 1
    assert compared > 10
    wa, wb = _weights(single.run_dir), _weights(two)
    assert all(mx.allclose(wa[k], wb[k], rtol=0, atol=1e-4).item() for k in wa)
