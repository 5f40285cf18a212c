import csv
import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import tfpose3d
from tfpose3d.cli import main
from tfpose3d.config import TrainConfig
from tfpose3d.data import render
from tfpose3d.data.options import RenderOptions
from tfpose3d.data.sources import open_source
from tfpose3d.presets import BUDGET_FIELDS, PRESETS, train_preset

TRAIN_ARGS = ["--epochs", "8", "--steps-per-epoch", "4", "--batch-size", "8", "--validation-steps", "1"]


def epochs_logged(run: Path) -> list[int]:
    path = run / "history.csv"
    if not path.is_file():
        return []
    with path.open() as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


def train_command(run, data_dir):
    return [sys.executable, "-m", "tfpose3d.cli", "train", "--out", str(run), "--data", str(data_dir), *TRAIN_ARGS]


@pytest.mark.slow
def test_killed_run_resumes_losing_at_most_one_epoch(tmp_path, data_dir):
    run = tmp_path / "run"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen(train_command(run, data_dir), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while len(epochs_logged(run)) < 2 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before_kill = len(epochs_logged(run))
    assert 2 <= done_before_kill < 8, "the run must be killed midway"
    assert not (run / "model.keras").exists()

    subprocess.run(train_command(run, data_dir), env=env, check=True, capture_output=True)
    logged = epochs_logged(run)
    resumed_from = logged[done_before_kill]
    # Resumed, not restarted, and at most one epoch repeated.
    assert resumed_from >= done_before_kill - 1 and resumed_from > 0
    assert logged[-1] == 7 and (run / "model.keras").is_file() and (run / "best.keras").is_file()
    # The same command on a finished run trains nothing more.
    again = subprocess.run(train_command(run, data_dir), env=env, check=True, capture_output=True, text=True)
    assert "already trained" in again.stdout and epochs_logged(run) == logged
    assert (run / "logs").is_dir()
    saved = json.loads((run / "config.json").read_text())
    assert saved["train"]["epochs"] == 8 and saved["data"] == str(data_dir)

    # Evaluate the trained run: tables and figure are written, and the mean-pose row is there.
    assert main(["evaluate", str(run)]) == 0  # its own test data, from config.json
    summary = json.loads((run / "evaluation" / "summary.json").read_text())
    assert [r["model"] for r in summary] == ["model", "mean pose"] and summary[0]["samples"] == 20
    assert (run / "evaluation" / "examples.png").stat().st_size > 10_000


def test_same_run_folder_with_other_settings_is_refused(tmp_path, data_dir, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"train": {"epochs": 1}, "data": None}))
    assert main(["train", "--out", str(run), "--data", str(data_dir), *TRAIN_ARGS]) == 2
    assert "different configuration" in capsys.readouterr().err


def test_a_run_saved_before_a_new_default_field_is_still_the_same_run(tmp_path):
    from tfpose3d.train import _same_run

    config = train_preset("cpu-quick")
    resolved = {"train": config.to_dict(), "data": None, "renderer": "mesh-3"}
    older = json.loads(json.dumps(resolved))
    del older["train"]["augment"]["texture"]  # as runs saved before Augment.texture
    (tmp_path / "config.json").write_text(json.dumps(older))
    assert _same_run(tmp_path, resolved)
    other = {**resolved, "train": dataclasses.replace(config, epochs=3).to_dict()}
    with pytest.raises(ValueError, match="different configuration"):
        _same_run(tmp_path, other)


@pytest.mark.parametrize("renderer", [None, "mesh-1"])
def test_a_run_of_another_renderer_is_not_evaluated_on_new_renders(tmp_path, monkeypatch, capsys, renderer):
    from tfpose3d.presets import train_preset

    monkeypatch.setenv("TFPOSE3D_DATA", str(tmp_path / "data"))
    run = tmp_path / "run"
    run.mkdir()
    saved = {"train": train_preset("cpu-quick").to_dict(), "data": None}
    if renderer:
        saved["renderer"] = renderer
    (run / "config.json").write_text(json.dumps(saved))
    (run / "model.keras").write_bytes(b"")
    assert main(["evaluate", str(run)]) == 2
    err = capsys.readouterr().err
    assert "pass --data with the run's rendered data folder" in err and (renderer or "an earlier renderer") in err
    assert not (tmp_path / "data").exists()  # nothing was rendered


def test_a_motion_set_named_to_evaluate_a_run_is_rendered_as_the_run_rendered_its_data(tmp_path, monkeypatch):
    from tfpose3d import ModelConfig, build_model

    monkeypatch.setenv("TFPOSE3D_DATA", str(tmp_path / "data"))
    run = tmp_path / "run"
    run.mkdir()
    config = TrainConfig(model=ModelConfig(width=0.05, image_size=64, grid_size=8), train_images=8, test_images=4,
                         look="plain")
    (run / "config.json").write_text(json.dumps({"train": config.to_dict(), "data": "mocap:bandai-namco"}))
    build_model(config.model).save(run / "model.keras")
    assert main(["evaluate", str(run), "--data", "mocap:bandai-namco"]) == 0
    rendered = [p.name for p in (tmp_path / "data").iterdir() if not p.name.startswith(".")]
    assert rendered == [f"bandai-namco-{render.VERSION}-plain-8-4-s0"]  # the run's look and counts, not the defaults


