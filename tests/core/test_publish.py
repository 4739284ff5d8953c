"""Publishing a real demo run: the fused model equals base + that checkpoint's adapter; bad input is refused."""

from __future__ import annotations

import errno
import json

import numpy as np
import pytest

from forgellm_tui import cli
from forgellm_tui.core import fsio
from forgellm_tui.core.publish import fuse as pub
from forgellm_tui.core.errors import ForgeError, ModelError
from forgellm_tui.core.publish.fuse import publish
from forgellm_tui.settings import Settings

from publish_helpers import RUN, leftovers, run_dir

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("mlx_exit")]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SEED_FIELDS = {"model_name", "base_model", "training_type", "checkpoint_iteration", "training_config",
               "performance", "published_at"}


def _logits(model_path, adapter=None, text="def parse(value): return value"):
    import mlx.core as mx
    from mlx_lm import load

    model, tok = load(str(model_path), adapter_path=str(adapter) if adapter else None)
    out = model(mx.array([tok.encode(text)]))
    mx.eval(out)
    return np.array(out.astype(mx.float32))


def _fused_weight(base, adapter_file, key="model.layers.1.self_attn.q_proj", scale=20.0):
    """What fusing ``adapter_file`` into ``base`` must give for one layer: W + scale * (a @ b).T."""
    import mlx.core as mx

    w = np.array(mx.load(str(base / "model.safetensors"))[f"{key}.weight"])
    ad = {k: np.array(v) for k, v in mx.load(str(adapter_file)).items()}
    return w + scale * (ad[f"{key}.lora_a"] @ ad[f"{key}.lora_b"]).T


def test_publish_best_equals_base_plus_adapter(ws):
    run, base = run_dir(ws), ws / "models/base/forge-tiny"
    lines = []
    result = publish(run, ws / "published", settings=Settings.load(ws, env={}), progress=lines.append)
    out = ws / "published" / f"{RUN}-it{result.checkpoint_iteration}"
    best_state = json.loads((run / "best" / "state.json").read_text())
    assert result.path == out and result.checkpoint_label == "best"
    assert result.checkpoint_iteration == best_state["iteration"] and not result.warnings
    assert leftovers(ws / "published") == [out.name]  # no temporary folder left
    assert any("fusing checkpoint best" in line for line in lines)
    # the fused model is the base model with the best adapter applied
    fused, reference = _logits(out), _logits(base, run / "best")
    assert np.allclose(fused, reference, atol=1e-4), np.abs(fused - reference).max()
    assert not np.allclose(fused, _logits(base), atol=1e-2)  # and the adapter did change it
    meta = json.loads((out / "metadata.json").read_text())
    assert SEED_FIELDS <= set(meta)
    assert meta["checkpoint_iteration"] == best_state["iteration"] and meta["training_type"] == "CPT"
    assert {"learning_rate", "batch_size", "max_iterations"} <= set(meta["training_config"])
    assert meta["training_config"] == {**meta["training_config"], "learning_rate": 1e-3, "batch_size": 2,
                                       "max_iterations": 12}
    perf = meta["performance"]
    assert set(perf) == {"final_loss", "best_validation_loss", "tokens_trained"}
    assert perf["tokens_trained"] > 0 and perf["best_validation_loss"] == pytest.approx(best_state["validation_loss"])
    png = (out / "dashboard.png").read_bytes()
    assert png.startswith(PNG_MAGIC)
    from PIL import Image

    with Image.open(out / "dashboard.png") as img:
        assert img.format == "PNG" and img.size[0] > 400
    readme = (out / "README.md").read_text()
    assert f"**iteration {result.checkpoint_iteration}** (`best`)" in readme and f"{RUN}/best/adapters" in readme
    assert "## Recommended checkpoints" in readme and "lowest validation loss" in readme and "mlx_lm" in readme
    assert (out / "training_config.yaml").read_text() == (run / "config.yaml").read_text()


def test_publish_non_best_checkpoint_fuses_that_checkpoint(ws):
    run, base = run_dir(ws), ws / "models/base/forge-tiny"
    result = publish(run, ws / "published", checkpoint=4, name="early")
    out = ws / "published" / "early"
    assert (result.checkpoint_iteration, result.checkpoint_label) == (4, "0000004")
    import mlx.core as mx

    key = "model.layers.1.self_attn.q_proj"
    got = np.array(mx.load(str(out / "model.safetensors"))[f"{key}.weight"])
    assert np.allclose(got, _fused_weight(base, run / "checkpoints/0000004/adapters.safetensors"), atol=1e-5)
    assert not np.allclose(got, _fused_weight(base, run / "adapters.safetensors"), atol=1e-3)
    assert np.allclose(_logits(out), _logits(base, run / "checkpoints/0000004"), atol=1e-4)
    readme = (out / "README.md").read_text()
    assert "**iteration 4** (`0000004`)" in readme and f"{RUN}/checkpoints/0000004/adapters.safetensors" in readme
    assert json.loads((out / "metadata.json").read_text())["checkpoint_iteration"] == 4


def test_damaged_metrics_still_publish_with_a_note(ws):
    run = run_dir(ws)
    data = (run / "metrics.jsonl").read_bytes()
    (run / "metrics.jsonl").write_bytes(data[: len(data) - 25])  # killed mid-line
    result = publish(run, ws / "published", checkpoint="latest", name="cut")
    assert any("partial line" in w for w in result.warnings)
    assert "partial line" in (result.path / "README.md").read_text()
    (run / "metrics.jsonl").unlink()
    result = publish(run, ws / "published", checkpoint=8, name="nometrics")
    assert any("metrics.jsonl is missing" in w for w in result.warnings)
    readme = (result.path / "README.md").read_text()
    assert "metrics.jsonl is missing" in readme and "**iteration 8**" in readme
    assert (result.path / "dashboard.png").read_bytes().startswith(PNG_MAGIC)


