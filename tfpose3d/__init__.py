"""tfpose3d: 3D human pose from one image (Park, Hwang & Kwak 2016) in Keras 3."""

import os as _os
import sys as _sys

# Keras 3 picks its backend on import. Training, the data pipeline and export are TensorFlow; the model, its
# configs and the renderer also run where another backend is set (bench/gpu_keras.py on JAX).
_os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from tfpose3d.version import __version__  # noqa: E402,F401

from tfpose3d import terminal as _terminal  # noqa: E402


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow without its C++ start-up banner (oneDNN, CUDA probing, CPU features).

    Those lines are written before TensorFlow reads any log setting, so stderr
    points at /dev/null for the import and the device probe.
    """
    if "tensorflow" in _sys.modules or _terminal.tensorflow_logs_wanted():
        return
    # Later C++ INFO and WARNING lines (tf.data and converter notes) are hidden too; errors still show.
    _os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _terminal.quiet_stderr():
        import tensorflow

        tensorflow.config.list_physical_devices()


try:
    _import_tensorflow_quietly()
    # Importing these registers every tfpose3d layer, loss and metric with Keras,
    # so `keras.models.load_model(path, safe_mode=True)` works after `import tfpose3d`.
    from tfpose3d import layers, losses, metrics, skeleton  # noqa: E402
    from tfpose3d.backbone import Pose3DBackbone  # noqa: E402
    from tfpose3d.config import ModelConfig, TrainConfig  # noqa: E402
    from tfpose3d.estimator import Pose3DEstimator, build_model, load_model  # noqa: E402
    from tfpose3d.presets import PRESETS, model_preset, train_preset  # noqa: E402
except ModuleNotFoundError as _err:
    # A client-only install (numpy, for `tfpose3d.contract` and REST in `tfpose3d.serving`) has no TensorFlow.
    if _err.name not in ("tensorflow", "keras"):
        raise

__all__ = [
    "ModelConfig", "TrainConfig", "PRESETS", "Pose3DBackbone", "Pose3DEstimator", "build_model",
    "load_model", "layers", "losses", "metrics", "model_preset", "train_preset", "skeleton", "__version__",
]
