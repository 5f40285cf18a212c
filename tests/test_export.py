import dataclasses
import datetime
import functools
import json
import re
import subprocess
import sys
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfpose3d import ModelConfig, build_model, export
from tfpose3d.cli import main
from tfpose3d.contract import check_images
from tfpose3d.predict import Predictor
from tfpose3d.serving import ServingClient, grpc_request, rest_request

CONFIG = ModelConfig(image_size=64, grid_size=8, width=0.05, dropout=0.0)
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("m") / "m.keras"
    build_model(CONFIG).save(path)
    return path


@pytest.fixture(scope="module")
def exported(model_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("serving")
    assert main(["export", str(model_file), "--out", str(out)]) == 0
    return out / "tfpose3d" / "1"


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).integers(0, 256, size=(3, 225, 225, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def reference(model_file, images):
    """The Keras model itself on the same pixels, resized as the signature documents."""
    import keras

    model = keras.models.load_model(model_file, safe_mode=True)
    x = tf.image.resize(tf.cast(images, tf.float32), [64, 64], method="bilinear")
    out = model.predict(x, verbose=0)
    return {"pose_3d": out["pose_3d"], "joints_2d": out["joints_2d"] * 225 / 64, "heatmaps_2d": out["heatmaps_2d"]}


@pytest.mark.slow
def test_saved_model_cli_shows_exactly_the_signature(exported):
    out = subprocess.run([str(BIN / "saved_model_cli"), "show", "--dir", str(exported), "--all"],
                         capture_output=True, text=True, check=True).stdout
    signature = out[out.index("signature_def['serving_default']"):]
    assert "inputs['image'] tensor_info:\n        dtype: DT_UINT8\n        shape: (-1, 225, 225, 3)" in signature
    outputs = {line.split("'")[1] for line in signature.splitlines() if line.strip().startswith("outputs['")}
    assert outputs == {"pose_3d", "joints_2d", "heatmaps_2d"}
    for name, shape in (("pose_3d", "(-1, 17, 3)"), ("joints_2d", "(-1, 17, 2)"), ("heatmaps_2d", "(-1, 17, 8, 8)")):
        block = signature[signature.index(f"outputs['{name}']"):]
        assert "dtype: DT_FLOAT" in block.split("outputs[")[1] and shape in block.split("outputs[")[1]


@pytest.mark.slow
def test_every_form_reproduces_keras(exported, model_file, images, reference):
    forms = [model_file, exported] + [exported / f"tfpose3d_{k}.tflite" for k in export.TFLITE_KINDS]
    tolerance = {"keras": 1e-3, "saved_model": 1e-3, "tfpose3d_float32": 1e-2, "tfpose3d_float16": 1.0}
    for path in forms:
        predictor = Predictor(path, threads=1)
        out = predictor(images)
        key = path.stem if predictor.kind == "tflite" else predictor.kind
        for name in ("pose_3d", "joints_2d", "heatmaps_2d"):
            assert out[name].shape == reference[name].shape
            if key in tolerance:
                np.testing.assert_allclose(out[name], reference[name], atol=tolerance[key] * (1 if name != "heatmaps_2d" else 0.01))
    # int8: coarse but the same answer in kind; the measured gap on trained models is in docs/deployment.md.
    int8 = Predictor(exported / "tfpose3d_int8.tflite")(images)
    np.testing.assert_allclose(int8["heatmaps_2d"].sum(axis=(2, 3)), 1.0, atol=0.1)


def test_int8_keeps_the_pose_after_the_merge_in_float(tmp_path, images):
    import keras

    keras.utils.set_random_seed(0)
    model = build_model(dataclasses.replace(CONFIG, bone_lengths=True))
    version = export.export(model, tmp_path, extras=("int8",), calibration=lambda: (images[i:i + 1] for i in range(3)))
    float_pose = Predictor(version)(images)["pose_3d"]
    int8_pose = Predictor(version / "tfpose3d_int8.tflite")(images)["pose_3d"]
    error = np.linalg.norm(int8_pose - float_pose, axis=-1).mean() / np.linalg.norm(float_pose, axis=-1).mean()
    assert error < 0.3, error  # every op in int8: 0.8, the merged pose's joints read 0 but one
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(version / "tfpose3d_int8.tflite"))
    assert interpreter.get_signature_runner().get_input_details()["image"]["dtype"] == np.uint8
    # Float32 only in the tail, the outputs and at the edges of the int8 network: the network stays int8.
    edges = re.compile(r"Cast|StatefulPartitionedCall:\d|tfl\.dequantize\d*|arith\.constant\d*")
    floats = [d["name"] for d in interpreter.get_tensor_details() if d["dtype"] == np.float32]
    assert [name for name in floats if not export.FLOAT_TAIL.search(name) and not edges.fullmatch(name)] == []
    assert any(export.FLOAT_TAIL.search(name) for name in floats)


@pytest.mark.slow
def test_flip_in_every_form_is_the_keras_flip(exported, model_file, images):
    from tfpose3d.estimator import flip_test_model, load_model

    model = flip_test_model(load_model(model_file))
    out = model.predict(tf.image.resize(tf.cast(images, tf.float32), [64, 64], method="bilinear"), verbose=0)
    reference = {"pose_3d": out["pose_3d"], "joints_2d": out["joints_2d"] * 225 / 64}
    for path, tolerance in ((model_file, 1e-3), (exported, 1e-3), (exported / "tfpose3d_float32.tflite", 1e-2)):
        flipped = Predictor(path, threads=1, flip=True)(images)
        for name, value in reference.items():
            np.testing.assert_allclose(flipped[name], value, atol=tolerance)
    plain = Predictor(exported)(images)["pose_3d"]
    assert np.abs(plain - reference["pose_3d"]).max() > 10 * 1e-3  # the flip changes the answer: not a no-op


@pytest.mark.slow
def test_saved_model_stores_each_weight_once(exported, model_file):
    import keras

    weights = keras.models.load_model(model_file).count_params() * 4
    stored = sum(p.stat().st_size for p in (exported / "variables").iterdir())
    assert weights <= stored < 1.1 * weights


def test_an_export_is_as_readable_as_any_new_folder(exported, tmp_path):
    # TF Serving often runs as another user: the version folder is made as mkdir makes one, not private.
    (tmp_path / "plain").mkdir()
    assert exported.stat().st_mode == (tmp_path / "plain").stat().st_mode


@pytest.mark.slow
def test_tflite_files_are_what_they_say(exported):
    from ai_edge_litert.interpreter import Interpreter

    sizes = {k: (exported / f"tfpose3d_{k}.tflite").stat().st_size for k in export.TFLITE_KINDS}
    assert sizes["float16"] < 0.6 * sizes["float32"] and sizes["int8"] < 0.4 * sizes["float32"]
    details = Interpreter(model_path=str(exported / "tfpose3d_int8.tflite")).get_signature_runner().get_input_details()
    assert details["image"]["dtype"] == np.uint8


@pytest.mark.slow
def test_tflite_convert_cli_on_the_saved_model(exported, tmp_path, images, reference):
    out = tmp_path / "converted.tflite"
    subprocess.run([str(BIN / "tflite_convert"), "--saved_model_dir", str(exported), "--output_file", str(out)],
                   check=True, capture_output=True)
    np.testing.assert_allclose(Predictor(out)(images)["pose_3d"], reference["pose_3d"], atol=1e-2)


def test_versions_and_failed_export_leaves_nothing(model_file, tmp_path, monkeypatch, capsys):
    assert main(["export", str(model_file), "--out", str(tmp_path), "--tflite", "none"]) == 0
    assert main(["export", str(model_file), "--out", str(tmp_path), "--tflite", "none"]) == 0
    assert sorted(p.name for p in (tmp_path / "tfpose3d").iterdir()) == ["1", "2"]
    assert main(["export", str(model_file), "--out", str(tmp_path), "--version", "2", "--tflite", "none"]) == 2
    assert "already exists" in capsys.readouterr().err

    def broken(*args, **kwargs):
        raise RuntimeError("converter crashed")

    monkeypatch.setattr(export.TFLiteForm, "convert", broken)
    with pytest.raises(RuntimeError):
        main(["export", str(model_file), "--out", str(tmp_path), "--tflite", "int8"])
    assert sorted(p.name for p in (tmp_path / "tfpose3d").iterdir()) == ["1", "2"]  # no 3, no temporary folder
    assert main(["export", str(model_file), "--out", str(tmp_path), "--tflite", "int4"]) == 2
    assert "--tflite: unknown kind(s) ['int4']" in capsys.readouterr().err


def test_calibration_images_given_as_an_array_are_named(tmp_path):
    images = np.zeros((4, 225, 225, 3), np.uint8)
    with pytest.raises(TypeError, match=r"calibration must be a function .* got ndarray"):
        export.export(build_model(CONFIG), tmp_path, extras=("int8",), calibration=images)
    assert not (tmp_path / "tfpose3d").exists()  # refused before anything is written


def git_commit(repo: Path) -> str:
    """HEAD's short hash, with "-dirty" where a tracked file differs from it."""
    git = functools.partial(subprocess.run, capture_output=True, text=True, cwd=repo, check=True)
    changed = git(["git", "status", "--porcelain", "--untracked-files=no"]).stdout.strip()
    return git(["git", "rev-parse", "--short", "HEAD"]).stdout.strip() + ("-dirty" if changed else "")


def test_origin_says_when_the_checkout_had_changes(tmp_path, monkeypatch):
    repo = tmp_path / "checkout"
    repo.mkdir()
    (repo / "pyproject.toml").write_text("[project]\n")
    git = functools.partial(subprocess.run, cwd=repo, check=True, capture_output=True)
    git(["git", "init", "-q"])
    git(["git", "add", "pyproject.toml"])
    git(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "first"])
    monkeypatch.setattr(export, "CHECKOUT", repo)
    head = git_commit(repo)
    assert not head.endswith("-dirty") and export.origin(tmp_path / "m.keras")["commit"] == head
    (repo / "notes.txt").write_text("untracked files are not the model's code")
    assert export.origin(tmp_path / "m.keras")["commit"] == head
    (repo / "pyproject.toml").write_text("[project]\nname = 'changed'\n")
    assert export.origin(tmp_path / "m.keras")["commit"] == head + "-dirty" == git_commit(repo)