@pytest.mark.parametrize(
    "args, message",
    [
        (["--epochs", "0"], "--epochs: must be at least 1, got 0"),
        (["--batch-size", "x"], "--batch-size: expected an integer, got 'x'"),
        (["--strategy", "multi-worker"], "TF_CONFIG"),
        (["--data", "/nonexistent/folder"], "dataset.json"),
        (["--photos", "/nonexistent/photos"], "/nonexistent/photos: no annotations.json"),
        (["--bone-epochs", "2"], "the model has none (bone_lengths=False)"),  # the default preset, cpu-quick
        (["--preset", "cpu-pretrained-long", "--bone-copies", "0"], "--bone-copies: must be at least 1, got 0"),
        (["--time-budget", "-5"], "--time-budget: must be a finite number at least 0, got -5"),
        (["--time-budget", "nan"], "--time-budget: must be a finite number at least 0, got nan"),
        (["--preset", "cpu-pretrained", "--strategy", "multi-worker"], "train without one (time_budget_s=0, --time-budget 0)"),
    ],
)
def test_bad_training_inputs_are_named(tmp_path, args, message, capsys, monkeypatch, data_dir):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    base = ["train", "--out", str(tmp_path / "r"), "--steps-per-epoch", "1"]
    if "--data" not in args:
        base += ["--data", str(data_dir)]
    assert main(base + args) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "r").exists()  # nothing half-made


def test_preset_overrides_and_round_trip():
    config = train_preset("cpu-quick", {"variant": "baseline"}, epochs=3, seed=None)
    assert config.epochs == 3 and config.model.variant == "baseline" and config.seed == 0
    assert (config.model.image_size, config.model.width, config.preset) == (128, 0.25, "cpu-quick")
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert train_preset("paper").model.image_size == 225
    with pytest.raises(ValueError, match="Unknown preset"):
        train_preset("huge")


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_each_preset_row_spells_out_its_budget(name):
    """The table, not a dataclass default, defines a preset: every budget field is in its row."""
    row = PRESETS[name]
    assert set(BUDGET_FIELDS) <= set(row["train"]) and row["description"]
    config = train_preset(name)
    assert {k: getattr(config, k) for k in row["train"]} == row["train"]


def test_run_folder_with_unreadable_or_unknown_config_is_refused(tmp_path, data_dir, capsys):
    run = tmp_path / "run"
    run.mkdir()
    saved = {"train": {**train_preset("cpu-quick").to_dict(), "warmup": 3}, "data": str(data_dir)}
    (run / "config.json").write_text(json.dumps(saved))
    assert main(["train", "--out", str(run), "--data", str(data_dir), *TRAIN_ARGS]) == 2
    err = capsys.readouterr().err
    assert "warmup" in err and err.count("\n") == 1
    (run / "config.json").write_text("{not json")
    assert main(["evaluate", str(run), "--data", str(data_dir)]) == 2
    assert "No model at" in capsys.readouterr().err
    assert main(["evaluate", str(run)]) == 2
    assert "config.json" in capsys.readouterr().err


