"""Can BlazePose's trained network become a Keras trunk, and how fast does it run here?

The first step of the pretrained-trunk preset that docs/results.md ("Real photographs", section 8) points to:
the .tflite graph of MediaPipe's BlazePose GHUM "full" landmark network (see `bench/blazepose_photos.py` for
where it comes from) is rebuilt op by op from standard Keras layers by the package's converter
(`tools/make_blazepose_asset.py`), with its float16 weights as float32. The bench checks that the whole
converted network gives the interpreter's landmarks on the real photos' crops and that the shipped trunk gives
the interpreter's features stored in its asset, then times the shipped trunk
(`tfpose3d.blazepose.BlazePoseBackbone`, to the middle depth 8x8x288) in TensorFlow on this machine: a
forward pass alone, as a frozen trunk runs in training (preset `cpu-pretrained`), and with gradients, as a
trunk fine-tuned with the heads would.

Run: .venv/bin/python bench/blazepose_keras.py --model /tmp/mp/pose_landmark_full.tflite [--batch 64]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from tfpose3d import skeleton
from tfpose3d.blazepose import BlazePoseBackbone, build_graph, trunk_asset
from tfpose3d.data.photos import PhotoSet

from blazepose_photos import INPUT, blazepose, blazepose_input  # scripts beside this one

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from make_blazepose_asset import graph_spec, reference_image  # noqa: E402  (the converter, in tools/)
from deploy_latency import timed


def to_keras(path: str, output: str) -> keras.Model:
    """The graph of the .tflite at `path` up to the tensor named `output`, as the package converts it."""
    graph, weights, found = graph_spec(open(path, "rb").read(), {"output": output})
    image = keras.Input((INPUT, INPUT, 3), name="image")
    return keras.Model(image, build_graph(image, graph, weights, [found["output"]])[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="pose_landmark_full.tflite from MediaPipe's wheel")
    parser.add_argument("--photos", default="../shared/data/real-photos-dev")
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    if not os.path.isfile(args.model):
        parser.error(f"--model {args.model}: no such file (see bench/blazepose_photos.py for how to extract it)")

    photos = PhotoSet.load(args.photos)
    images = np.stack([blazepose_input(crop) for crop in photos.crops])
    full = to_keras(args.model, "Identity")
    keras_landmarks = full.predict(images, verbose=0).reshape(len(images), skeleton.BLAZEPOSE_LANDMARKS, 5)[:, : skeleton.BLAZEPOSE_BODY, :2] / INPUT
    gap = np.abs(keras_landmarks - blazepose(args.model, photos.crops)[0]) * INPUT
    print(f"{platform.node()} {platform.processor() or platform.machine()}, {os.cpu_count()} cores; TensorFlow "
          f"{tf.__version__}, Keras {keras.__version__}")
    print(f"full network: {full.count_params():,} parameters, {len(full.layers)} layers; landmarks on "
          f"{len(images)} photo crops against the interpreter: largest difference {gap.max():.3f} px of {INPUT}, "
          f"median {np.median(gap):.4f} px")

    trunk = BlazePoseBackbone()  # the shipped trunk, as the cpu-pretrained preset runs it (input 0..255)
    reference = trunk_asset()["reference"]
    expected = reference["features"]
    features = trunk(reference_image(reference["coarse"])[None].astype(np.float32)).numpy()[0]
    print(f"shipped trunk on the asset's reference image against the interpreter's features stored with it: largest "
          f"difference {np.abs(features - expected).max():.1e}, features up to {np.abs(expected).max():.1f}")
    batch = np.resize(images * 255, (args.batch, INPUT, INPUT, 3)).astype(np.float32)
    forward = tf.function(lambda x: trunk(x, training=False), jit_compile=False)

    @tf.function
    def with_gradients(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(trunk(x, training=True))
        return tape.gradient(loss, trunk.trainable_variables)

    print(f"trunk to the middle depth {tuple(trunk.outputs[0].shape[1:])}: {trunk.count_params():,} parameters; batch "
          f"{args.batch}, median of 5: forward {args.batch / timed(forward, batch, 5):.0f} images/s, forward and "
          f"backward {args.batch / timed(with_gradients, batch, 5):.0f} images/s")


if __name__ == "__main__":
    main()
