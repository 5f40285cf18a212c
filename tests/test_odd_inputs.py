"""Odd and wrong inputs across the commands, as one table: a new case is one row.

Each row: the command line (built from a set of prepared odd files), the exit status it must end with, the
words its one `tfpose3d: error:` line must hold (for status 2), and what must exist, or not, afterwards.
"""

from __future__ import annotations

import dataclasses
import threading
import json
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfpose3d import ModelConfig, build_model, skeleton
from tfpose3d.cli import main
from tfpose3d.data.images import image_size, read_rgb
from tfpose3d.detect import ASSET as DETECTOR
from tfpose3d.paths import writable
from tfpose3d.train import run_lock
from tfpose3d.video import FrameReader, FrameWriter


class Files:
    """The odd files the rows use, made once in a temporary folder."""

    def __init__(self, root: Path, data: Path):
        self.root, self.data = root, data  # data: a small rendered dataset that is right
        self.model = root / "m.keras"
        build_model(ModelConfig(image_size=64, grid_size=8, width=0.05, dropout=0.0)).save(self.model)
        rng = np.random.default_rng(0)
        self.photo = self.image("photo.png", rng.integers(0, 256, (120, 90, 3), dtype=np.uint8))
        # Stored 40 wide and 100 high, shown turned a quarter (EXIF orientation 6): 100 wide, 40 high.
        self.turned = root / "turned.jpg"
        exif = Image.Exif()
        exif[0x0112] = 6
        Image.fromarray(rng.integers(0, 256, (100, 40, 3), dtype=np.uint8)).save(self.turned, exif=exif)
        self.floats = root / "floats.tiff"  # grey in 0..1 as floats: no range a reader could know
        Image.fromarray(rng.random((60, 40), dtype=np.float32)).save(self.floats)
        self.cut_photo = root / "cut.jpg"  # a photo whose copy was interrupted
        Image.fromarray(rng.integers(0, 256, (120, 90, 3), dtype=np.uint8)).save(self.cut_photo)
        self.cut_photo.write_bytes(self.cut_photo.read_bytes()[: self.cut_photo.stat().st_size // 2])
        self.thin = self.image("thin.png", rng.integers(0, 256, (3, 4000, 3), dtype=np.uint8))
        self.same_a = self.image("a/same.png", rng.integers(0, 256, (80, 60, 3), dtype=np.uint8))
        self.same_b = self.image("b/same.png", rng.integers(0, 256, (80, 60, 3), dtype=np.uint8))
        self.mixed = root / "mixed"
        for i, shape in enumerate(((64, 48), (80, 80), (40, 100))):
            self.image(f"mixed/{i:03d}.png", rng.integers(0, 256, (*shape, 3), dtype=np.uint8))
        self.video = root / "clip.mp4"
        with FrameWriter(self.video, 10.0) as writer:
            for _ in range(3):
                writer.write(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
        self.a_file = root / "a_file"
        self.a_file.write_text("not a folder")
        self.manifest = root / "other_manifest"  # a dataset.json of another shape
        self.manifest.mkdir()
        (self.manifest / "dataset.json").write_text(json.dumps({"shards": [1, 2], "count": 2}))
        self.foreign = root / "foreign"  # TFRecords another tool wrote
        self.foreign.mkdir()
        with tf.io.TFRecordWriter(str(self.foreign / "part-0.tfrecord")) as w:
            feature = {"image/raw": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"x"]))}
            w.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
        (self.foreign / "dataset.json").write_text(json.dumps({"shards": ["part-0.tfrecord"], "count": 1}))
        self.fourteen = self.annotations("fourteen", [[[10.0, 10.0]] * 14])
        self.nobody = self.annotations("nobody", [[None] * 17])
        self.bvh = root / "odd.bvh"
        self.bvh.write_text("HIERARCHY\nROOT A\n{\n OFFSET 0 0 0\n CHANNELS 3 Xposition Yposition Zposition\n"
                            " End Site\n {\n  OFFSET 0 1 0\n }\n}\nMOTION\nFrames: 1\nFrame Time: 0.1\n0 0 0\n")
        self.locked = root / "locked_run"
        self.locked.mkdir()
        # A SavedModel whose variables were cut short (a copy interrupted, a full disk).
        assert main(["export", str(self.model), "--out", str(root / "serving"), "--tflite", "none"]) == 0
        self.cut = root / "serving" / "tfpose3d" / "1"
        data = next((self.cut / "variables").glob("variables.data-*"))
        data.write_bytes(data.read_bytes()[: data.stat().st_size // 3])
        # Models of other programs, and a .keras whose bytes were damaged with its zip directory intact.
        other = tf.Module()
        other.serve = tf.function(lambda x: {"y": 2.0 * x}, input_signature=[tf.TensorSpec([None, 3], tf.float32)])
        self.other_savedmodel = root / "other_savedmodel"
        tf.saved_model.save(other, str(self.other_savedmodel), signatures={"serving_default": other.serve})
        self.other_tflite = DETECTOR  # the package's person detector, MediaPipe's file
        self.damaged = root / "damaged.keras"
        damaged = bytearray(self.model.read_bytes())
        damaged[len(damaged) // 2:len(damaged) // 2 + 64] = bytes(64)
        self.damaged.write_bytes(bytes(damaged))

    def image(self, name: str, pixels: np.ndarray) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(path)
        return path

    def annotations(self, name: str, people: list) -> Path:
        folder = self.root / name
        (folder / "images").mkdir(parents=True)
        Image.fromarray(np.zeros((50, 50, 3), np.uint8)).save(folder / "images" / "p.png")
        (folder / "annotations.json").write_text(json.dumps({
            "joint_names": list(skeleton.JOINT_NAMES),
            "people": [{"image": "images/p.png", "joints_2d": joints} for joints in people]}))
        return folder


@dataclasses.dataclass
class Case:
    name: str
    argv: Callable[[Files, Path], list[str]]  # (files, a fresh output folder) -> the command line
    status: int
    words: str = ""  # in the error line, for status 2
    exists: Callable[[Files, Path], list[Path]] = lambda f, out: []
    absent: Callable[[Files, Path], list[Path]] = lambda f, out: []
    env: dict[str, str] = dataclasses.field(default_factory=dict)


def predict(*args: str) -> Callable[[Files, Path], list[str]]:
    """`tfpose3d predict --model <tiny model> ... --out-dir <out>`; "{photo}" and the like name Files' paths."""
    return lambda f, out: ["predict", "--model", str(f.model), *[a.format(**{k: str(v) for k, v in vars(f).items()})
                                                                 for a in args], "--out-dir", str(out)]


CASES = [
    # Arguments that parse but make no sense.
    Case("regex", lambda f, out: ["data", "import-bvh", str(f.bvh), "--out", str(out / "m.npz"), "--test-pattern", "(["],
         2, "--test-pattern", absent=lambda f, out: [out / "m.npz"]),
    Case("fps zero", predict("{mixed}", "--fps", "0"), 2, "argument --fps", absent=lambda f, out: [out]),
    Case("strength nan", predict("{video}", "--strength", "nan"), 2, "argument --strength", absent=lambda f, out: [out]),
    Case("strength inf", predict("{video}", "--strength", "inf"), 2, "argument --strength", absent=lambda f, out: [out]),
    Case("epochs zero", lambda f, out: ["train", "--out", str(out), "--epochs", "0"], 2, "argument --epochs",
         absent=lambda f, out: [out]),
    Case("port outside 0-65535", lambda f, out: ["train", "--strategy", "multi-worker", "--out", str(out)], 2,
         "port 99999 is outside", absent=lambda f, out: [out],
         env={"TF_CONFIG": json.dumps({"cluster": {"worker": ["127.0.0.1:99999"]}, "task": {"type": "worker", "index": 0}})}),
    Case("box outside", predict("{photo}", "--box", "500,500,10,10"), 2, "wholly outside", absent=lambda f, out: [out]),
    Case("box negative, clipped", predict("{photo}", "--box", "-10,-20,50,60"), 0,
         exists=lambda f, out: [out / "photo_pose_0.png"]),
    Case("box three numbers", predict("{photo}", "--box", "1,2,3"), 2, "four numbers", absent=lambda f, out: [out]),
    Case("box with spaces", predict("{photo}", "--box", "10", "20", "30", "40"), 2, "joined by commas: --box x,y,w,h",
         absent=lambda f, out: [out]),
    Case("unknown flag", predict("{photo}", "--boxx", "1"), 2, "unrecognized arguments", absent=lambda f, out: [out]),
    Case("url", predict("https://example.com/people.jpg"), 2, "https://example.com/people.jpg is a URL",
         absent=lambda f, out: [out]),
    # Files that are almost right.
    Case("manifest of another shape", lambda f, out: ["data", "preview", "--data", str(f.manifest), "--out", str(out / "p.png")],
         2, "not a tfpose3d dataset manifest", absent=lambda f, out: [out / "p.png"]),
    Case("training on one dataset folder", lambda f, out: ["train", "--data", str(f.data / "train"), "--out", str(out)],
         2, "/train is one dataset folder (its split: train); training on it would validate on its own images",
         absent=lambda f, out: [out]),
    Case("tfrecords of another tool", lambda f, out: ["train", "--data", str(f.foreign), "--out", str(out)],
         2, "lack the feature 'image/encoded'", absent=lambda f, out: [out]),
    Case("tfrecords of another tool, preview", lambda f, out: ["data", "preview", "--data", str(f.foreign), "--out",
                                                               str(out / "p.png")], 2, "written by another tool",
         absent=lambda f, out: [out / "p.png"]),
    Case("a command's group without its command", lambda f, out: ["data"], 2,
         "the following arguments are required: COMMAND"),
    Case("photos given as their annotation file", lambda f, out: ["evaluate", str(f.model), "--photos",
                                                                   str(f.nobody / "annotations.json"), "--data", str(f.data)],
         2, "annotations.json: a file; pass the folder that holds annotations.json and the photos"),
    Case("14 joints", lambda f, out: ["evaluate", str(f.model), "--photos", str(f.fourteen), "--data", str(f.data)],
         2, "has 14 joints"),
    Case("no annotated joint", lambda f, out: ["evaluate", str(f.model), "--photos", str(f.nobody), "--data", str(f.data)],
         2, "no annotated joint"),
    Case("photo cut short", predict("{cut_photo}", "--box", "whole"), 2, "cut.jpg: not a readable image (the file is cut short)",
         absent=lambda f, out: [out]),
    Case("savedmodel cut short", lambda f, out: ["predict", "--model", str(f.cut), str(f.photo), "--box", "whole",
                                                 "--out-dir", str(out)], 2, "cut short or damaged",
         absent=lambda f, out: [out]),
    Case("unknown bvh naming, too small to read", lambda f, out: ["data", "import-bvh", str(f.bvh), "--out", str(out / "m.npz")],
         2, "--joint-map", absent=lambda f, out: [out / "m.npz"]),
    # Images that are odd but valid.
    Case("exif orientation", predict("{turned}", "--box", "whole"), 0, exists=lambda f, out: [out / "turned_pose_0.png"]),
    Case("floating-point pixels", predict("{floats}", "--box", "whole"), 2, "floating-point grey pixels have no fixed range",
         absent=lambda f, out: [out]),
    Case("extreme aspect ratio", predict("{thin}"), 2, "no person found", absent=lambda f, out: [out]),
    Case("same names, two folders", predict("{same_a}", "{same_b}", "--box", "whole"), 0,
         exists=lambda f, out: [out / "a_same_pose_0.png", out / "b_same_pose_0.png"]),
    Case("frames of several sizes", lambda f, out: predict("{mixed}", "--box", "whole", "--video-out", str(out / "v.gif"))(f, out),
         0, exists=lambda f, out: [out / "v.gif", out / "mixed_poses.jsonl"]),
    Case("fps a gif cannot play", lambda f, out: predict("{mixed}", "--box", "whole", "--fps", "1000", "--video-out",
                                                         str(out / "v.gif"))(f, out),
         2, "v.gif: a .gif is drawn at 0.01 to 100 frames a second, and the video's rate is 1000", absent=lambda f, out: [out]),
    Case("fps an mp4 cannot hold", lambda f, out: predict("{mixed}", "--box", "whole", "--fps", "0.001", "--video-out",
                                                          str(out / "v.mp4"))(f, out),
         2, "v.mp4: a .mp4 is drawn at 0.01 to 65535 frames a second", absent=lambda f, out: [out]),
    # Outputs that must not destroy anything.
    Case("video out is the input", predict("{video}", "--video-out", "{video}"), 2, "is one of the inputs",
         exists=lambda f, out: [f.video], absent=lambda f, out: [out]),
    Case("video out under a file", predict("{video}", "--video-out", "{a_file}/v.mp4"), 2, "is a file, not a folder",
         absent=lambda f, out: [out]),
    Case("video out suffix", predict("{video}", "--video-out", "{root}/v.txt"), 2, "write one of",
         absent=lambda f, out: [out]),
    Case("photo out folder is a file", lambda f, out: ["predict", "--model", str(f.model), str(f.photo), "--box", "whole",
                                                       "--out-dir", str(f.a_file)], 2, "is a file"),
    Case("photo out folder under a file", lambda f, out: ["predict", "--model", str(f.model), str(f.photo), "--box", "whole",
                                                          "--out-dir", str(f.a_file / "pictures")], 2,
         "a_file is a file, not a folder"),
    Case("photo out folder that cannot be made", lambda f, out: ["predict", "--model", str(f.model), str(f.photo),
                                                                  "--box", "whole", "--out-dir", "/proc/tfpose3d/pictures"],
         2, "--out-dir /proc/tfpose3d/pictures: nothing can be made in /proc (No such file or directory)"),
    *[Case(f"{command} output that cannot be made", argv, 2, f"--out {words}: nothing can be made in /proc")
      for command, argv, words in [
          ("train", lambda f, out: ["train", "--data", str(f.data), "--out", "/proc/tfpose3d/run"], "/proc/tfpose3d/run"),
          ("export", lambda f, out: ["export", str(f.model), "--out", "/proc/tfpose3d/s"], "/proc/tfpose3d/s/tfpose3d"),
          ("evaluate", lambda f, out: ["evaluate", str(f.model), "--data", str(f.data), "--out", "/proc/tfpose3d/e"],
           "/proc/tfpose3d/e/evaluation"),
          ("render", lambda f, out: ["data", "render", "--out", "/proc/tfpose3d/r", "--count", "2"], "/proc/tfpose3d/r"),
          ("preview", lambda f, out: ["data", "preview", "--data", str(f.data / "test"), "--out", "/proc/tfpose3d/p.png"],
           "/proc/tfpose3d/p.png"),
          ("import-bvh", lambda f, out: ["data", "import-bvh", str(f.bvh), "--out", "/proc/tfpose3d/m.npz"],
           "/proc/tfpose3d/m.npz"),
      ]],
    Case("run folder under a file", lambda f, out: ["train", "--out", str(f.a_file / "run")], 2,
         "a_file is a file, not a folder"),
    Case("export under a file", lambda f, out: ["export", str(f.model), "--out", str(f.a_file / "serving")], 2,
         "a_file is a file, not a folder"),
    Case("render under a file", lambda f, out: ["data", "render", "--out", str(f.a_file / "r"), "--count", "2"], 2,
         "a_file is a file, not a folder"),
    Case("motion set without .npz", lambda f, out: ["data", "import-bvh", str(f.bvh), "--out", str(out / "m")], 2,
         "name it m.npz", absent=lambda f, out: [out / "m", out / "m.npz"]),
    Case("motion set under a file", lambda f, out: ["data", "import-bvh", str(f.bvh), "--out", str(f.a_file / "m.npz")], 2,
         "a_file is a file, not a folder"),
    Case("missing model", lambda f, out: ["predict", "--model", str(out / "nothing.keras"), str(f.photo)], 2,
         "nothing.keras: no such model file or folder"),
    Case("another program's savedmodel", lambda f, out: ["predict", "--model", str(f.other_savedmodel), str(f.photo),
                                                         "--box", "whole", "--out-dir", str(out)], 2,
         "a SavedModel, but not a tfpose3d export", absent=lambda f, out: [out]),
    Case("another program's tflite", lambda f, out: ["predict", "--model", str(f.other_tflite), str(f.photo), "--box",
                                                     "whole", "--out-dir", str(out)], 2,
         "pose_detection.tflite: a TFLite model, but not a tfpose3d export", absent=lambda f, out: [out]),
    Case("damaged keras file", lambda f, out: ["predict", "--model", str(f.damaged), str(f.photo), "--box", "whole",
                                               "--out-dir", str(out)], 2, "damaged.keras: not a loadable Keras model",
         absent=lambda f, out: [out]),
]


@pytest.fixture(scope="module")
def files(tmp_path_factory, data_dir) -> Files:
    return Files(tmp_path_factory.mktemp("odd"), data_dir)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_odd_input(case: Case, files: Files, tmp_path: Path, capsys, monkeypatch):
    out = tmp_path / "out"
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    assert main(case.argv(files, out)) == case.status
    err = capsys.readouterr().err
    if case.status == 2:
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("tfpose3d: error:") and case.words in lines[0], err
    for path in case.exists(files, out):
        assert path.exists(), path
    for path in case.absent(files, out):
        assert not path.exists(), path


def test_the_table_counts_its_cases():
    assert len(CASES) == len({c.name for c in CASES}) >= 20


def test_what_the_odd_valid_cases_wrote(files: Files, tmp_path: Path, capsys):
    # The EXIF-turned photo is read as shown: the whole-image box is 100 wide and 40 high.
    assert main(predict("{turned}", "--box", "whole")(files, tmp_path / "t")) == 0
    assert json.loads(capsys.readouterr().out)[0]["people"][0]["box_xywh"] == [0, 0, 100, 40]
    # A box partly past the corner is clipped to the photo (90 x 120).
    assert main(predict("{photo}", "--box", "-10,-20,50,60")(files, tmp_path / "b")) == 0
    assert json.loads(capsys.readouterr().out)[0]["people"][0]["box_xywh"] == [0, 0, 40, 40]
    # Frames of three sizes: each drawn, all at one size.
    assert main(predict("{mixed}", "--box", "whole", "--video-out", str(tmp_path / "v.mp4"))(files, tmp_path / "v")) == 0
    reader = FrameReader(tmp_path / "v.mp4")
    assert reader.count == 3 and len({f.image.shape for f in reader}) == 1


def test_a_16_bit_grey_png_is_read_at_its_own_brightness(tmp_path):
    # Pillow's own RGB conversion would clip 25700 and 65535 at 255: a white image.
    grey = np.array([[0, 257, 25700], [32896, 65278, 65535]], np.uint16)
    Image.fromarray(grey).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode in ("I;16", "I")
    rgb = read_rgb(tmp_path / "g16.png")
    assert rgb.dtype == np.uint8 and rgb.shape == (2, 3, 3)
    np.testing.assert_array_equal(rgb[..., 0], [[0, 1, 100], [128, 254, 255]])
    assert (rgb == rgb[..., :1]).all()
    # A 16-bit PGM (Pillow's "I", scaled to 16 bits from its maximum 1023), by hand: 511.5 of 1023 is half.
    (tmp_path / "g10.pgm").write_bytes(b"P5\n2 1\n1023\n" + np.array([1023, 0], ">u2").tobytes())
    np.testing.assert_array_equal(read_rgb(tmp_path / "g10.pgm")[0, :, 0], [255, 0])


def test_the_size_from_the_header_is_the_size_read(files: Files):
    # Stored 40 x 100, shown turned a quarter (EXIF orientation 6).
    assert image_size(files.turned) == (100, 40) == read_rgb(files.turned).shape[1::-1]
    assert image_size(files.photo) == (90, 120)


def test_an_output_through_a_link_to_nothing_is_refused(tmp_path: Path):
    (tmp_path / "gone").symlink_to(tmp_path / "nothing")
    with pytest.raises(ValueError, match="gone is a link to nothing"):
        writable(tmp_path / "gone" / "run", "--out")
    with pytest.raises(ValueError, match="gone is a link to nothing"):
        writable(tmp_path / "gone", "--video-out", folder=False)
    assert writable(tmp_path / "new" / "run", "--out") == tmp_path / "new" / "run"  # folders made later


def test_frames_of_another_size_are_fitted_into_the_first(tmp_path):
    with FrameWriter(tmp_path / "v.mp4", 10.0) as writer:
        for shape in ((64, 48), (128, 48), (32, 96)):
            writer.write(np.full((*shape, 3), 200, np.uint8))
    frames = [f.image for f in FrameReader(tmp_path / "v.mp4")]
    assert len(frames) == 3 and {f.shape for f in frames} == {(64, 48, 3)}
    # The tall frame is scaled to 64 high and centred: black bars left and right, the picture in the middle.
    assert frames[1][:, :8].max() < 40 and frames[1][:, 20:28].min() > 150


def test_a_second_trainer_on_the_same_folder_stops(files: Files, capsys):
    args = ["--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "8", "--validation-steps", "1"]
    with run_lock(files.locked):  # another process training into it, as far as the lock can tell
        assert main(["train", "--out", str(files.locked), "--data", str(files.data), *args]) == 2
        assert "another tfpose3d train (process" in capsys.readouterr().err
        assert not (files.locked / "config.json").exists()
    assert main(["train", "--out", str(files.locked), "--data", str(files.data), *args]) == 0  # free again


def test_a_serving_client_with_nothing_listening_raises_one_documented_error():
    from tfpose3d.distribute import free_ports
    from tfpose3d.serving import ServingClient, ServingUnavailable

    rest, grpc_port = free_ports(2)
    client = ServingClient(f"http://127.0.0.1:{rest}", grpc_target=f"127.0.0.1:{grpc_port}", timeout=5)
    image = np.zeros((1, 225, 225, 3), np.uint8)
    for call, address in ((client.predict_rest, f"127.0.0.1:{rest}"), (client.predict_grpc, f"127.0.0.1:{grpc_port}")):
        with pytest.raises(ServingUnavailable, match=f"{address}.*no TensorFlow Serving answered"):
            call(image)


def test_a_serving_client_names_a_wrong_address_and_what_the_server_refused():
    from tfpose3d.serving import ServingClient

    with pytest.raises(ValueError, match=r"rest_url 'localhost:8501' needs its scheme, e.g. 'http://localhost:8501'"):
        ServingClient("localhost:8501")
    with pytest.raises(ValueError, match=r"grpc_target 'http://localhost:8500' is host:port, without http://"):
        ServingClient(grpc_target="http://localhost:8500")
    for kwargs, words in (({}, "needs rest_url"), ({"rest_url": "http://localhost:abc"}, "'http://localhost:abc': Port"),
                          ({"rest_url": "http://localhost:8501", "version": -1}, "version must be a non-negative")):
        with pytest.raises(ValueError, match=words):
            ServingClient(**kwargs)

    replies = iter([(404, b""), (404, json.dumps({"error": "Servable not found for request: Latest(pose)"}).encode()),
                    (200, b"<html>a proxy's page</html>"), (200, json.dumps({"predictions": [{"scores": [1]}]}).encode()),
                    (200, json.dumps({"predictions": []}).encode())])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            code, body = next(replies)
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = ServingClient(f"http://127.0.0.1:{server.server_port}", model_name="pose", timeout=5)
        image = np.zeros((1, 225, 225, 3), np.uint8)
        with pytest.raises(ValueError, match=r"models/pose:predict: HTTP 404 Not Found; is it the server's REST port, "
                                             r"and the model's name in models.config\?$"):
            client.predict_rest(image)
        with pytest.raises(ValueError, match=r"HTTP 404 Not Found: Servable not found for request: Latest\(pose\); is it"):
            client.predict_rest(image)
        # Replies that are not a tfpose3d export's: each named, none a bare KeyError or an empty array.
        for words in (r"the reply is not JSON: b\"<html>a proxy's page", r"got \['scores'\] \(is the server serving a "
                      r"tfpose3d export\?\)", r"output 'pose_3d' has shape \(0,\); the contract is \[N=1"):
            with pytest.raises(ValueError, match=words):
                client.predict_rest(image)
    finally:
        server.shutdown()