def test_compiled_run_model_loads_safely_in_a_fresh_process(tmp_path):
    """A trained run's model.keras (compiled with tfpose3d's losses and metrics) loads after `import tfpose3d`."""
    script = textwrap.dedent(
        f"""
        import warnings, keras, tfpose3d
        from tfpose3d.presets import train_preset
        from tfpose3d.estimator import compile_model
        config = train_preset("cpu-quick", {{"image_size": 64, "grid_size": 8, "width": 0.05}})
        model = tfpose3d.build_model(config.model)
        compile_model(model, config, total_steps=10)
        model.save("{tmp_path}/m.keras")
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
    check = textwrap.dedent(
        f"""
        import numpy as np, keras, tfpose3d
        m = keras.models.load_model("{tmp_path}/m.keras", safe_mode=True)
        y = {{"joints_2d": np.full((1, 17, 2), 30.0, "float32"), "joints_3d": np.zeros((1, 17, 3), "float32")}}
        result = m.evaluate(np.zeros((1, 64, 64, 3), "float32"), y, verbose=0, return_dict=True)
        print(type(m.optimizer).__name__, sorted(result))
        """
    )
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Adam" in out.stdout and "'pose_3d_mpjpe'" in out.stdout and "'joints_2d_pixel_error'" in out.stdout
    assert "'loss_2d'" in out.stdout and "'loss_3d'" in out.stdout


def test_compile_model_without_total_steps_keeps_a_rate_the_caller_can_lower():
    """total_steps None: Adam at the preset's constant rate, which a plateau rule sets (a schedule is not settable)."""
    import keras

    from tfpose3d.estimator import compile_model

    config = train_preset("cpu-quick", {"image_size": 64, "grid_size": 8, "width": 0.05})
    model = tfpose3d.build_model(config.model)
    compile_model(model, config, total_steps=None)
    assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == pytest.approx(config.learning_rate)
    model.optimizer.learning_rate = config.learning_rate / 4
    assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == pytest.approx(config.learning_rate / 4)
    compile_model(model, config, total_steps=100)
    with pytest.raises(TypeError):
        model.optimizer.learning_rate = config.learning_rate / 4


def test_plateau_rule_cuts_after_patience_and_stops_after_the_last_cut():
    from tfpose3d.estimator import Plateau

    rule = Plateau(patience=2, cut=0.5, cuts=1)
    errors = [10.0, 9.0, 9.5, 9.2, 8.0, 8.1, 9.0, 8.5]
    # best, best, wait, 2nd epoch without a best -> cut; a new best resets; two more without -> stop.
    assert [rule.update(e) for e in errors[:7]] == ["best", "best", "wait", "cut", "best", "wait", "stop"]
    assert (rule.best, rule.best_epoch, rule.cuts_made, rule.epoch) == (8.0, 5, 1, 7)
    # Until an error beats the mean pose's (9.5), epochs without a best are not counted: no cut at epoch 3.
    rule = Plateau(patience=1, cut=0.5, cuts=1, reference=9.5)
    assert [rule.update(e) for e in (10.0, 10.2, 10.1, 9.0, 9.1, 8.0, 8.5)] == \
        ["best", "wait", "wait", "best", "cut", "best", "stop"]


def test_plateau_stop_cuts_the_rate_ends_the_run_and_resumes_its_count(tmp_path):
    import keras

    from tfpose3d.estimator import Plateau, compile_model
    from tfpose3d.train import PlateauStop

    config = train_preset("cpu-quick", {"image_size": 64, "grid_size": 8, "width": 0.05}, plateau_patience=1)
    model = tfpose3d.build_model(config.model)
    compile_model(model, config, total_steps=None)
    path = tmp_path / "plateau.json"

    def rate():
        return float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))

    callback = PlateauStop(Plateau(patience=1, cuts=1), path)
    callback.set_model(model)
    callback.on_epoch_end(0, {"val_pose_3d_mpjpe": 100.0})
    callback.on_epoch_end(1, {"val_pose_3d_mpjpe": 101.0})  # no new best: cut to a quarter
    assert rate() == pytest.approx(config.learning_rate / 4) and not model.stop_training
    # A run killed while epoch 2's backup was written resumes from epoch 1's backup and repeats epoch 2: it
    # counts from epoch 1's count, or epoch 2 would be counted twice.
    repeats = PlateauStop(Plateau(patience=1, cuts=1), path, resume_epoch=1)
    assert (repeats.rule.epoch, repeats.rule.best, repeats.rule.cuts_made) == (1, 100.0, 0)
    # A run that starts again from its first epoch (no backup left) starts the count again.
    assert PlateauStop(Plateau(patience=1, cuts=1), path, resume_epoch=0).rule == Plateau(patience=1, cuts=1)
    # A resumed run reads the count: one more epoch without a best is the end.
    resumed = PlateauStop(Plateau(patience=1, cuts=1), path, resume_epoch=2)
    resumed.set_model(model)
    assert resumed.rule.epoch == 2 and resumed.rule.cuts_made == 1
    resumed.on_epoch_end(0, {"val_pose_3d_mpjpe": 100.5})
    assert model.stop_training and rate() == pytest.approx(config.learning_rate / 4)
    assert json.loads(path.read_text())["now"]["epoch"] == 3
    # A count saved before plateau.json kept the one before it (the count alone) is read as the count.
    path.write_text(json.dumps(dataclasses.asdict(Plateau(patience=1, cuts=1, epoch=5, cuts_made=1))))
    older = PlateauStop(Plateau(patience=1, cuts=1), path, resume_epoch=4)
    assert (older.rule.epoch, older.rule.cuts_made) == (5, 1)


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_a_time_budget_ends_training_where_the_rest_of_the_epoch_would_end_past_it():
    from types import SimpleNamespace

    from tfpose3d.callbacks import TimeBudget

    clock = FakeClock()
    budget = TimeBudget(100.0, start=-5.0, clock=clock)  # begun before fit: 5 s spent on set-up
    budget.set_model(SimpleNamespace(stop_training=False))
    budget.on_train_begin()
    stopped = []
    # Steps of 10 s, and 15 s from an epoch's last step to the next epoch (validation, checkpoints). Epoch 2's
    # steps end 80 and 90 s after the start: with the 15 s after them, 95 and 105 s.
    for epoch in range(3):
        budget.on_epoch_begin(epoch)
        for step in range(5):
            clock.now += 10.0
            budget.on_train_batch_end(step)
            stopped.append(budget.model.stop_training)
            if budget.model.stop_training:
                break
        if budget.model.stop_training:
            break
        clock.now += 15.0
    assert stopped == [False] * 6 + [True] and budget.ended == (2, 2) and budget.tail == 15.0
    clock.now += 10.0  # where the budget ended the run stays recorded
    budget.on_train_batch_end(4)
    assert budget.ended == (2, 2)

    # Past the budget at the schedule's own last step, it has cut nothing.
    clock.now, whole = 0.0, TimeBudget(100.0, clock=clock)
    whole.set_model(SimpleNamespace(stop_training=False))
    whole.set_params({"epochs": 2, "steps": 5})
    whole.on_train_begin()
    for epoch in range(2):
        whole.on_epoch_begin(epoch)
        for step in range(5):
            clock.now += 10.0 if (epoch, step) != (1, 4) else 50.0
            whole.on_train_batch_end(step)
    assert whole.ended is None and not whole.model.stop_training
    # A second fit starts a new budget.
    whole.on_train_begin()
    whole.on_epoch_begin(0)
    clock.now += 50.0
    whole.on_train_batch_end(0)
    assert whole.ended is None


