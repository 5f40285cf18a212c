"""tfpose3d: 3D human pose from one image (Park, Hwang & Kwak 2016) in Keras 3."""

import os as _os

# Keras 3 picks its backend on import; this package is written for TensorFlow.
_os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"

from tfpose3d import layers, losses, metrics, skeleton  # noqa: E402
from tfpose3d.config import MODEL_PRESETS, ModelConfig, model_preset  # noqa: E402
from tfpose3d.model import build_model  # noqa: E402

__all__ = ["ModelConfig", "MODEL_PRESETS", "build_model", "layers", "losses", "metrics", "model_preset", "skeleton", "__version__"]
