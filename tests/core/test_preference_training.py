"""Preference training (DPO, ORPO) in the engine: config keys, refused data, metrics, reference, exact resume."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from forgellm_tui.core.config.model import ConfigFieldError, from_dict
from forgellm_tui.core.training.control import TrainingControl
from forgellm_tui.core.training.engine import train

from train_helpers import MODEL, Recorder, make_cfg, metrics_lines, oom_once, run_json, small_pref

pytestmark = pytest.mark.usefixtures("mlx_exit")

DPO_KEYS = ("rewards_chosen", "rewards_rejected", "reward_margin", "reward_accuracy")
ORPO_KEYS = ("log_odds_ratio", "nll", "reward_accuracy")


def _pref_cfg(ws: Path, **over):
    raw = {"training_type": "dpo", "data": small_pref(ws), "max_seq_length": 64, "batch_size": 2, "max_iterations": 6,
           "steps_per_report": 1, "steps_per_eval": 3, "val_batches": -1, "save_every": 3}
    raw.update(over)
    return make_cfg(ws, **raw)


# --------------------------------------------------------------------------- config

def test_preference_types_and_their_keys_are_accepted():
    base = {"model": MODEL, "data": "data/x"}
    dpo = from_dict({**base, "training_type": "dpo", "beta": 0.25})
    orpo = from_dict({**base, "type": "orpo", "lambda": 0.5})
    assert (dpo.training_type, dpo.beta, dpo.is_preference) == ("dpo", 0.25, True)
    assert (orpo.training_type, orpo.orpo_lambda, orpo.is_preference) == ("orpo", 0.5, True)
    assert not from_dict(base).is_preference
    assert not dpo.effective_early_stopping  # like IFT: small sets, off unless asked for
    assert "beta: 0.25" in dpo.to_yaml() and from_dict({**base, **_yaml_dict(orpo)}).orpo_lambda == 0.5


def _yaml_dict(cfg) -> dict:
    import yaml

    return {k: v for k, v in yaml.safe_load(cfg.to_yaml()).items() if k in ("training_type", "orpo_lambda")}


@pytest.mark.parametrize("raw, key, words", [
    ({"training_type": "dpo", "beta": 0}, "beta", "> 0"),
    ({"training_type": "dpo", "beta": -1.5}, "beta", "> 0"),
    ({"training_type": "orpo", "lambda": 0}, "lambda", "> 0"),
    ({"training_type": "dpo", "packing": True}, "packing", "set packing: false"),
    ({"training_type": "orpo", "packing": True}, "packing", "one pair per row"),
])
def test_bad_preference_settings_name_the_key_and_the_fix(raw, key, words):
    with pytest.raises(ConfigFieldError) as info:
        from_dict({"model": MODEL, "data": "data/x", **raw})
    line = str(info.value)
    assert line.startswith(f"{key}:") and words in line and "\n" not in line


# --------------------------------------------------------------------------- refused before a run folder exists

def _runs(ws: Path) -> list[Path]:
    return [p for p in (ws / "models").rglob("run.json")]


def _write(ws: Path, raw: dict) -> Path:
    import yaml

    path = ws / "configs" / "pref-test.yaml"
    path.write_text(yaml.safe_dump({"model": MODEL, "max_seq_length": 64, "batch_size": 2, **raw}))
    return path


@pytest.mark.parametrize("raw, words", [
    ({"training_type": "dpo", "data": "data/ift-demo"}, ["data:", "ift-demo is IFT data; DPO needs preference pairs "
                                                                 "(prepare --kind preference)"]),
    ({"training_type": "orpo", "data": "data/cpt-demo"}, ["data:", "cpt-demo is CPT text; ORPO needs preference pairs"]),
    ({"training_type": "ift", "data": "PREF"}, ["data:", "is preference data (chosen/rejected pairs); IFT needs "
                                                         "conversations — use training_type: dpo or orpo"]),
    ({"training_type": "cpt", "data": "PREF"}, ["data:", "CPT needs text"]),
    ({"training_type": "dpo", "data": "PREF", "beta": 0}, ["beta:", "> 0"]),
    ({"training_type": "dpo", "data": "PREF", "packing": True}, ["packing:", "set packing: false"]),
])
def test_wrong_data_or_settings_for_the_type_exit_2_with_one_line_and_no_run_folder(workspace, capsys, raw, words):
    from forgellm_tui import cli

    if raw["data"] == "PREF":
        raw = {**raw, "data": small_pref(workspace)}
    rc = cli.main(["--workspace", str(workspace), "train", str(_write(workspace, raw))])
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert rc == 2 and len(lines) == 1 and lines[0].startswith("error: "), captured.err
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert "Traceback" not in captured.err + captured.out
    assert _runs(workspace) == [] and not any((workspace / "models" / kind).exists() for kind in ("dpo", "orpo"))


def test_pairs_without_a_manifest_are_known_by_their_lines(workspace, capsys):
    from forgellm_tui import cli

    data = small_pref(workspace)
    (workspace / data / "manifest.json").unlink()
    rc = cli.main(["--workspace", str(workspace), "train", str(_write(workspace, {"training_type": "ift", "data": data}))])
    assert rc == 2 and "is preference data" in capsys.readouterr().err and _runs(workspace) == []


def _train_line_error(workspace, capsys, raw) -> str:
    from forgellm_tui import cli

    rc = cli.main(["--workspace", str(workspace), "train", str(_write(workspace, raw))])
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert rc == 2 and len(lines) == 1 and "Traceback" not in captured.err + captured.out, captured.err
    assert _runs(workspace) == [] and not (workspace / "models" / raw["training_type"]).exists()
    return lines[0]


def test_a_prompt_longer_than_max_seq_length_names_the_file_line_and_fix(workspace, capsys):
    data = small_pref(workspace)
    train = workspace / data / "train.jsonl"
    lines = train.read_text().splitlines()
    long = json.loads(lines[2])
    long["prompt"] = " ".join(["the json module reads and writes files"] * 40)
    lines[2] = json.dumps(long)
    train.write_text("\n".join(lines) + "\n")
    line = _train_line_error(workspace, capsys, {"training_type": "dpo", "data": data})
    assert str(train) in line and "line 3" in line and "both answers are truncated away" in line
    assert "raise max_seq_length or shorten the prompt" in line


@pytest.mark.parametrize("bad, words", [
    ({"prompt": "What is it?", "chosen": "The same.", "rejected": "The same."}, "the same answer"),
    ({"prompt": "What is it?", "chosen": "An answer."}, '"rejected" is missing'),
])
def test_a_bad_pair_in_prepared_data_names_the_file_and_line(workspace, capsys, bad, words):
    data = small_pref(workspace)
    train = workspace / data / "train.jsonl"
    train.write_text(train.read_text() + json.dumps(bad) + "\n")
    line = _train_line_error(workspace, capsys, {"training_type": "orpo", "data": data})
    assert str(train) in line and "line 25" in line and words in line


# --------------------------------------------------------------------------- real runs

def test_dpo_run_records_rewards_keeps_its_reference_and_goes_under_models_dpo(workspace):
    rec = Recorder()
    result = train(_pref_cfg(workspace, name="dpo-run"), rec)
    assert result.status == "finished", result.error
    run = result.run_dir
    assert run.parent == workspace / "models" / "dpo"
    records = metrics_lines(run)
    first = records[0]  # the validation before the first step: policy == reference, every reward 0
    assert first["iteration"] == 0 and first["validation_loss"] == pytest.approx(np.log(2), abs=1e-5)
    assert first["val_reward_margin"] == pytest.approx(0.0, abs=1e-5) and first["val_reward_accuracy"] == 0.0
    train_records = [r for r in records if r["training_loss"] is not None]
    assert [r["iteration"] for r in train_records] == [1, 2, 3, 4, 5, 6]
    for r in train_records:
        assert all(isinstance(r[k], float) for k in DPO_KEYS), r
        assert r["reward_margin"] == pytest.approx(r["rewards_chosen"] - r["rewards_rejected"], abs=1e-5)
        assert 0.0 <= r["reward_accuracy"] <= 1.0
    validated = [r for r in records if r["validation_loss"] is not None]
    assert [r["iteration"] for r in validated] == [0, 3, 6]
    assert all(f"val_{k}" in r for r in validated for k in DPO_KEYS)
    assert not any("val_reward_accuracy" in r for r in records if r["validation_loss"] is None)
    events = rec.by_type["Metrics"]
    assert events[-1].extra["val_reward_accuracy"] == records[-1]["val_reward_accuracy"]
    # the reference: one row per pair, saved in the run folder; the starting model scored it
    ref = np.load(run / "reference" / "train.npy")
    assert ref.shape == (24, 2) and np.all(ref < 0)
    assert np.load(run / "reference" / "valid.npy").shape == (8, 2)
    info = run_json(run)
    best = min(validated[1:], key=lambda r: r["validation_loss"])
    assert info["training_type"] == "dpo" and info["best_validation_loss"] == best["validation_loss"]
    assert info["best_iteration"] == best["iteration"]
    assert info["best_val_reward_accuracy"] == best["val_reward_accuracy"]


def test_dpo_ranking_and_model_card_report_the_validation_reward_accuracy(workspace):
    from forgellm_tui.core.publish.fuse import publish
    from forgellm_tui.core.runs import rank_checkpoints
    from forgellm_tui.settings import Settings

    result = train(_pref_cfg(workspace, name="dpo-card", max_iterations=3, steps_per_eval=3))
    records = metrics_lines(result.run_dir)
    last = records[-1]["val_reward_accuracy"]
    ranked = rank_checkpoints(records, [3])
    assert f"val reward accuracy {last:.2f}" in ranked[0].reason
    published = publish(result.run_dir, workspace / "published", settings=Settings.load(workspace, env={}))
    readme = (published.path / "README.md").read_text()
    meta = json.loads((published.path / "metadata.json").read_text())
    assert meta["training_type"] == "DPO" and meta["performance"]["val_reward_accuracy"] == last
    assert f"Validation reward accuracy (pairs whose chosen answer wins): 0.00 at iteration 0 → {last:.2f}" in readme
    assert f"val reward accuracy {last:.2f}" in readme and "| beta | `0.1` |" in readme
    assert "orpo_lambda" not in readme


def test_orpo_run_records_the_log_odds_ratio_and_needs_no_reference(workspace):
    result = train(_pref_cfg(workspace, name="orpo-run", training_type="orpo", max_iterations=3))
    assert result.status == "finished", result.error
    records = metrics_lines(result.run_dir)
    assert result.run_dir.parent == workspace / "models" / "orpo"
    trained = [r for r in records if r["training_loss"] is not None]
    assert len(trained) == 3 and all(isinstance(r[k], float) for r in trained for k in ORPO_KEYS)
    assert all(r["training_loss"] > r["nll"] for r in trained)  # nll + lambda * (a positive odds-ratio term)
    assert all(f"val_{k}" in records[-1] for k in ORPO_KEYS)
    assert not (result.run_dir / "reference").exists()


def test_dpo_resumed_after_a_stop_equals_an_uninterrupted_run(workspace):
    import mlx.core as mx

    over = {"grad_accumulation_steps": 2, "lora_dropout": 0.1, "lr_schedule": "cosine", "warmup_steps": 1}
    straight = train(_pref_cfg(workspace, name="straight", **over))
    assert straight.status == "finished", straight.error

    control = TrainingControl()

    def stop_at_4(iteration: int) -> None:
        if iteration == 4:
            control.stop()

    stopped = train(_pref_cfg(workspace, name="stopped", **over), control=control, fault_hook=stop_at_4)
    assert stopped.status == "stopped" and stopped.iteration == 4
    run = stopped.run_dir
    ref_file = run / "reference" / "train.npy"
    before = ref_file.stat().st_mtime_ns
    resumed = train(_pref_cfg(workspace, name="stopped", **over), resume_from=run)
    assert resumed.status == "finished" and resumed.iteration == 6
    assert ref_file.stat().st_mtime_ns == before  # loaded, not computed again
    logs = [json.loads(line)["message"] for line in (run / "log.jsonl").read_text().splitlines()]
    assert sum("DPO reference: log-probs of the 24 train pairs" in m for m in logs) == 1

    a = mx.load(str(straight.run_dir / "adapters.safetensors"))
    b = mx.load(str(run / "adapters.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        assert mx.array_equal(a[key], b[key]).item(), key
    rec_a, rec_b = metrics_lines(straight.run_dir), metrics_lines(run)
    assert [r["iteration"] for r in rec_a] == [r["iteration"] for r in rec_b]
    for x, y in zip(rec_a, rec_b):
        for key in ("training_loss", "validation_loss", "reward_margin", "reward_accuracy", "val_reward_accuracy"):
            assert x.get(key) == pytest.approx(y.get(key), rel=1e-6, abs=1e-9), (x["iteration"], key)


def test_a_stop_during_the_reference_pass_ends_the_run_before_its_first_step_and_writes_no_reference(workspace):
    """The reference pass of a real model takes minutes, and Stop must work during it: the run ends
    "stopped" at iteration 0 with no reference file (half a pass is never kept), and a resume computes it."""
    control = TrainingControl()

    def stop_on_reference_progress(event) -> None:
        if type(event).__name__ == "Progress" and event.task.startswith("reference"):
            control.stop()

    rec = Recorder(stop_on_reference_progress)
    stopped = train(_pref_cfg(workspace, name="ref-stop"), rec, control=control)
    assert stopped.status == "stopped" and stopped.iteration == 0, stopped.error
    run = stopped.run_dir
    assert not (run / "reference").exists() and not list(run.glob("checkpoints/*"))
    assert run_json(run)["status"] == "stopped" and "Metrics" not in rec.by_type
    resumed = train(_pref_cfg(workspace, name="ref-stop"), resume_from=run)
    assert resumed.status == "finished" and resumed.iteration == 6, resumed.error
    assert np.load(run / "reference" / "train.npy").shape == (24, 2)


def test_pause_save_now_and_extend_work_on_a_dpo_run(workspace):
    import threading

    from forgellm_tui.core import events as ev

    control = TrainingControl()
    done: set[int] = set()

    def hook(event) -> None:
        if not isinstance(event, ev.Metrics) or event.iteration in done:
            return
        done.add(event.iteration)
        if event.iteration == 2:
            control.save_now()
            control.pause()
            threading.Timer(0.3, control.resume).start()
        if event.iteration == 4:
            control.extend(2)  # 6 -> 8

    rec = Recorder(hook)
    result = train(_pref_cfg(workspace, name="dpo-controls", save_every=100, steps_per_eval=4), rec, control)
    assert result.status == "finished" and result.iteration == 8, result.error
    assert "paused" in rec.states()
    reasons = [(e.iteration, e.reason) for e in rec.by_type["CheckpointSaved"]]
    assert (2, "manual") in reasons and (8, "final") in reasons
    trained = [r for r in metrics_lines(result.run_dir) if r["training_loss"] is not None]
    assert [r["iteration"] for r in trained] == list(range(1, 9))
    assert all(isinstance(r[k], float) for r in trained for k in DPO_KEYS)
    logs = (result.run_dir / "log.jsonl").read_text()
    assert logs.count("DPO reference: log-probs of the 24 train pairs") == 1  # a pause does not recompute it


def test_demo_dpo_config_learns_to_prefer_the_docstring_answers(workspace):
    """configs/dpo-demo.yaml on data/demo-preference, shortened to 20 iterations: on the held-out pairs the
    chosen answer (the asked object's docstring) clearly wins more often than chance, and the loss falls."""
    from forgellm_tui.core.config.model import load_config
    from forgellm_tui.settings import Settings

    cfg = load_config(workspace / "configs" / "dpo-demo.yaml", {"max_iterations": 20, "steps_per_eval": 10,
                                                                "save_every": 10}, settings=Settings.load(workspace))
    assert (cfg.training_type, cfg.data) == ("dpo", "data/demo-preference")
    result = train(cfg)
    assert result.status == "finished", result.error
    validated = [r for r in metrics_lines(result.run_dir) if r["validation_loss"] is not None]
    assert [r["iteration"] for r in validated] == [0, 10, 20]
    assert validated[0]["val_reward_accuracy"] == 0.0  # before training the policy is the reference
    last = validated[-1]
    assert last["val_reward_accuracy"] >= 0.6, last
    assert last["validation_loss"] < np.log(2) - 0.05 and last["val_reward_margin"] > 0


def test_out_of_memory_in_a_dpo_run_halves_the_batch_and_continues(workspace):
    """An injected out-of-memory error at iteration 5: the run restarts from its last checkpoint with half the
    pairs per micro-batch and twice the accumulation, keeps its stored reference, and finishes."""
    result = train(_pref_cfg(workspace, name="dpo-oom", batch_size=4), Recorder(), fault_hook=oom_once(5))
    assert result.status == "finished" and result.iteration == 6
    assert result.oom_recoveries[0]["batch_size"] == 2 and result.oom_recoveries[0]["grad_accumulation_steps"] == 2
    records = metrics_lines(result.run_dir)
    iterations = [r["iteration"] for r in records]
    assert iterations == sorted(set(iterations)) and iterations[-1] == 6
    assert all(r.get("reward_accuracy") is not None for r in records if r.get("training_loss") is not None)
    assert (result.run_dir / "reference" / "train.npy").is_file()