def test_a_run_its_time_budget_ends_is_saved_and_is_the_same_run_under_another_budget(tmp_path, data_dir, capsys):
    run = tmp_path / "run"
    # A microsecond: the first step ends past it.
    assert main(["train", "--out", str(run), "--data", str(data_dir), *TRAIN_ARGS, "--time-budget", "1e-6"]) == 0
    assert "ended training after step 1 of 4 in epoch 1 of 8" in capsys.readouterr().out
    summary = json.loads((run / "train_summary.json").read_text())
    assert summary["time_budget_ended"] == [1, 1] and summary["time_budget_tail_s"] == 0  # no epoch had ended
    assert epochs_logged(run) == [0] and (run / "model.keras").is_file() and (run / "best.keras").is_file()
    assert json.loads((run / "config.json").read_text())["train"]["time_budget_s"] == 1e-6
    assert main(["train", "--out", str(run), "--data", str(data_dir), *TRAIN_ARGS, "--time-budget", "0"]) == 0
    assert "already trained" in capsys.readouterr().out
    # Its evaluation says that the figures are of a run cut short.
    assert main(["evaluate", str(run)]) == 0  # its own test data, from config.json
    assert "time budget (1e-06 s) ended the training after step 1 of epoch 1 of 8" in capsys.readouterr().out
    # Its export says what it was made from, where the export cannot be evaluated on renders.
    assert main(["export", str(run), "--out", str(tmp_path / "served"), "--tflite", "none"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "served" / "tfpose3d" / "1"), "--data", str(data_dir)]) == 2
    assert (f"an exported model is evaluated on photographs (--photos DIR --data D); the held-out renders need the "
            f"run folder or its .keras file (preset cpu-quick, from {run}, exported ") in capsys.readouterr().err


def test_a_run_is_evaluated_on_its_own_images_from_any_working_folder(tmp_path, data_dir, monkeypatch, capsys):
    monkeypatch.chdir(data_dir.parent)
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--data", data_dir.name, *TRAIN_ARGS, "--time-budget", "1e-6"]) == 0
    assert json.loads((run / "config.json").read_text())["data_at"] == str(data_dir.resolve())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("TFPOSE3D_DATA", raising=False)
    capsys.readouterr()
    assert main(["evaluate", str(run), "--crops", "detector"]) == 0  # its relative --data names nothing here
    assert json.loads((run / "evaluation" / "summary.json").read_text())[0]["samples"] == 20
    captured = capsys.readouterr()
    assert "--crops detector is not used: it frames the photos of --photos" in captured.err  # renders, not photos
    assert captured.out.splitlines()[-1] == f"tables and pictures: {run / 'evaluation'}"
    assert not any(elsewhere.iterdir())  # nothing rendered beside the evaluation
    # The same run, resumed from this folder, is still the same run.
    assert main(["train", "--out", str(run), "--data", data_dir.name, *TRAIN_ARGS]) == 0
    assert "already trained" in capsys.readouterr().out
    # The default data's folder is recorded where it was rendered, not relative to the working folder.
    options = RenderOptions(8, 4, 0, root="data")
    assert open_source(None, options).records_folder() == elsewhere / open_source(None, options).folder


def test_a_run_on_the_default_data_renders_its_test_split_beside_its_training_images(tmp_path, monkeypatch):
    from tfpose3d import ModelConfig, build_model

    # Training renders train/ and val/ only; evaluation, from another folder, renders test/ beside them.
    config = TrainConfig(model=ModelConfig(width=0.05, image_size=64, grid_size=8), train_images=8, test_images=4,
                         look="plain")
    source = open_source(None, dataclasses.replace(config.render_options, root=tmp_path / "data"))
    source.check(("train",))
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"train": config.to_dict(), "data": None, "renderer": render.VERSION,
                                                 "data_at": str(source.records_folder())}))
    build_model(config.model).save(run / "model.keras")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("TFPOSE3D_DATA", raising=False)
    assert main(["evaluate", str(run)]) == 0
    assert (source.records_folder() / "test" / "dataset.json").is_file() and not any(elsewhere.iterdir())


def test_training_until_a_plateau_ends_before_its_epoch_cap(tmp_path, data_dir, monkeypatch):
    import math

    import numpy as np

    from tfpose3d import train as train_module
    from tfpose3d.data.sources import RecordsSource

    args = ["--steps-per-epoch", "1", "--batch-size", "8", "--validation-steps", "1", "--plateau-patience", "1"]
    # A few steps leave the network worse than the mean pose, which the rule waits through: no cut, no stop.
    run = tmp_path / "still-learning"
    assert main(["train", "--out", str(run), "--data", str(data_dir), "--epochs", "4", *args]) == 0
    count = json.loads((run / "plateau.json").read_text())["now"]
    seen = np.stack([s["joints_3d"] for s in RecordsSource(str(data_dir)).samples("val", 64).take(8).as_numpy_iterator()])
    centred = seen - seen[:, :1]
    mean_pose_error = np.linalg.norm(centred - centred.mean(0), axis=-1).mean()
    assert count["reference"] == pytest.approx(mean_pose_error, rel=1e-5)
    assert count["best"] > count["reference"] and count["cuts_made"] == 0 and len(epochs_logged(run)) == 4

    # Without that wait the same rule cuts twice and stops the run.
    monkeypatch.setattr(train_module, "_mean_pose_error", lambda *_: math.inf)
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--data", str(data_dir), "--epochs", "30", *args]) == 0
    count = json.loads((run / "plateau.json").read_text())["now"]
    assert count["cuts_made"] == 2 and count["epoch"] == len(epochs_logged(run)) < 30
    assert json.loads((run / "config.json").read_text())["train"]["plateau_patience"] == 1


