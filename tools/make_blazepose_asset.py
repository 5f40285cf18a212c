"""Convert BlazePose's landmark network into `blazepose_trunk.npz` (its middle-depth features, its image
landmarks and its world landmarks), and copy its person detector, unchanged, to `pose_detection.tflite`.

Run once, by hand; the package never imports this module. The source is MediaPipe's BlazePose GHUM "full"
landmark network, which the Apache-2.0 `mediapipe==0.10.14` wheel on PyPI carries (newer wheels have no
model files):

    pip download --no-deps mediapipe==0.10.14 -d /tmp/mp
    python tools/make_blazepose_asset.py /tmp/mp/mediapipe-0.10.14-*.whl

The .tflite graph is read with the flatbuffer schema that ships with TensorFlow and rewritten op by op as
standard Keras layers (`graph`: class, arguments and inputs of each layer), with the weights as they are in
the file (float16), and which layer gives each of `OUTPUTS`. `tfpose3d.blazepose.BlazePoseBackbone` rebuilds
the layers from it. The asset also holds a reference: a fixed coarse image and each output the LiteRT
interpreter computes for it, which the tests compare against the Keras rebuild. The wheel's licence text goes to MEDIAPIPE-LICENSE.txt.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from tfpose3d import detect
from tfpose3d.blazepose import ancestors

DATA = Path(__file__).resolve().parents[1] / "tfpose3d" / "data"  # where the package ships its assets
OUT = DATA / "blazepose_trunk.npz"
LICENCE = DATA / "MEDIAPIPE-LICENSE.txt"  # Apache 2.0 asks for its text beside the work
MEMBER = "mediapipe/modules/pose_landmark/pose_landmark_full.tflite"
DETECTOR = "mediapipe/modules/pose_detection/pose_detection.tflite"
INPUT = 256
# The 8x8x288 map where BlazePose's regression branch leaves its shared encoder: the features whose heads read
# the real dev photos best for their cost (docs/results.md, "Real photographs", section 8).
MIDDLE = "model_1/model/re_lu_41/Relu6"
# The tensors the asset gives, by role: the features, the 39 image landmarks (x, y, z in pixels of the 256 px
# input, visibility and presence logits) and the 39 world landmarks (metres about the hips).
OUTPUTS = {"features": MIDDLE, "landmarks": "Identity", "world": "Identity_4"}


def graph_spec(tflite: bytes, outputs: dict[str, str]) -> tuple[list[dict], dict[str, list[np.ndarray]], dict[str, str]]:
    """The layers from the graph input up to the tensors named in `outputs` (a fused tensor by its first op's
    name), by role.

    Returns the layers the outputs depend on (dicts with `name`, `class`, `config`, `inputs`; the input is
    "image"), the weights of those that have any, in Keras's order, float16 as stored, and the layer that gives
    each role. Only the operations BlazePose uses are supported; any other raises an error that names it.
    """
    from tensorflow.lite.python import schema_py_generated as fb

    ops_by_code = {v: k for k, v in vars(fb.BuiltinOperator).items() if not k.startswith("_")}
    activations = {fb.ActivationFunctionType.NONE: None, fb.ActivationFunctionType.RELU: "relu",
                   fb.ActivationFunctionType.RELU6: "relu6"}
    model = fb.Model.GetRootAs(tflite, 0)
    graph = model.Subgraphs(0)
    codes = [max(model.OperatorCodes(i).BuiltinCode(), model.OperatorCodes(i).DeprecatedBuiltinCode())
             for i in range(model.OperatorCodesLength())]
    names = {i: graph.Tensors(i).Name().decode() for i in range(graph.TensorsLength())}

    def options(op, kind):
        table, parsed = op.BuiltinOptions(), kind()
        parsed.Init(table.Bytes, table.Pos)
        return parsed

    def padding(parsed) -> str:
        return "same" if parsed.Padding() == fb.Padding.SAME else "valid"

    def constant(index: int) -> np.ndarray:
        tensor = graph.Tensors(index)
        dtype = {fb.TensorType.FLOAT32: np.float32, fb.TensorType.FLOAT16: np.float16,
                 fb.TensorType.INT32: np.int32}[tensor.Type()]
        raw = model.Buffers(tensor.Buffer()).DataAsNumpy()
        return np.frombuffer(raw.tobytes(), dtype).reshape(tensor.ShapeAsNumpy())

    layers: list[dict] = []
    weights: dict[str, list[np.ndarray]] = {}
    produced = {graph.Inputs(0): "image"}  # tensor index -> layer name
    roles = {tensor: role for role, tensor in outputs.items()}
    found: dict[str, str] = {}
    constants: dict[int, np.ndarray] = {}
    for k in range(graph.OperatorsLength()):
        op = graph.Operators(k)
        kind, ins, out = ops_by_code[codes[op.OpcodeIndex()]], [int(i) for i in op.InputsAsNumpy()], op.Outputs(0)
        name = f"{kind.lower()}_{k}"
        if kind == "DEQUANTIZE":  # float16 weights to float32: Keras does that on load
            constants[out] = constant(ins[0])
            continue
        data = [i for i in ins if i in produced]
        if not data:
            continue
        inputs = [produced[i] for i in data]
        args: dict = {}
        if kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            kernel, bias = (constants[i] if i in constants else constant(i) for i in ins[1:3])
            if kind == "CONV_2D":
                o = options(op, fb.Conv2DOptions)
                cls = "Conv2D"
                args = {"filters": int(kernel.shape[0]), "kernel_size": [int(s) for s in kernel.shape[1:3]]}
                weights[name] = [kernel.transpose(1, 2, 3, 0), bias]
            else:
                o = options(op, fb.DepthwiseConv2DOptions)
                cls = "DepthwiseConv2D"
                c = int(graph.Tensors(ins[0]).ShapeAsNumpy()[-1])
                args = {"kernel_size": [int(s) for s in kernel.shape[1:3]], "depth_multiplier": int(kernel.shape[-1] // c)}
                weights[name] = [kernel.reshape(*kernel.shape[1:3], c, -1), bias]
            args.update(strides=[o.StrideH(), o.StrideW()], padding=padding(o),
                        activation=activations[o.FusedActivationFunction()])
        elif kind == "ADD":
            o = options(op, fb.AddOptions)
            if len(data) != 2:
                raise ValueError(f"op {k}: only the addition of two computed tensors is supported")
            cls = "Add"
            activation = activations[o.FusedActivationFunction()]
            if activation:  # a fused activation becomes a layer of its own after the sum
                layers.append({"name": name, "class": cls, "config": {}, "inputs": inputs})
                cls, args, inputs, name = "Activation", {"activation": activation}, [name], f"{name}_act"
        elif kind == "PAD":
            pads = constant(ins[1])
            if pads[0].any() or pads[3].any():
                raise ValueError(f"op {k}: only spatial padding is supported")
            cls, args = "ZeroPadding2D", {"padding": [[int(p) for p in pads[1]], [int(p) for p in pads[2]]]}
        elif kind == "MAX_POOL_2D":
            o = options(op, fb.Pool2DOptions)
            cls, args = "MaxPooling2D", {"pool_size": [o.FilterHeight(), o.FilterWidth()],
                                         "strides": [o.StrideH(), o.StrideW()], "padding": padding(o)}
        elif kind == "RESIZE_BILINEAR":
            o = options(op, fb.ResizeBilinearOptions)
            if o.AlignCorners() or not o.HalfPixelCenters():
                raise ValueError(f"op {k}: only half-pixel-centre bilinear resizing is supported")
            height, width = (int(s) for s in graph.Tensors(out).ShapeAsNumpy()[1:3])
            cls, args = "Resizing", {"height": height, "width": width, "interpolation": "bilinear"}
        elif kind == "RESHAPE":
            cls, args = "Reshape", {"target_shape": [int(s) for s in graph.Tensors(out).ShapeAsNumpy()[1:]]}
        elif kind == "LOGISTIC":
            cls, args = "Activation", {"activation": "sigmoid"}
        else:
            raise ValueError(f"op {k}: {kind} is not supported")
        layers.append({"name": name, "class": cls, "config": args, "inputs": inputs})
        produced[out] = name
        if names[out].split(";")[0] in roles:
            found[roles[names[out].split(";")[0]]] = name
        if len(found) == len(outputs):
            needed = ancestors(layers, list(found.values()))
            kept = {layer["name"] for layer in needed}
            return needed, {layer: w for layer, w in weights.items() if layer in kept}, found
    missing = sorted(set(outputs.values()) - {outputs[role] for role in found})
    raise ValueError(f"no tensor named {', '.join(map(repr, missing))} in the graph")


def interpreter_outputs(tflite_path: str, image: np.ndarray, outputs: dict[str, str]) -> dict[str, np.ndarray]:
    """The LiteRT interpreter's tensors named in `outputs`, by role, for one (256, 256, 3) float image in [0, 1]."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=tflite_path, experimental_preserve_all_tensors=True)
    interpreter.allocate_tensors()
    (inp,) = interpreter.get_input_details()
    interpreter.set_tensor(inp["index"], image[None].astype(np.float32))
    interpreter.invoke()
    details = interpreter.get_tensor_details()
    # A fused op's output is named after its first op, as are the folded tensors in front of it: the data one
    # has the batch dimension.
    return {role: interpreter.get_tensor(next(t["index"] for t in details
                                              if t["name"].split(";")[0] == tensor and t["shape"][0] == 1))[0]
            for role, tensor in outputs.items()}


