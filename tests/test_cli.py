import dataclasses
import os
import subprocess
import sys

import pytest
import tensorflow as tf

import tfpose3d
from tfpose3d.cli import error_line, main

COMMANDS = ("model", "data", "train", "evaluate", "ablate", "export", "predict")


def test_version_and_help():
    out = subprocess.run([sys.executable, "-m", "tfpose3d.cli", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == f"tfpose3d {tfpose3d.__version__}"
    out = subprocess.run([sys.executable, "-m", "tfpose3d.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    listed = out.stdout.split("COMMAND")[-1]
    for command in COMMANDS:
        assert f"\n    {command} " in listed, command
    for command in COMMANDS:
        assert main([command, "--help"]) == 0


def test_model_summary_prints_parameter_count(capsys):
    assert main(["model", "summary", "--preset", "cpu-quick", "--variant", "baseline"]) == 0
    config = tfpose3d.model_preset("cpu-quick", variant="baseline")
    count = tfpose3d.build_model(config).count_params()
    out = capsys.readouterr().out
    assert f"cpu-quick / baseline: {count:,} parameters" in out
    assert "conv1 (Conv2D)" in out  # the backbone's layers are listed, not one opaque row


def test_terminal_shows_only_the_projects_lines():
    """No TensorFlow start-up log (oneDNN, CUDA probing, CPU features) unless asked for."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    out = subprocess.run([sys.executable, "-m", "tfpose3d.cli", "model", "summary", "--preset", "cpu-quick"],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 0 and out.stderr == "", out.stderr[:2000]
    loud = subprocess.run([sys.executable, "-c", "import tfpose3d"], capture_output=True, text=True,
                          env={**env, "TF_CPP_MIN_LOG_LEVEL": "0"})
    assert loud.returncode == 0 and loud.stderr != ""  # asked for, TensorFlow's log is there


def test_user_errors_are_one_line_and_exit_2(tmp_path, capsys):
    cases = [
        (["model", "summary", "--preset", "huge"], "invalid choice: 'huge'"),
        (["train", "--out", str(tmp_path / "r"), "--data", str(tmp_path / "missing")], "no dataset.json"),
        (["train", "--out", str(tmp_path / "r"), "--data", "h36m:"], "names no h36m target"),
        (["train", "--out", str(tmp_path / "r"), "--data", "mocap:nope"], "No motion set 'nope'"),
        (["evaluate", str(tmp_path)], "is not a run folder"),
        (["export", str(tmp_path), "--out", str(tmp_path / "o"), "--version", "-1"], "--version: must be at least 0"),
        (["predict", "--model", str(tmp_path), "x.png", "--threads", "0"], "--threads: must be at least 1"),
        (["train", "--out", str(tmp_path / "r"), "--texture", "1.5"], "--texture: must be a probability in [0, 1], got 1.5"),
        (["ablate", "--out", str(tmp_path / "r"), "--plateau-patience", "-1"], "--plateau-patience: must be at least 0"),
    ]
    for args, message in cases:
        assert main(args) == 2, args
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (args, err)
        assert err.strip().splitlines()[-1].startswith(("tfpose3d: error:", "tfpose3d ")), err
    assert not (tmp_path / "r").exists() and not (tmp_path / "o").exists()


def test_train_texture_flag_sets_only_the_augmentation_field():
    from tfpose3d.cli import _train_config, build_parser
    from tfpose3d.presets import train_preset

    args = build_parser().parse_args(["train", "--out", "r", "--preset", "cpu-quick", "--texture", "0.5"])
    config, preset = _train_config(args), train_preset("cpu-quick")
    assert config.augment.texture == 0.5 and preset.augment.texture == 0.0
    assert dataclasses.replace(config, augment=preset.augment) == preset
    assert _train_config(build_parser().parse_args(["train", "--out", "r", "--preset", "cpu-quick"])) == preset
    plateau = _train_config(build_parser().parse_args(["train", "--out", "r", "--plateau-patience", "3"]))
    assert plateau == dataclasses.replace(preset, plateau_patience=3)


def test_model_card_is_printed_and_names_the_licence_of_the_weights(capsys):
    assert main(["model", "card"]) == 0
    card = capsys.readouterr().out
    assert card.startswith("# Model card") and "CC BY-NC 4.0" in card and "## Known failure modes" in card


def test_the_error_line_keeps_a_message_that_names_another_error():
    message = "f.json: not a photo annotation file (ValueError: the inner cause)"
    assert error_line(ValueError(message)) == message

    def raising():  # raised inside tf.data: TensorFlow wraps it in its node's name and the traceback
        raise ValueError(message)
        yield 0

    with pytest.raises(tf.errors.OpError) as info:
        list(tf.data.Dataset.from_generator(raising, output_signature=tf.TensorSpec([], tf.int32)))
    assert error_line(info.value) == message