def test_training_validates_on_val_and_a_plateau_run_keeps_its_best_epoch(tmp_path, data_dir, capsys):
    import numpy as np

    from tfpose3d import metrics
    from tfpose3d.data.sources import RecordsSource

    run = tmp_path / "run"
    args = ["--epochs", "6", "--steps-per-epoch", "1", "--batch-size", "8", "--plateau-patience", "6", "--seed", "1"]
    assert main(["train", "--out", str(run), "--data", str(data_dir), *args]) == 0
    with (run / "history.csv").open() as f:
        errors = [float(row["val_pose_3d_mpjpe"]) for row in csv.DictReader(f)]
    best = int(np.argmin(errors))
    assert best != len(errors) - 1, "the check needs a run whose last epoch is not its best"
    model = tfpose3d.load_model(run)

    def mpjpe_on(split):
        samples = list(RecordsSource(str(data_dir)).samples(split, model.config.image_size).as_numpy_iterator())
        images = np.stack([s["image"] for s in samples]).astype(np.float32)
        return metrics.mpjpe(model.predict(images, verbose=0)["pose_3d"], np.stack([s["joints_3d"] for s in samples]))

    # model.keras holds the best epoch's weights, and the epochs were scored on val, not on test.
    assert mpjpe_on("val") == pytest.approx(errors[best], rel=1e-3)
    assert mpjpe_on("test") != pytest.approx(errors[best], rel=1e-2)
    assert f"model.keras written (the weights of epoch {best + 1}, the best on val)" in capsys.readouterr().out


def test_a_resumed_run_measures_new_epochs_against_its_best_before_the_restart(tmp_path):
    from tfpose3d.train import _best_so_far

    (tmp_path / "history.csv").write_text("epoch,val_pose_3d_mpjpe\n0,5.0\n1,3.0\n2,4.0\n")
    assert _best_so_far(tmp_path) is None  # no backup: a finished run retrained from its start
    (tmp_path / "backup").mkdir()
    assert _best_so_far(tmp_path) == 3.0