def reference_image(coarse: np.ndarray) -> np.ndarray:
    """The reference input: a coarse (16, 16, 3) uint8 grid blown up to 256 px, as uint8."""
    return np.repeat(np.repeat(coarse, INPUT // coarse.shape[0], 0), INPUT // coarse.shape[1], 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("wheel", help="mediapipe-0.10.14-*.whl from PyPI")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    with zipfile.ZipFile(args.wheel) as wheel, tempfile.TemporaryDirectory() as tmp:
        detector = wheel.read(DETECTOR)
        if hashlib.sha256(detector).hexdigest() != detect.ASSET_SHA256:
            raise SystemExit(f"{args.wheel}: {DETECTOR} is not the file the package was written for")
        detect.ASSET.write_bytes(detector)
        tflite = wheel.read(MEMBER)
        LICENCE.write_bytes(wheel.read(next(n for n in wheel.namelist() if n.endswith(".dist-info/LICENSE"))))
        path = Path(tmp) / "model.tflite"
        path.write_bytes(tflite)
        layers, weights, found = graph_spec(tflite, OUTPUTS)
        coarse = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
        reference = interpreter_outputs(str(path), reference_image(coarse) / np.float32(255), OUTPUTS)
    arrays = {f"{name}:{i}": w for name, ws in weights.items() for i, w in enumerate(ws)}
    np.savez_compressed(args.out, graph=json.dumps(layers), outputs=json.dumps(found),
                        source=f"{Path(args.wheel).name}:{MEMBER}", reference_coarse=coarse,
                        **{f"reference_{role}": value.astype(np.float32) for role, value in reference.items()}, **arrays)
    count = sum(w.size for w in arrays.values())
    print(f"{args.out}: {len(layers)} layers, {count:,} weights, {args.out.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
