"""Can BlazePose's trained network become a Keras trunk, and how fast does it run here?

The first step of the pretrained-trunk preset that docs/results.md ("Real photographs", section 8) points to:
the .tflite graph of MediaPipe's BlazePose GHUM "full" landmark network (see `bench/blazepose_photos.py` for
where it comes from) is rebuilt op by op from standard Keras layers, with its float16 weights as float32. The
bench checks that the Keras model gives the interpreter's landmarks on the real photos' crops, then times the
trunk up to its middle depth (8x8x288) in TensorFlow on this machine: a forward pass alone, as a frozen trunk
would run in training, and with gradients, as a trunk fine-tuned with the heads would.

Run: .venv/bin/python bench/blazepose_keras.py --model /tmp/mp/pose_landmark_full.tflite [--batch 64]
"""

from __future__ import annotations

import argparse
import os
import platform

import keras
import numpy as np
import tensorflow as tf
from tensorflow.lite.python import schema_py_generated as fb

from tfpose3d.data.photos import PhotoSet

from blazepose_photos import INPUT, blazepose, blazepose_input  # scripts beside this one
from deploy_latency import timed
OPS = {v: k for k, v in vars(fb.BuiltinOperator).items() if not k.startswith("_")}
ACTIVATIONS = {fb.ActivationFunctionType.NONE: None, fb.ActivationFunctionType.RELU: "relu",
               fb.ActivationFunctionType.RELU6: "relu6"}
MIDDLE = "model_1/model/re_lu_41/Relu6"


def _options(op, kind):
    table, options = op.BuiltinOptions(), kind()
    options.Init(table.Bytes, table.Pos)
    return options


def _padding(options) -> str:
    return "same" if options.Padding() == fb.Padding.SAME else "valid"


def to_keras(path: str, outputs: list[str]) -> keras.Model:
    """The graph of the .tflite at `path` as a Keras functional model, up to the tensors named `outputs` (their
    first op's name for fused tensors), in that order. Supports the operations BlazePose uses."""
    model = fb.Model.GetRootAs(open(path, "rb").read(), 0)
    graph = model.Subgraphs(0)
    codes = [max(model.OperatorCodes(i).BuiltinCode(), model.OperatorCodes(i).DeprecatedBuiltinCode())
             for i in range(model.OperatorCodesLength())]

    def constant(index: int) -> np.ndarray:
        tensor = graph.Tensors(index)
        dtype = {fb.TensorType.FLOAT32: np.float32, fb.TensorType.FLOAT16: np.float16,
                 fb.TensorType.INT32: np.int32}[tensor.Type()]
        raw = model.Buffers(tensor.Buffer()).DataAsNumpy()
        return np.frombuffer(raw.tobytes(), dtype).reshape(tensor.ShapeAsNumpy()).astype(np.float32 if dtype == np.float16 else dtype)

    inputs = keras.Input((INPUT, INPUT, 3), name="image")
    values: dict[int, object] = {graph.Inputs(0): inputs}  # tensor index -> KerasTensor or np.ndarray
    names = {i: graph.Tensors(i).Name().decode() for i in range(graph.TensorsLength())}

    def value(index: int):
        if index not in values:
            values[index] = constant(index)
        return values[index]

    for k in range(graph.OperatorsLength()):
        op = graph.Operators(k)
        kind, ins, out = OPS[codes[op.OpcodeIndex()]], op.InputsAsNumpy(), op.Outputs(0)
        name = f"{kind.lower()}_{k}"
        if kind == "DEQUANTIZE":
            values[out] = value(ins[0])
        elif kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            x, kernel, bias = value(ins[0]), value(ins[1]), value(ins[2])
            if not isinstance(x, keras.KerasTensor):
                continue
            if kind == "CONV_2D":
                o = _options(op, fb.Conv2DOptions)
                layer = keras.layers.Conv2D(kernel.shape[0], kernel.shape[1:3], (o.StrideH(), o.StrideW()), _padding(o),
                                            activation=ACTIVATIONS[o.FusedActivationFunction()], name=name)
                weights = [kernel.transpose(1, 2, 3, 0), bias]
            else:
                o = _options(op, fb.DepthwiseConv2DOptions)
                channels = x.shape[-1]
                layer = keras.layers.DepthwiseConv2D(kernel.shape[1:3], (o.StrideH(), o.StrideW()), _padding(o),
                                                     depth_multiplier=kernel.shape[-1] // channels,
                                                     activation=ACTIVATIONS[o.FusedActivationFunction()], name=name)
                weights = [kernel.reshape(*kernel.shape[1:3], channels, -1), bias]
            values[out] = layer(x)
            layer.set_weights(weights)
        elif kind == "ADD":
            o = _options(op, fb.AddOptions)
            y = keras.layers.Add(name=name)([value(ins[0]), value(ins[1])])
            activation = ACTIVATIONS[o.FusedActivationFunction()]
            values[out] = keras.layers.Activation(activation, name=f"{name}_act")(y) if activation else y
        elif kind == "PAD":
            pads = value(ins[1])
            values[out] = keras.layers.ZeroPadding2D((tuple(pads[1]), tuple(pads[2])), name=name)(value(ins[0]))
        elif kind == "MAX_POOL_2D":
            o = _options(op, fb.Pool2DOptions)
            values[out] = keras.layers.MaxPooling2D((o.FilterHeight(), o.FilterWidth()), (o.StrideH(), o.StrideW()),
                                                    _padding(o), name=name)(value(ins[0]))
        elif kind == "RESIZE_BILINEAR":
            o = _options(op, fb.ResizeBilinearOptions)
            if o.AlignCorners() or not o.HalfPixelCenters():
                raise ValueError(f"op {k}: only half-pixel-centre bilinear resizing is supported")
            height, width = graph.Tensors(out).ShapeAsNumpy()[1:3]
            values[out] = keras.layers.Resizing(int(height), int(width), "bilinear", name=name)(value(ins[0]))
        elif kind == "RESHAPE":
            shape = graph.Tensors(out).ShapeAsNumpy()[1:]
            values[out] = keras.layers.Reshape(tuple(int(s) for s in shape), name=name)(value(ins[0]))
        elif kind == "LOGISTIC":
            values[out] = keras.layers.Activation("sigmoid", name=name)(value(ins[0]))
        else:
            raise ValueError(f"op {k}: {kind} is not supported")
    found = []
    for prefix in outputs:
        # A fused tensor's name lists its ops after ";".
        matches = [i for i, n in names.items() if n.split(";")[0] == prefix and isinstance(values.get(i), keras.KerasTensor)]
        if not matches:
            raise ValueError(f"no tensor named {prefix!r}")
        found.append(values[matches[0]])
    return keras.Model(inputs, found)


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
    full = to_keras(args.model, ["Identity"])
    keras_landmarks = full.predict(images, verbose=0).reshape(len(images), 39, 5)[:, :33, :2] / INPUT
    gap = np.abs(keras_landmarks - blazepose(args.model, photos.crops)[0]) * INPUT
    print(f"{platform.node()} {platform.processor() or platform.machine()}, {os.cpu_count()} cores; TensorFlow "
          f"{tf.__version__}, Keras {keras.__version__}")
    print(f"full network: {full.count_params():,} parameters, {len(full.layers)} layers; landmarks on "
          f"{len(images)} photo crops against the interpreter: largest difference {gap.max():.3f} px of {INPUT}, "
          f"median {np.median(gap):.4f} px")

    trunk = to_keras(args.model, [MIDDLE])
    batch = np.resize(images, (args.batch, INPUT, INPUT, 3)).astype(np.float32)
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