def test_train_terminal_has_only_the_projects_lines(tmp_path, data_dir):
    """A newcomer's `tfpose3d train`: Keras's epoch lines, no TensorFlow C++ log, no warnings."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    args = [sys.executable, "-m", "tfpose3d.cli", "train", "--out", str(tmp_path / "run"), "--data", str(data_dir),
            "--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "8", "--validation-steps", "1"]
    out = subprocess.run(args, capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stderr == "", out.stderr[:2000]
    assert "val_pose_3d_mpjpe" in out.stdout and "model.keras written" in out.stdout


def test_the_bone_stage_trains_only_the_bone_head_keeps_its_best_epoch_and_resumes(tmp_path, data_dir, monkeypatch):
    import warnings

    import numpy as np

    from tfpose3d import train as train_module
    from tfpose3d.config import ModelConfig
    from tfpose3d.data.sources import RecordsSource
    from tfpose3d.estimator import Pose3DEstimator
    from tfpose3d.losses import BoneLengthLoss

    model_config = ModelConfig(width=0.05, image_size=64, grid_size=8, bone_lengths=True, bones_from="trunk")
    config = TrainConfig(model=model_config, epochs=2, steps_per_epoch=2, batch_size=8, learning_rate=1e-2,
                         validation_steps=1, bone_epochs=4, bone_copies=2)
    run = tmp_path / "run"

    def killed(*args, **kwargs):
        raise RuntimeError("killed in the bone stage")

    monkeypatch.setattr(train_module, "fit_bone_head", killed)
    with pytest.raises(RuntimeError, match="killed"):
        train_module.train(config, run, data=str(data_dir), verbose=0)
    assert (run / train_module.FITTED).is_file() and not (run / "model.keras").exists()
    fitted = Pose3DEstimator(model_config)
    fitted.load_weights(run / train_module.FITTED)
    epochs = epochs_logged(run)

    monkeypatch.undo()
    model = train_module.train(config, run, data=str(data_dir), verbose=0)
    assert epochs_logged(run) == epochs, "the rerun starts at the bone stage, not at the model's training"
    assert (run / "model.keras").is_file() and not (run / train_module.FITTED).exists()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tfpose3d.load_model(run)
    assert not [w for w in caught if "Skipping variable loading" in str(w.message)]
    stage = json.loads((run / "train_summary.json").read_text())["bone_stage"]
    assert stage["samples"] == 64 * 2 and 1 <= stage["best_epoch"] <= stage["epochs"] <= 4
    for before, after in ((b, a) for b, a in zip(fitted.layers, model.layers) if a.weights):
        changed = any(not np.array_equal(a, b) for a, b in zip(before.get_weights(), after.get_weights()))
        assert changed == (after.name.startswith("bone_") or after.name == "fc_out_bones"), after.name
    # The head kept is the best epoch's: its bone loss on the val split, through the whole model.
    val = list(RecordsSource(str(data_dir)).samples("val", 64).as_numpy_iterator())
    images = np.stack([s["image"] for s in val]).astype(np.float32)
    lengths = model.predict(images, verbose=0)["bone_lengths"]
    loss = float(np.mean(BoneLengthLoss(reduction=None)(np.stack([s["joints_3d"] for s in val]), lengths)))
    assert loss == pytest.approx(min(stage["val_loss"]), rel=1e-2)

    with pytest.raises(ValueError, match="the model has none"):
        TrainConfig(bone_epochs=1)
    with pytest.raises(ValueError, match="one process"):
        TrainConfig(model=model_config, bone_epochs=1, strategy="mirrored")


def test_the_bone_stage_starts_from_fresh_weights(data_dir):
    import keras
    import numpy as np

    from tfpose3d.bone_stage import bone_head, fit_bone_head
    from tfpose3d.config import ModelConfig
    from tfpose3d.data.options import Augment
    from tfpose3d.data.sources import RecordsSource
    from tfpose3d.estimator import Pose3DEstimator

    source = RecordsSource(str(data_dir))
    config = ModelConfig(width=0.05, image_size=64, grid_size=8, bone_lengths=True, bones_from="trunk")
    heads = []
    for scale in (0.0, 1.0):  # two models alike but for what their bone head holds
        keras.utils.set_random_seed(0)
        model = Pose3DEstimator(config)
        for weight in bone_head(model).trainable_weights:
            weight.assign(weight.numpy() * scale)
        keras.utils.set_random_seed(1)
        fit_bone_head(model, source.samples("train", 64).take(16), source.samples("val", 64), epochs=2, copies=1,
                      batch_size=8, learning_rate=1e-3, augment=Augment(), verbose=0)
        heads.append(bone_head(model).get_weights())
    for a, b in zip(*heads):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)

    # Every bone starts at its training renders' mean length (geometric), whatever the image: at a rate too low
    # to move it, one epoch ends there.
    train = list(source.samples("train", 64).take(16).as_numpy_iterator())
    expected = _mean_bone_lengths(train)
    fit_bone_head(model, source.samples("train", 64).take(16), source.samples("val", 64), epochs=1, copies=1,
                  batch_size=8, learning_rate=1e-12, augment=None, verbose=0)
    lengths = model.predict(np.stack([s["image"] for s in train]).astype(np.float32), verbose=0)["bone_lengths"]
    np.testing.assert_allclose(lengths, np.broadcast_to(expected, lengths.shape), rtol=1e-3)


def _mean_bone_lengths(samples: list[dict]):
    """The geometric mean length of each bone over `samples`' true 3D poses."""
    import numpy as np

    from tfpose3d import skeleton

    joints = np.stack([s["joints_3d"] for s in samples]).astype(np.float64)
    parents, children = np.array(skeleton.BONES).T
    return np.exp(np.log(np.linalg.norm(joints[:, children] - joints[:, parents], axis=-1)).mean(axis=0))


def test_training_starts_the_bone_head_at_the_mean_training_lengths(tmp_path, data_dir):
    import numpy as np

    from tfpose3d.config import ModelConfig
    from tfpose3d.data.sources import RecordsSource
    from tfpose3d.train import train

    # At a rate too low to move anything, the trained model answers every image with the training renders'
    # mean bone lengths (geometric), not with the model's unit.
    config = TrainConfig(model=ModelConfig(width=0.05, image_size=64, grid_size=8, bone_lengths=True,
                                           bones_from="trunk"),
                         epochs=1, steps_per_epoch=1, batch_size=8, learning_rate=1e-12, validation_steps=1)
    model = train(config, tmp_path / "run", data=str(data_dir), verbose=0)
    train_split = list(RecordsSource(str(data_dir)).samples("train", 64).as_numpy_iterator())
    expected = _mean_bone_lengths(train_split)
    images = np.stack([s["image"] for s in train_split[:8]]).astype(np.float32)
    lengths = model.predict(images, verbose=0)["bone_lengths"]
    np.testing.assert_allclose(lengths, np.broadcast_to(expected, lengths.shape), rtol=1e-3)


