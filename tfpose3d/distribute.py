"""Distribution: strategies from their names, the chief and its workers, and TF_CONFIG checked up front.

Only the chief (a single process is its own chief) writes the run folder;
every other worker writes into a temporary folder of its own that is removed
when it finishes, as TensorFlow's multi-worker guide prescribes.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Iterator

import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multi-worker")


def read_tf_config() -> dict:
    """TF_CONFIG as a dict, with an error naming what is wrong with it."""
    text = os.environ.get("TF_CONFIG")
    if not text:
        raise ValueError("--strategy multi-worker needs the TF_CONFIG environment variable (cluster and task)")
    try:
        config = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"TF_CONFIG is not valid JSON ({err})") from None
    cluster, task = config.get("cluster") if isinstance(config, dict) else None, config.get("task") if isinstance(config, dict) else None
    if not isinstance(cluster, dict) or not cluster or not all(isinstance(v, list) and v for v in cluster.values()):
        raise ValueError('TF_CONFIG needs "cluster": {"worker": ["host:port", ...]} (and optionally "chief")')
    if not isinstance(task, dict) or task.get("type") not in cluster or not isinstance(task.get("index"), int):
        raise ValueError(f'TF_CONFIG needs "task": {{"type": one of {sorted(cluster)}, "index": N}}, got {task!r}')
    if not 0 <= task["index"] < len(cluster[task["type"]]):
        raise ValueError(f"TF_CONFIG task index {task['index']} is outside the {len(cluster[task['type']])} "
                         f"{task['type']} address(es)")
    for address in (a for addresses in cluster.values() for a in addresses):
        host, sep, port = str(address).rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError(f"TF_CONFIG address {address!r} is not host:port")
    return config


def _check_port_free(address: str) -> None:
    host, _, port = address.rpartition(":")
    with socket.socket(socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET) as probe:
        try:
            probe.bind((host.strip("[]"), int(port)))
        except OSError as err:
            raise ValueError(f"TF_CONFIG: this worker's address {address} cannot be used ({err.strerror}); "
                             "is another process on that port?") from None


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The strategy `name` names; a multi-worker one is configured from TF_CONFIG (create it before any op)."""
    if name not in STRATEGIES:
        raise ValueError(f"Unknown strategy {name!r}; expected one of {STRATEGIES}")
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=devices)
    if name == "multi-worker":
        config = read_tf_config()
        _check_port_free(config["cluster"][config["task"]["type"]][config["task"]["index"]])
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def is_multi_worker(strategy: tf.distribute.Strategy) -> bool:
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and strategy.extended._in_multi_worker_mode()


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """The process that writes the run folder: a single process, the "chief" task, or worker 0 without a chief."""
    if not is_multi_worker(strategy):
        return True
    resolver = strategy.cluster_resolver
    if resolver.task_type == "chief":
        return True
    return resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in resolver.cluster_spec().as_dict()


@contextlib.contextmanager
def write_dir(strategy: tf.distribute.Strategy, run: Path) -> Iterator[Path]:
    """Where this process writes: `run` for the chief, else a temporary folder removed afterwards."""
    if is_chief(strategy):
        yield run
        return
    resolver = strategy.cluster_resolver
    temp = Path(tempfile.mkdtemp(prefix=f"tfpose3d-{resolver.task_type}{resolver.task_id}-"))
    try:
        yield temp
    finally:
        shutil.rmtree(temp, ignore_errors=True)


@contextlib.contextmanager
def keras_multi_worker_fixes(strategy: tf.distribute.Strategy) -> Iterator[None]:
    """Keras 3.15 averages each step's scalar logs across workers with `axis=0`, which a scalar lacks;
    this reduces scalars whole while the block runs (keras-team/keras#20585 tracks multi-worker support)."""
    if not is_multi_worker(strategy):
        yield
        return
    from keras.src.backend.tensorflow import trainer as keras_trainer

    original = keras_trainer.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction):
        if reduction not in ("auto", "mean"):
            return original(values, strategy, reduction)

        def mean(value):
            rank = strategy.experimental_local_results(value)[0].shape.rank
            return strategy.reduce("MEAN", value, axis=0 if rank else None)

        return tf.nest.map_structure(mean, values)

    keras_trainer.reduce_per_replica = reduce_per_replica
    try:
        yield
    finally:
        keras_trainer.reduce_per_replica = original
