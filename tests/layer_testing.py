"""A shared check for custom layers, after Keras core's `run_layer_test`."""

from __future__ import annotations

import keras
import numpy as np


def run_layer_test(layer: keras.layers.Layer, inputs: list[np.ndarray]) -> None:
    """Check a layer's contract on concrete inputs.

    - `compute_output_shape` matches the shape of an actual call, and a
      symbolic call (Keras tensors with an unknown batch) gives the same.
    - The layer is registered: it serialises, deserialises to the same class
      and config, and the restored layer computes the same output.
    """
    output = np.asarray(layer(*inputs))
    assert tuple(layer.compute_output_shape(*[x.shape for x in inputs])) == output.shape, type(layer).__name__
    symbolic = layer(*[keras.KerasTensor((None,) + x.shape[1:], dtype=str(x.dtype)) for x in inputs])
    assert tuple(symbolic.shape) == (None,) + output.shape[1:]

    name = keras.saving.get_registered_name(type(layer))
    assert name.startswith("tfpose3d>"), f"{type(layer).__name__} is not registered"
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored) is type(layer) and restored.get_config() == layer.get_config()
    np.testing.assert_allclose(np.asarray(restored(*inputs)), output, rtol=1e-6, atol=1e-6)