def test_trunk_copies_train_the_layers_after_the_frozen_trunk_on_its_outputs(tmp_path, data_dir):
    import warnings

    import keras
    import numpy as np

    from tfpose3d import train as train_module
    from tfpose3d.config import ModelConfig
    from tfpose3d.data.sources import RecordsSource
    from tfpose3d.estimator import Pose3DEstimator

    model_config = ModelConfig(width=0.05, image_size=64, grid_size=8, train_backbone=False, bone_lengths=True,
                               bones_from="trunk")
    config = TrainConfig(model=model_config, epochs=2, steps_per_epoch=3, batch_size=8, validation_steps=1,
                         trunk_copies=2)
    run = tmp_path / "run"
    model = train_module.train(config, run, data=str(data_dir), verbose=0)
    keras.utils.set_random_seed(config.seed)
    start = Pose3DEstimator(model_config)  # the weights the run started from
    for before, after in ((b, a) for b, a in zip(start.layers, model.layers) if a.weights):
        changed = any(not np.array_equal(a, b) for a, b in zip(before.get_weights(), after.get_weights()))
        assert changed == (after.name != "backbone"), after.name

    with open(run / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(row["epoch"]) for row in rows] == [0, 1]
    for name in ("loss_2d", "loss_3d", "loss_bones", "pose_3d_mpjpe", "joints_2d_pixel_error", "val_pose_3d_mpjpe"):
        assert float(rows[-1][name]) > 0, name
    # Its validation, on the trunk's outputs, is the saved model's on the same images.
    val = list(RecordsSource(str(data_dir)).samples("val", 64).take(8).as_numpy_iterator())
    images = np.stack([s["image"] for s in val]).astype(np.float32)
    labels = {k: np.stack([s[k] for s in val]) for k in ("joints_2d", "joints_3d", "visibility")}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        saved = tfpose3d.load_model(run)
    assert not [w for w in caught if "Skipping variable loading" in str(w.message)]
    assert saved.evaluate(images, labels, verbose=0, return_dict=True)["pose_3d_mpjpe"] == pytest.approx(
        float(rows[-1]["val_pose_3d_mpjpe"]), rel=1e-3)
    assert isinstance(tfpose3d.load_model(run / "best.keras"), Pose3DEstimator)
    # One optimizer: the estimator's, stepped by the trainer and saved with the model, loaded without a skip.
    assert int(saved.optimizer.iterations) == config.epochs * config.steps_per_epoch
    summary = json.loads((run / "train_summary.json").read_text())
    assert summary["trunk_samples"] == 64 * 2 and summary["trunk_seconds"] > 0

    with pytest.raises(ValueError, match="trains its backbone"):
        TrainConfig(model=ModelConfig(), trunk_copies=1)
    with pytest.raises(ValueError, match="one process"):
        TrainConfig(model=model_config, trunk_copies=1, strategy="mirrored")
    with pytest.raises(ValueError, match="trunk_copies must be"):
        TrainConfig(model=model_config, trunk_copies=-1)


def test_trunk_outputs_are_the_probes_on_each_augmented_copy(data_dir):
    import keras
    import numpy as np

    from tfpose3d.data import pipeline
    from tfpose3d.data.options import Augment
    from tfpose3d.data.sources import RecordsSource
    from tfpose3d.frozen_trunk import trunk_outputs

    samples = RecordsSource(str(data_dir)).samples("val", 64)
    image = keras.Input((64, 64, 3))
    probe = keras.Model(image, {"map": keras.layers.Conv2D(3, 5, strides=8)(image),
                                "sum": keras.layers.GlobalAveragePooling2D()(image)})
    outputs, labels = trunk_outputs(probe, samples, 5, Augment(), copies=2, seed=3)
    assert outputs["map"].dtype == np.float16 and outputs["sum"].dtype == np.float32 and len(labels["joints_3d"]) == 24
    # Each copy is augmented apart: the same render's two copies differ, and each is the probe on its image.
    assert not np.allclose(labels["joints_2d"][:12], labels["joints_2d"][12:])
    images = np.concatenate([x for x, _ in pipeline.training_batches(samples.repeat(2), 24, Augment(), 3, shuffle_buffer=0,
                                                                        repeat=False).as_numpy_iterator()])
    expected = probe.predict(images, verbose=0)
    np.testing.assert_allclose(outputs["sum"], expected["sum"], rtol=1e-6)
    np.testing.assert_allclose(outputs["map"], expected["map"], rtol=2e-3, atol=2e-3)


def test_the_heads_on_blazeposes_outputs_are_the_estimator_on_images():
    import numpy as np

    from tfpose3d.config import ModelConfig
    from tfpose3d.estimator import Pose3DEstimator
    from tfpose3d.frozen_trunk import HeadTrainer

    model = Pose3DEstimator(ModelConfig(backbone="blazepose", train_backbone=False, landmarks=True, bone_lengths=True,
                                        bones_from="trunk-16", width=0.05, image_size=96, grid_size=8))
    images = np.random.default_rng(0).uniform(0, 255, (2, 96, 96, 3)).astype(np.float32)
    outputs = model.backbone.predict_on_batch(images)
    assert sorted(outputs) == ["features", "fine", "landmarks", "world"]
    heads, whole = HeadTrainer(model).predict_on_batch(outputs), model.predict_on_batch(images)
    for name in ("pose_3d", "joints_2d", "bone_lengths"):
        np.testing.assert_allclose(heads[name], whole[name], rtol=1e-4, atol=1e-3, err_msg=name)