def test_an_export_says_what_it_was_made_from(model_file, tmp_path, capsys, monkeypatch):
    from tfpose3d.version import __version__

    run = tmp_path / "runs" / "main"
    run.mkdir(parents=True)
    (run / "model.keras").write_bytes(model_file.read_bytes())
    (run / "config.json").write_text(json.dumps({"train": {"preset": "cpu-pretrained"}, "data": None}))
    out = tmp_path / "serving_models"
    assert main(["export", str(run), "--out", str(out), "--tflite", "none"]) == 0
    assert main(["export", str(model_file), "--out", str(out), "--tflite", "none"]) == 0
    from_run, from_file = (json.loads((out / "tfpose3d" / v / "origin.json").read_text()) for v in "12")
    commit = git_commit(Path(__file__).parent)
    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    assert from_run == {"source": str(run), "preset": "cpu-pretrained", "tfpose3d": __version__,
                        "commit": commit, "exported": from_run["exported"]}
    assert from_run["exported"].startswith(today)
    assert "preset" not in from_file and from_file["source"] == str(model_file)
    # predict without --model names the export's preset and source
    monkeypatch.chdir(tmp_path)
    assert export.origin(Path("runs") / "main")["source"] == str(run)  # found again from any folder
    photo = tmp_path / "grey.png"
    Image.fromarray(np.full((80, 60, 3), 128, np.uint8)).save(photo)
    main(["predict", str(photo), "--box", "0,0,60,80", "--out-dir", str(tmp_path / "pictures")])
    assert (f"model {Path('serving_models/tfpose3d/2')} (from {model_file}, exported "
            in capsys.readouterr().err)
    (out / "tfpose3d" / "1").rename(out / "tfpose3d" / "3")
    main(["predict", str(photo), "--box", "0,0,60,80", "--out-dir", str(tmp_path / "pictures")])
    err = capsys.readouterr().err
    assert f"model {Path('serving_models/tfpose3d/3')} (preset cpu-pretrained, from {run}, exported {today}" in err
    assert f"by tfpose3d {__version__} at {commit}; the newest export" in err
    # The folder TF Serving is given names the version to pass; a video output with only photos is told.
    assert main(["predict", "--model", str(out / "tfpose3d"), str(photo), "--box", "whole"]) == 2
    assert (f"{out / 'tfpose3d'}: a folder of exported versions; pass one of them, such as the newest, "
            f"{out / 'tfpose3d' / '3'}") in capsys.readouterr().err
    assert main(["predict", str(photo), "--box", "whole", "--video-out", "v.mp4", "--out-dir", "pictures"]) == 0
    assert "--video-out v.mp4 is not used: no video among the inputs" in capsys.readouterr().err
    assert not Path("v.mp4").exists()


