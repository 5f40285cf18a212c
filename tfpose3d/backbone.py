"""The paper's convolutional trunk as a Keras functional model (ZFNet sizes, fewer maps)."""

from __future__ import annotations

from typing import Sequence

import keras


@keras.saving.register_keras_serializable(package="tfpose3d")
class Pose3DBackbone(keras.Model):
    """Conv 7x7/2, pool 3x3/2, conv 5x5/2, pool, 3x conv 3x3/1, pool: image -> feature map.

    Input `image`: float (B, S, S, 3) RGB in [0, 255], normalised to [-1, 1]
    inside. Output: the last pooled map, (B, 6, 6, filters[4]) at S = 225.

    Args:
        image_size: side S of the square input in pixels.
        filters: filters of the five conv layers (the paper's: 64, 128, 192, 192, 192).
        batch_norm: batch normalisation after each conv (not in the paper; it
            makes training from scratch far less sensitive to initialisation).

    Example:
    >>> backbone = Pose3DBackbone(image_size=64, filters=(8, 8, 8, 8, 8))
    >>> backbone(np.zeros((2, 64, 64, 3), "float32")).shape
    TensorShape([2, 1, 1, 8])
    """

    def __init__(self, image_size: int = 225, filters: Sequence[int] = (64, 128, 192, 192, 192),
                 batch_norm: bool = True, **kwargs):
        filters = tuple(int(f) for f in filters)
        if len(filters) != 5:
            raise ValueError(f"filters needs 5 entries, got {len(filters)}")

        def conv(x, n, kernel, stride, name):
            x = keras.layers.Conv2D(n, kernel, strides=stride, padding="same", use_bias=not batch_norm, name=name)(x)
            if batch_norm:
                # Synchronised: under a distribution strategy the batch statistics are those of the global
                # batch, as in one process; alone it is plain batch normalisation. Only TensorFlow has it.
                synchronized = keras.backend.backend() == "tensorflow"
                x = keras.layers.BatchNormalization(synchronized=synchronized, name=f"{name}_bn")(x)
            return keras.layers.ReLU(name=f"{name}_relu")(x)

        image = keras.Input((image_size, image_size, 3), name="image")
        x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="normalize")(image)
        x = conv(x, filters[0], 7, 2, "conv1")
        x = keras.layers.MaxPooling2D(3, 2, name="pool1")(x)
        x = conv(x, filters[1], 5, 2, "conv2")
        x = keras.layers.MaxPooling2D(3, 2, name="pool2")(x)
        x = conv(x, filters[2], 3, 1, "conv3")
        x = conv(x, filters[3], 3, 1, "conv4")
        x = conv(x, filters[4], 3, 1, "conv5")
        x = keras.layers.MaxPooling2D(3, 2, name="pool5")(x)
        super().__init__(inputs=image, outputs=x, **kwargs)
        self.image_size = int(image_size)
        self.filters = filters
        self.batch_norm = bool(batch_norm)

    def get_config(self) -> dict:
        return {"name": self.name, "trainable": self.trainable, "image_size": self.image_size,
                "filters": list(self.filters), "batch_norm": self.batch_norm}

    @classmethod
    def from_config(cls, config: dict) -> "Pose3DBackbone":
        return cls(**config)
