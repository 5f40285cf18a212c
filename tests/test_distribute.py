"""Distributed training with real processes: two workers on loopback ports against one process."""

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from tfpose3d.cli import main
from tfpose3d.data.sources import RenderOptions, open_source
from tfpose3d.distribute import free_ports, worker_dir

# A tiny run without dropout (each replica would draw its own masks), so one process and N must agree.
TRAIN = textwrap.dedent("""
    import sys
    {setup}
    from tfpose3d.presets import train_preset
    from tfpose3d.train import train
    config = train_preset("cpu-quick", {{"image_size": 64, "grid_size": 8, "width": 0.05, "dropout": 0.0}},
                          epochs={epochs}, steps_per_epoch={steps}, batch_size=8, validation_steps={val},
                          strategy=sys.argv[2], cache=False)
    train(config, sys.argv[1], {data!r}, verbose=2, worker_timeout_s=60)
""")
TWO_CPUS = ("import tensorflow as tf; tf.config.set_logical_device_configuration("
            "tf.config.list_physical_devices('CPU')[0], [tf.config.LogicalDeviceConfiguration()] * 2)")


def tf_config(ports, index):
    return json.dumps({"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                       "task": {"type": "worker", "index": index}})


def start(script, run, strategy, env=None, **kw):
    return subprocess.Popen([sys.executable, "-c", script, str(run), strategy], env={**os.environ, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def history(run):
    with (Path(run) / "history.csv").open() as f:
        return list(csv.DictReader(f))


def assert_same_run(a, b):
    """Same logged figures every epoch and the same final weights, within float32 tolerance."""
    import keras

    ha, hb = history(a), history(b)
    assert [r["epoch"] for r in ha] == [r["epoch"] for r in hb]
    for ra, rb in zip(ha, hb):
        for key in ra:
            assert float(ra[key]) == pytest.approx(float(rb[key]), rel=1e-3), key
    wa = keras.models.load_model(Path(a) / "model.keras").get_weights()
    wb = keras.models.load_model(Path(b) / "model.keras").get_weights()
    for x, y in zip(wa, wb):
        np.testing.assert_allclose(x, y, rtol=1e-3, atol=1e-4)


def run_workers(script, run, ports, env=None):
    procs = [start(script, run, "multi-worker", env={"TF_CONFIG": tf_config(ports, i), **(env or {})})
             for i in range(len(ports))]
    outs = [p.communicate(timeout=300) for p in procs]
    return procs, outs


@pytest.fixture(scope="module")
def single(data_dir, tmp_path_factory):
    run = tmp_path_factory.mktemp("single") / "run"
    out = start(TRAIN.format(setup="", epochs=3, steps=3, val=1, data=str(data_dir)), run, "default").communicate(timeout=300)
    assert (run / "model.keras").is_file(), out[1][-3000:]
    return run


@pytest.mark.slow
def test_two_workers_train_what_one_process_trains(data_dir, single, tmp_path):
    run = tmp_path / "run"
    script = TRAIN.format(setup="", epochs=3, steps=3, val=1, data=str(data_dir))
    procs, outs = run_workers(script, run, free_ports(2))
    assert [p.returncode for p in procs] == [0, 0], outs[0][1][-3000:] + outs[1][1][-3000:]
    assert_same_run(single, run)
    # Only the chief wrote the run folder, and the other worker's temporary folder is gone (this run's own, so
    # another test run on the machine cannot touch it).
    assert sorted(p.name for p in run.iterdir()) == sorted(p.name for p in single.iterdir())
    assert not worker_dir(run, "worker", 1).exists()


@pytest.mark.slow
def test_mirrored_on_two_devices_trains_what_one_device_trains(data_dir, single, tmp_path):
    run = tmp_path / "run"
    # The whole val split (12 images): two devices validate on its whole batches of 8 only, as one process
    # does in its one validation step.
    out = start(TRAIN.format(setup=TWO_CPUS, epochs=3, steps=3, val=None, data=str(data_dir)), run,
                "mirrored").communicate(timeout=300)
    assert (run / "model.keras").is_file(), out[1][-3000:]
    assert json.loads((run / "train_summary.json").read_text())["replicas"] == 2
    assert_same_run(single, run)


@pytest.mark.slow
def test_a_lost_worker_stops_the_other_and_the_run_resumes(data_dir, tmp_path):
    run = tmp_path / "run"
    ports = free_ports(2)
    command = [sys.executable, "-m", "tfpose3d.cli", "train", "--strategy", "multi-worker", "--out", str(run),
               "--data", str(data_dir), "--epochs", "6", "--steps-per-epoch", "6", "--batch-size", "8",
               "--validation-steps", "1", "--worker-timeout", "60"]
    procs = [subprocess.Popen(command, env={**os.environ, "TF_CONFIG": tf_config(ports, i)}, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(2)]
    deadline = time.time() + 240
    while (not (run / "history.csv").is_file() or len(history(run)) < 2) and time.time() < deadline:
        assert procs[0].poll() is None, procs[0].communicate()[1][-3000:]
        time.sleep(0.1)
    procs[1].send_signal(signal.SIGKILL)
    procs[1].wait()
    killed_at = time.time()
    _, err = procs[0].communicate(timeout=120)
    assert procs[0].returncode == 3 and time.time() - killed_at < 60
    assert err.strip().splitlines()[-1].startswith("tfpose3d: error: a worker of this run was lost")
    assert "run the same command on every worker to resume" in err and "PerReplica" not in err
    done = len(history(run))
    assert 2 <= done < 6 and not (run / "model.keras").exists()

    procs = [subprocess.Popen(command, env={**os.environ, "TF_CONFIG": tf_config(ports, i)}, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs[0][1][-3000:]
    epochs = [int(r["epoch"]) for r in history(run)]
    assert epochs[done] >= done - 1 and epochs[-1] == 5  # resumed, not restarted
    assert (run / "model.keras").is_file()


@pytest.mark.slow
def test_a_worker_alone_gives_up_within_its_timeout(data_dir, tmp_path):
    ports = free_ports(2)
    env = {**os.environ, "TF_CONFIG": tf_config(ports, 0)}
    start_time = time.time()
    out = subprocess.run([sys.executable, "-m", "tfpose3d.cli", "train", "--strategy", "multi-worker", "--out",
                          str(tmp_path / "run"), "--data", str(data_dir), "--batch-size", "8", "--worker-timeout", "5"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and time.time() - start_time < 90
    assert "the 2 workers in TF_CONFIG did not all start within 5 s" in out.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("config, message", [
    ("{not json", "TF_CONFIG is not valid JSON"),
    ("[1, 2]", "TF_CONFIG must be a JSON object"),
    ('{"cluster": {"worker": ["127.0.0.1:1"]}}', 'TF_CONFIG needs "task"'),
    ('{"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 3}}', "task index 3 is outside"),
    ('{"cluster": {"worker": ["localhost"]}, "task": {"type": "worker", "index": 0}}', "is not host:port"),
    ('{"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"]}, "task": {"type": "worker", "index": 0}}',
     "--batch-size 8 does not divide among the 3 workers"),
])
def test_bad_cluster_settings_are_one_line(config, message, data_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TF_CONFIG", config)
    args = ["train", "--strategy", "multi-worker", "--out", str(tmp_path / "r"), "--data", str(data_dir),
            "--batch-size", "8"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and not (tmp_path / "r").exists()


def test_a_port_in_use_is_named(data_dir, tmp_path, monkeypatch, capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        monkeypatch.setenv("TF_CONFIG", tf_config([port, free_ports(1)[0]], 0))
        assert main(["train", "--strategy", "multi-worker", "--out", str(tmp_path / "r"), "--data", str(data_dir),
                     "--batch-size", "8"]) == 2
    err = capsys.readouterr().err
    assert f"address 127.0.0.1:{port} cannot be used" in err and err.count("\n") == 1


def test_workers_sharing_a_data_folder_render_it_once(tmp_path):
    script = textwrap.dedent(f"""
        from tfpose3d.data.sources import RenderOptions, open_source
        open_source("mocap:bandai-namco", RenderOptions(12, 6, 0, root={str(tmp_path)!r})).check()
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(3)]
    outs = [p.communicate(timeout=240) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [o[1][-2000:] for o in outs]
    rendered = [o[0].count("Rendering") for o in outs]
    assert sum(rendered) == 3  # train, val and test, once each, by whichever process took the lock
    folder = open_source("mocap:bandai-namco", RenderOptions(12, 6, 0, root=tmp_path)).folder
    assert folder.parent == tmp_path
    assert sorted(p.name for p in folder.iterdir()) == ["test", "train", "val"]