def decode_rest(body):
    """TF Serving's JSON semantics, written independently of the client."""
    assert body["signature_name"] == "serving_default"
    if "instances" in body:
        return np.array([row["image"] for row in body["instances"]], dtype=np.uint8)
    return np.array(body["inputs"]["image"], dtype=np.uint8)


@pytest.mark.slow
@pytest.mark.parametrize("form", ["instances", "inputs"])
def test_rest_requests_decode_to_the_signature_inputs(form, exported, images, reference):
    body = json.loads(json.dumps(rest_request(images, form)))
    decoded = decode_rest(body)
    np.testing.assert_array_equal(decoded, images)
    signature = tf.saved_model.load(str(exported)).signatures["serving_default"]
    out = signature(image=tf.constant(decoded))
    np.testing.assert_allclose(out["pose_3d"].numpy(), reference["pose_3d"], atol=1e-3)


@pytest.mark.slow
def test_grpc_request_decodes_to_the_signature_inputs(images):
    request = grpc_request(images, "tfpose3d", version=3)
    assert (request.model_spec.name, request.model_spec.signature_name, request.model_spec.version.value) == ("tfpose3d", "serving_default", 3)
    np.testing.assert_array_equal(tf.make_ndarray(request.inputs["image"]), images)


def serve_rest(signature):
    """A loopback stand-in for TF Serving's REST :predict, replying in both forms like the real one."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            out = {k: v.numpy().tolist() for k, v in signature(image=tf.constant(decode_rest(body))).items()}
            if "instances" in body:
                reply = {"predictions": [dict(zip(out, values)) for values in zip(*out.values())]}
            else:
                reply = {"outputs": out}
            data = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.slow
def test_clients_round_trip_over_loopback(exported, images, reference):
    import grpc
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    signature = tf.saved_model.load(str(exported)).signatures["serving_default"]
    server = serve_rest(signature)

    class Service(prediction_service_pb2_grpc.PredictionServiceServicer):
        def Predict(self, request, context):
            out = signature(image=tf.constant(tf.make_ndarray(request.inputs["image"])))
            response = predict_pb2.PredictResponse()
            for k, v in out.items():
                response.outputs[k].CopyFrom(tf.make_tensor_proto(v.numpy()))
            return response

    grpc_server = grpc.server(futures.ThreadPoolExecutor(2))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(Service(), grpc_server)
    port = grpc_server.add_insecure_port("127.0.0.1:0")
    grpc_server.start()
    try:
        client = ServingClient(f"http://127.0.0.1:{server.server_port}", f"127.0.0.1:{port}", timeout=20)
        for out in (client.predict_rest(images), client.predict_rest(images, "inputs"), client.predict_grpc(images)):
            for name in reference:
                np.testing.assert_allclose(out[name], reference[name], atol=1e-3)
    finally:
        server.shutdown()
        grpc_server.stop(0)


@pytest.mark.skipif("TFPOSE3D_SERVING_URL" not in __import__("os").environ, reason="no live TF Serving (set TFPOSE3D_SERVING_URL)")
def test_live_serving(images):
    import os

    client = ServingClient(os.environ["TFPOSE3D_SERVING_URL"], os.environ.get("TFPOSE3D_SERVING_GRPC"))
    out = client.predict_rest(images)
    assert out["pose_3d"].shape == (3, 17, 3) and np.isfinite(out["pose_3d"]).all()
    if client.grpc_target:
        np.testing.assert_allclose(client.predict_grpc(images)["pose_3d"], out["pose_3d"], atol=1e-3)


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((225, 225), np.uint8), "rank 4"),
        (np.zeros((1, 225, 225, 4), np.uint8), "3 \\(RGB\\) channels"),
        (np.zeros((0, 225, 225, 3), np.uint8), "empty batch"),
        (np.full((1, 225, 225, 3), np.nan), "NaN"),
        (np.full((1, 225, 225, 3), 300.0), "\\[0, 255\\]"),
        (np.full((1, 225, 225, 3), 0.5), "lies in \\[0, 1\\]"),  # scaled to 0..1: would be read as black
        (np.zeros((1, 100, 225, 3), np.uint8), "225x225"),
        (np.array([["a"]]), "numeric"),
        (np.ones((1, 225, 225, 3), bool), "boolean array \\(a mask\\?\\), not pixels"),
    ],
)
def test_bad_images_are_named(bad, message):
    with pytest.raises(ValueError, match=message):
        check_images(bad)


@pytest.mark.slow
def test_predict_cli_on_any_size_and_bad_inputs(exported, tmp_path, capsys):
    wide = tmp_path / "wide.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (120, 300, 3), dtype=np.uint8)).save(wide)
    out_dir = tmp_path / "pred"
    for form in (exported / "tfpose3d_float32.tflite", exported):
        assert main(["predict", "--model", str(form), str(wide), "--box", "100,10,50,100", "--out-dir", str(out_dir)]) == 0
        result = json.loads(capsys.readouterr().out)
        person = result[0]["people"][0]
        assert np.asarray(person["pose_3d_mm"]).shape == (17, 3) and person["box_xywh"] == [100, 10, 50, 100]
        assert (out_dir / "wide_pose_0.png").stat().st_size > 5000

    text = tmp_path / "notes.png"
    text.write_text("not an image")
    fresh = tmp_path / "fresh"
    assert main(["predict", "--model", str(exported), str(wide), str(text), "--out-dir", str(fresh)]) == 2
    assert "notes.png: not a readable image" in capsys.readouterr().err and not fresh.exists()
    assert main(["predict", "--model", str(tmp_path), str(wide), "--out-dir", str(fresh)]) == 2
    assert "not a model" in capsys.readouterr().err and not fresh.exists()
    assert main(["predict", "--model", str(exported), str(tmp_path / "missing.jpg"), "--out-dir", str(fresh)]) == 2
    assert "no such image file" in capsys.readouterr().err
    with pytest.raises(ValueError, match="a folder, not an image; pass its images one by one"):
        Predictor(exported).predict_image(tmp_path)


def test_export_and_evaluate_refuse_what_is_not_a_model(tmp_path, capsys):
    fake = tmp_path / "fake.keras"
    fake.write_text("hello")
    assert main(["export", str(fake), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"{fake}: not a loadable Keras model (a .keras file is a zip archive; this one is not)" in err
    assert "not found" not in err and not (tmp_path / "out").exists()
    assert main(["evaluate", str(tmp_path / "missing"), "--data", str(tmp_path)]) == 2
    assert "No model at" in capsys.readouterr().err


def test_a_keras_file_is_traced_once_for_every_batch_size(model_file, images, reference, monkeypatch):
    """A photo's number of people varies: the .keras form must not trace its graph again for each count."""
    traces = []
    real = export.serving_function

    def counted(model, flip=False):
        serve = real(model, flip)
        return lambda image: traces.append(image.shape) or serve(image)  # runs once per trace

    monkeypatch.setattr(export, "serving_function", counted)
    run = export.FORMS["keras"].open(model_file)
    for n in (1, 3, 2):
        out = run(images[:n])
        np.testing.assert_allclose(out["pose_3d"], reference["pose_3d"][:n], atol=1e-3)
    assert len(traces) == 1 and traces[0].as_list() == [None, 225, 225, 3]


