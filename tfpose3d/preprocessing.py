"""The one resize from the 225 px serving size to a model's input side, for every path that feeds a model.

The training pipeline, the exported serving signature, the photo watch during training and the GPU runner
all call `resize_square`, so a model sees the same pixels wherever its input comes from.
"""

from __future__ import annotations

from typing import Any

import keras


def resize_square(images: Any, size: int) -> Any:
    """Square images (..., S, S, 3), any dtype, as float32 at `size` x `size`: plain bilinear with half-pixel
    centres and no antialiasing, which TFLite runs as a builtin op. Any Keras backend; a tf.data map too.

    Example:
        >>> image = np.arange(16, dtype="float32").reshape(1, 4, 4, 1).repeat(3, -1)
        >>> keras.ops.convert_to_numpy(resize_square(image, 2))[0, :, :, 0].tolist()
        [[2.5, 4.5], [10.5, 12.5]]
    """
    return keras.ops.image.resize(keras.ops.cast(images, "float32"), (size, size), interpolation="bilinear",
                                  antialias=False)