def test_shuffled_steps_follow_fits_epochs_also_when_resumed():
    import keras
    import numpy as np

    from tfpose3d.frozen_trunk import Shuffled

    drawn = []

    class Logged(Shuffled):
        def __getitem__(self, index):
            inputs, labels = super().__getitem__(index)
            drawn.append(labels[:, 0].astype(int).tolist())
            return inputs, labels

    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    data = Logged(np.zeros((10, 1), "float32"), np.arange(10, dtype="float32")[:, None], batch_size=3, seed=1, steps=2)
    model.fit(data, epochs=5, steps_per_epoch=2, callbacks=[data.epoch_callback()], shuffle=False, verbose=0)
    rows = sum(drawn[-10:], [])  # the batches trained on (Keras reads the first ones once more to learn their shapes)
    assert np.bincount(rows).tolist() == [3] * 10, "5 epochs of 2 steps of 3: every sample in each of 3 passes"
    # A run resumed at epoch 3 draws what epochs 3 and 4 drew.
    model.fit(data, epochs=5, initial_epoch=3, steps_per_epoch=2, callbacks=[data.epoch_callback()], shuffle=False,
              verbose=0)
    assert sum(drawn[-4:], []) == rows[18:]
    # Without steps, one pass an epoch, the last batch short.
    whole = Shuffled(np.arange(10), np.arange(10), batch_size=3, seed=1)
    assert len(whole) == 4 and sorted(np.concatenate([whole[i][1] for i in range(4)]).tolist()) == list(range(10))


def test_a_run_on_the_trunks_outputs_killed_midway_resumes_from_its_last_epoch(tmp_path, data_dir, monkeypatch):
    import numpy as np

    from tfpose3d import train as train_module
    from tfpose3d.config import ModelConfig

    model_config = ModelConfig(width=0.05, image_size=64, grid_size=8, train_backbone=False)
    config = TrainConfig(model=model_config, epochs=3, steps_per_epoch=2, batch_size=8, validation_steps=1,
                         trunk_copies=1)
    run = tmp_path / "run"
    weights = {}

    def killed(self, epoch, logs=None):
        if epoch == 1:
            weights["killed"] = self.model.get_weights()
            raise RuntimeError("killed after the second epoch")

    def begin(self, epoch, logs=None):
        weights.setdefault("resumed", (epoch, self.model.get_weights()))
        self._start = time.perf_counter()

    monkeypatch.setattr(train_module.EpochSeconds, "on_epoch_end", killed)
    with pytest.raises(RuntimeError, match="killed"):
        train_module.train(config, run, data=str(data_dir), verbose=0)
    assert epochs_logged(run) == [0, 1] and not (run / "model.keras").exists()
    monkeypatch.undo()
    monkeypatch.setattr(train_module.EpochSeconds, "on_epoch_begin", begin)
    train_module.train(config, run, data=str(data_dir), verbose=0)
    assert epochs_logged(run) == [0, 1, 2]
    epoch, resumed = weights["resumed"]
    assert epoch == 2, "the rerun trains only the epoch left"
    for a, b in zip(weights["killed"], resumed):
        np.testing.assert_array_equal(a, b)


def _small_run(epochs: int = 3) -> TrainConfig:
    from tfpose3d.config import ModelConfig

    model_config = ModelConfig(width=0.05, image_size=64, grid_size=8, dropout=0.0)
    return TrainConfig(model=model_config, epochs=epochs, steps_per_epoch=2, batch_size=8, validation_steps=1)


def test_a_killed_run_resumes_on_the_batches_an_uninterrupted_run_trains_on(tmp_path, data_dir, monkeypatch):
    import numpy as np

    from tfpose3d import train as train_module

    config = _small_run()
    whole = train_module.train(config, tmp_path / "whole", data=str(data_dir), verbose=0).get_weights()

    def killed(self, epoch, logs=None):
        if epoch == 1:
            raise RuntimeError("killed after the second epoch")

    monkeypatch.setattr(train_module.EpochSeconds, "on_epoch_end", killed)
    with pytest.raises(RuntimeError, match="killed"):
        train_module.train(config, tmp_path / "run", data=str(data_dir), verbose=0)
    monkeypatch.undo()
    resumed = train_module.train(config, tmp_path / "run", data=str(data_dir), verbose=0).get_weights()
    assert epochs_logged(tmp_path / "run") == [0, 1, 2]
    # The third epoch trains on the third epoch's samples and augmentations, not again on the first's.
    for a, b in zip(whole, resumed):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_run_killed_while_writing_an_epochs_checkpoint_repeats_that_epoch(tmp_path, data_dir, monkeypatch):
    import keras

    from tfpose3d import train as train_module

    real = keras.callbacks.ModelCheckpoint.on_epoch_end

    def killed(self, epoch, logs=None):
        if epoch == 1:
            raise RuntimeError("killed while best.keras was written")
        real(self, epoch, logs)

    monkeypatch.setattr(keras.callbacks.ModelCheckpoint, "on_epoch_end", killed)
    with pytest.raises(RuntimeError, match="killed"):
        train_module.train(_small_run(), tmp_path / "run", data=str(data_dir), verbose=0)
    monkeypatch.undo()
    train_module.train(_small_run(), tmp_path / "run", data=str(data_dir), verbose=0)
    assert epochs_logged(tmp_path / "run") == [0, 1, 2]  # epoch 1 again: its history line and checkpoint are there


def test_a_mixed_precision_run_leaves_the_policy_as_it_found_it(tmp_path, data_dir):
    import keras

    assert main(["train", "--out", str(tmp_path / "run"), "--data", str(data_dir), "--epochs", "1", "--steps-per-epoch",
                 "1", "--batch-size", "8", "--validation-steps", "1", "--mixed-precision"]) == 0
    assert keras.mixed_precision.global_policy().name == "float32"  # the next model in the notebook is float32