def test_contract_and_rest_client_need_no_tensorflow():
    """A REST client machine has numpy alone: the contract and the REST path import nothing heavier."""
    script = (
        "import sys\n"
        "sys.modules['tensorflow'] = sys.modules['keras'] = None\n"  # any import of them now fails
        "import numpy as np\n"
        "from tfpose3d import contract, serving\n"
        "body = serving.rest_request(np.zeros((1, 225, 225, 3), np.uint8))\n"
        "out = serving.parse_rest_response({'predictions': [{'pose_3d': [[0, 0, 0]] * 17, 'joints_2d': [[0, 0]] * 17,"
        " 'heatmaps_2d': [[[0.25] * 2] * 2] * 17}]})\n"
        "print(len(body['instances']), contract.check_outputs(out, 1)['heatmaps_2d'].shape)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["1", "(1,", "17,", "2,", "2)"]


def test_contract_output_shapes_match_the_model():
    model = build_model(CONFIG)
    out = model.predict(np.zeros((2, 64, 64, 3), np.float32), verbose=0)
    from tfpose3d import contract

    assert {k: out[k].shape[1:] for k in contract.OUTPUT_NAMES} == contract.output_shapes(CONFIG.grid_size)
    with pytest.raises(ValueError, match="pose_3d"):
        contract.check_outputs({**out, "pose_3d": out["pose_3d"][:, :5]}, 2)
    with pytest.raises(ValueError, match="lack"):
        contract.check_outputs({"pose_3d": out["pose_3d"]}, 2)


def test_every_form_in_the_table_is_recognised_and_runs(model_file, tmp_path, images):
    """Each form of export.FORMS writes a file that `form_of` recognises as that form and can run."""
    model = export.load_model(model_file)
    calls = []

    def calibration():
        calls.append(1)
        yield from (images[i : i + 1] for i in range(3))

    version = export.export(model, tmp_path, extras=tuple(k for k in export.FORMS if k != "saved_model"),
                            calibration=calibration)
    assert calls, "int8 conversion must use the calibration images it is given"
    for kind, form in export.FORMS.items():
        path = form.path(version, "tfpose3d")
        assert path.exists(), kind
        assert export.form_of(path).runtime == form.runtime
        out = Predictor(path)(images[:1])
        assert out["pose_3d"].shape == (1, 17, 3) and np.isfinite(out["pose_3d"]).all()


test_every_form_in_the_table_is_recognised_and_runs = pytest.mark.slow(test_every_form_in_the_table_is_recognised_and_runs)


@pytest.mark.slow
def test_export_terminal_shows_only_the_projects_line(model_file, tmp_path):
    import os

    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    out = subprocess.run([sys.executable, "-m", "tfpose3d.cli", "export", str(model_file), "--out", str(tmp_path),
                          "--tflite", "float16,int8"], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stderr == "" and out.stdout.strip().splitlines() == [
        f"{tmp_path / 'tfpose3d' / '1'}: SavedModel (signatures serving_default, serving_flip), tfpose3d_float16.tflite, "
        "tfpose3d_int8.tflite"]


def test_the_main_export_is_found_from_any_folder(tmp_path, monkeypatch):
    checkout, elsewhere = tmp_path / "checkout", tmp_path / "notebooks"
    (checkout / "serving_models" / "tfpose3d" / "2").mkdir(parents=True)
    (checkout / "serving_models" / "tfpose3d" / "10").mkdir()
    (checkout / "pyproject.toml").touch()
    elsewhere.mkdir()
    monkeypatch.setattr(export, "CHECKOUT", checkout)
    monkeypatch.chdir(elsewhere)
    assert export.latest_export() == checkout / "serving_models" / "tfpose3d" / "10"  # the newest, by number
    (elsewhere / "serving_models" / "tfpose3d" / "0").mkdir(parents=True)
    assert export.latest_export() == Path("serving_models/tfpose3d/0")  # the working folder's own comes first
    (checkout / "pyproject.toml").unlink()  # not a checkout: an installed package's folder
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"^serving_models/tfpose3d: no exported"):
        export.latest_export()
    (checkout / "pyproject.toml").touch()
    for version in ("2", "10"):
        (checkout / "serving_models" / "tfpose3d" / version).rmdir()
    with pytest.raises(FileNotFoundError, match=r"^serving_models/tfpose3d or .*checkout/serving_models/tfpose3d: no"):
        export.latest_export()
    monkeypatch.chdir(checkout)  # in the checkout itself: its folder named once
    with pytest.raises(FileNotFoundError, match=r"^serving_models/tfpose3d: no exported"):
        export.latest_export()


@pytest.mark.slow
def test_a_tflite_model_prints_nothing_on_the_users_terminal(exported):
    # LiteRT announces its XNNPACK delegate once a process, on the first allocation: a fresh process shows it.
    code = (f"import numpy as np; from tfpose3d.predict import Predictor; "
            f"Predictor({str(exported / 'tfpose3d_int8.tflite')!r})(np.zeros((1, 225, 225, 3), np.uint8))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "XNNPACK" not in done.stderr, done.stderr