def _refused(ws, match, **kw):
    before = leftovers(ws / "published")
    with pytest.raises(ForgeError, match=match) as info:
        publish(run_dir(ws), ws / "published", **kw)
    assert leftovers(ws / "published") == before  # nothing partial left behind
    return info.value


def test_bad_checkpoints_and_names_are_refused(ws):
    run = run_dir(ws)
    (run / "checkpoints/0000008/state.json").unlink()
    err = _refused(ws, "incomplete", checkpoint=8, name="x")
    assert "missing state.json" in str(err) and "0000008" in str(err) and "4, 12" in err.hint
    _refused(ws, "no checkpoint at iteration 99", checkpoint=99)
    _refused(ws, "unknown checkpoint", checkpoint="newest")
    _refused(ws, "published model name: '../escape' is a path", name="../escape")
    (run / "best/adapters.safetensors").unlink()
    _refused(ws, "best.*incomplete|incomplete.*best", checkpoint="best")


def test_base_model_gone_is_refused(ws):
    (ws / "models/base/forge-tiny").unlink()  # the clone links it: the shared copy stays
    err = _refused(ws, "no longer present", name="x")
    assert isinstance(err, ModelError) and "models/base/forge-tiny" in str(err) and "config.yaml" in str(err)


def test_existing_target_is_kept(ws):
    target = ws / "published" / "taken"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    _refused(ws, "already exists", name="taken")
    assert (target / "keep.txt").read_text() == "mine"


def test_full_disk_during_publish_leaves_nothing(ws, monkeypatch):
    real = fsio.atomic_write_bytes

    def full_disk(path, data):  # fault injection: the disk fills up while the dashboard is written
        if str(path).endswith("dashboard.png"):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, data)

    monkeypatch.setattr(pub.fsio, "atomic_write_bytes", full_disk)
    err = _refused(ws, "the disk is full", name="full")
    assert "nothing was left behind" in str(err) and leftovers(ws / "published") == []


@pytest.fixture
def tiny_fs(mount_tmpfs):
    """A 2 MB tmpfs (needs root and mount permission; skipped elsewhere)."""
    return mount_tmpfs("2m")


def test_really_full_disk(ws, tiny_fs, monkeypatch):
    with pytest.raises(ForgeError, match="not enough free disk space"):  # the check before any work
        publish(run_dir(ws), tiny_fs / "published", name="big")
    monkeypatch.setattr(pub, "needed_bytes", lambda *_a: 0)  # skip the check: MLX's own write fails
    with pytest.raises(ForgeError, match="the disk is full"):
        publish(run_dir(ws), tiny_fs / "published", name="big")
    assert leftovers(tiny_fs / "published") == []


def test_cli_publish_exit_codes(ws, capsys):
    run = run_dir(ws)
    assert cli.main(["-w", str(ws), "publish", f"models/cpt/{RUN}", "--checkpoint", "8", "--name", "cli"]) == 0
    out = capsys.readouterr().out
    assert "published cli: checkpoint 0000008 (iteration 8)" in out and (ws / "published/cli/config.json").is_file()
    assert cli.main(["-w", str(ws), "publish", str(run), "--checkpoint", "8", "--name", "cli"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already exists" in err and "Traceback" not in err
    assert cli.main(["-w", str(ws), "publish", str(run), "--checkpoint", "7"]) == 2
    assert "available: 4, 8, 12" in capsys.readouterr().err
    assert cli.main(["-w", str(ws), "publish", "models/cpt/nope"]) == 2
    err = capsys.readouterr().err  # the hint names every folder runs live in, preference runs' too
    assert "run folder not found" in err and "models/cpt, models/ift, models/dpo or models/orpo" in err
    assert leftovers(ws / "published") == ["cli"]


def test_dequantize_keeps_the_adapter_effect_on_a_4bit_base(ws):
    from mlx_lm.convert import convert

    from forgellm_tui.core.training.engine import train
    from train_helpers import make_cfg

    q4 = ws / "models/base/forge-tiny-q4"
    convert(str(ws / "models/base/forge-tiny"), str(q4), quantize=True, q_bits=4, q_group_size=64)
    result = train(make_cfg(ws, name="qlora", model="models/base/forge-tiny-q4", data="data/cpt-small",
                            max_iterations=4, save_every=4, steps_per_eval=4))
    assert result.status == "finished"
    exact = _logits(q4, result.run_dir / "checkpoints/0000004")  # the 4-bit base + its adapter
    deq = publish(result.run_dir, ws / "published", checkpoint=4, name="deq", dequantize=True)
    requant = publish(result.run_dir, ws / "published", checkpoint=4, name="requant")
    assert "quantization" not in json.loads((deq.path / "config.json").read_text())
    assert "quantization" in json.loads((requant.path / "config.json").read_text())
    assert json.loads((deq.path / "metadata.json").read_text())["dequantized"] is True
    err_deq = np.abs(_logits(deq.path) - exact).max()
    err_requant = np.abs(_logits(requant.path) - exact).max()
    assert err_deq < 1e-3 and err_requant > 10 * err_deq, (err_deq, err_requant)
