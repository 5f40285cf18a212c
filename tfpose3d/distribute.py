"""Distribution: strategies from their names, the chief and its workers, and TF_CONFIG checked up front.

Only the chief (a single process is its own chief) writes the run folder;
every other worker writes into a temporary folder of its own that is removed
when it finishes, as TensorFlow's multi-worker guide prescribes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import keras
import tensorflow as tf

from tfpose3d.config import STRATEGIES


def read_tf_config() -> dict:
    """TF_CONFIG as a dict, with an error naming what is wrong with it."""
    text = os.environ.get("TF_CONFIG")
    if not text:
        raise ValueError("--strategy multi-worker needs the TF_CONFIG environment variable (cluster and task)")
    try:
        config = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"TF_CONFIG is not valid JSON ({err})") from None
    if not isinstance(config, dict):
        raise ValueError(f"TF_CONFIG must be a JSON object with \"cluster\" and \"task\", got {text[:80]!r}")
    cluster, task = config.get("cluster"), config.get("task")
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
        if not 0 < int(port) <= 65535:
            raise ValueError(f"TF_CONFIG address {address!r}: port {port} is outside 1-65535")
    return config


def cluster_size(config: dict) -> int:
    """The number of worker processes (chief included) a TF_CONFIG names."""
    return sum(len(addresses) for addresses in config["cluster"].values())


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` ports that nothing listens on now, for a cluster on one host (tests, benchmarks)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind((host, 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _check_port_free(address: str) -> None:
    host, _, port = address.rpartition(":")
    with socket.socket(socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET) as probe:
        # As the gRPC server does: a closed connection's TIME_WAIT does not block the port, a listener does.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), int(port)))
        except OSError as err:
            raise ValueError(f"TF_CONFIG: this worker's address {address} cannot be used ({err.strerror}); "
                             "is another process on that port?") from None


def make_strategy(name: str, worker_timeout_s: float = 300.0) -> tf.distribute.Strategy:
    """The strategy `name` names; a multi-worker one is configured from TF_CONFIG (create it before any op).

    Args:
        worker_timeout_s: how long a multi-worker process waits for the whole cluster to start.
    """
    if name not in STRATEGIES:
        raise ValueError(f"Unknown strategy {name!r}; expected one of {STRATEGIES}")
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=devices)
    if name == "multi-worker":
        config = read_tf_config()
        _check_port_free(config["cluster"][config["task"]["type"]][config["task"]["index"]])
        message = (f"the {cluster_size(config)} workers in TF_CONFIG did not all start within {worker_timeout_s:g} s; "
                   "start every worker with the same command")
        with Watchdog(worker_timeout_s, message):
            strategy = tf.distribute.MultiWorkerMirroredStrategy()
        # TensorFlow's preemption notifier takes SIGTERM and keeps the process alive; a user's kill should kill.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        return strategy
    return tf.distribute.get_strategy()


class WorkerLostError(RuntimeError):
    """A worker of a multi-worker run is missing or stopped; the same command on every worker resumes the run."""


# A separate process, because a worker blocked in TensorFlow's collectives holds the GIL: no thread of its own runs.
_WATCHDOG = """
import os, select, signal, sys
pid, timeout, message = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
while True:
    if not select.select([0], [], [], timeout)[0]:
        sys.stderr.write("tfpose3d: error: " + message + "\\n")
        sys.stderr.flush()
        os.kill(pid, signal.SIGKILL)
        sys.exit(0)
    beats = os.read(0, 4096)
    if not beats or beats.endswith(b"q"):
        sys.exit(0)
"""


class Watchdog:
    """Stops this process with `message` when `beat()` has not been called for `timeout_s` seconds.

    Used as a context manager: entering counts as a beat, leaving stops the watch.

    Example:
    >>> with Watchdog(300, "no step finished in 300 s") as dog:
    ...     for step in range(3):
    ...         dog.beat()  # after each step
    """

    def __init__(self, timeout_s: float, message: str):
        self.timeout_s = timeout_s
        self.message = message
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> "Watchdog":
        self._process = subprocess.Popen([sys.executable, "-c", _WATCHDOG, str(os.getpid()), str(self.timeout_s),
                                          self.message], stdin=subprocess.PIPE)
        return self

    def beat(self) -> None:
        if self._process is None:
            return
        try:
            self._process.stdin.write(b".")
            self._process.stdin.flush()
        except BrokenPipeError:  # the watchdog itself is gone: training goes on unwatched
            self._process = None

    def __exit__(self, *exc) -> None:
        if self._process is None:
            return
        with contextlib.suppress(BrokenPipeError):
            self._process.stdin.write(b"q")
            self._process.stdin.close()
        self._process.wait()
        self._process = None


def is_multi_worker(strategy: tf.distribute.Strategy) -> bool:
    """Whether `strategy` spans several processes (TF_CONFIG named more than one task)."""
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and strategy.extended._in_multi_worker_mode()


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """The process that writes the run folder: a single process, the "chief" task, or worker 0 without a chief."""
    if not is_multi_worker(strategy):
        return True
    resolver = strategy.cluster_resolver
    if resolver.task_type == "chief":
        return True
    return resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in resolver.cluster_spec().as_dict()


def worker_dir(run: Path, task_type: str, task_id: int) -> Path:
    """The temporary folder a non-chief worker of `run` writes to: named from the run and the task, so a
    worker that was killed leaves at most one behind, which its next start removes."""
    key = hashlib.sha1(str(run.resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"tfpose3d-{key}-{task_type}{task_id}"


@contextlib.contextmanager
def write_dir(strategy: tf.distribute.Strategy, run: Path) -> Iterator[Path]:
    """Where this process writes: `run` for the chief, else its `worker_dir`, removed afterwards."""
    if is_chief(strategy):
        yield run
        return
    temp = worker_dir(run, strategy.cluster_resolver.task_type, strategy.cluster_resolver.task_id)
    shutil.rmtree(temp, ignore_errors=True)
    temp.mkdir(parents=True)
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


class _Heartbeat(keras.callbacks.Callback):
    """Beats a watchdog after every training and validation batch."""

    def __init__(self, dog: Watchdog):
        super().__init__()
        self.dog = dog

    def on_train_batch_end(self, batch, logs=None):
        self.dog.beat()

    def on_test_batch_end(self, batch, logs=None):
        self.dog.beat()

    def on_epoch_end(self, epoch, logs=None):
        self.dog.beat()


# What TensorFlow raises in a worker whose peer has gone.
_PEER_ERRORS = (tf.errors.UnavailableError, tf.errors.CancelledError, tf.errors.AbortedError,
                tf.errors.DeadlineExceededError)


@contextlib.contextmanager
def watched(strategy: tf.distribute.Strategy, timeout_s: float) -> Iterator[list[keras.callbacks.Callback]]:
    """Callbacks for `model.fit` that bound how long a multi-worker run can stall, and one clear error when a
    peer is lost; nothing for a single process."""
    if not is_multi_worker(strategy):
        yield []
        return
    resume = "run the same command on every worker to resume from the last finished epoch"
    with Watchdog(timeout_s, f"no training step finished in {timeout_s:g} s: a worker has stopped or hangs; "
                             f"{resume}") as dog:
        try:
            yield [_Heartbeat(dog)]
        except _PEER_ERRORS as err:
            reason = next((line.strip() for line in err.message.splitlines() if "Error received from peer" in line
                           or "UNAVAILABLE" in line), type(err).__name__)
            raise WorkerLostError(f"a worker of this run was lost ({reason[:160]}); {resume}") from None
