"""Whole photographs end to end: the package's pipeline beside BlazePose's own, on the real dev photos.

Each row is scored on the people it finds (a person is found by the crop square that holds 80% of their
annotated joints), against the mean 2D pose of the training renders on those same people, as fractions of
each person's annotation crop (`tfpose3d.evaluate.pipeline_predictions`):

- a model on the annotation crops (the crops framed on each person's annotated joints, turned upright on
  the annotated hips and shoulders): every person, the reference the pipelines are held to;
- a model through the package's pipeline (`Predictor.predict_image`: BlazePose's detector and the part
  network, the detection's aligned crop, then a crop framed on that first pose, kept where it stays on the
  body: `predict.on_the_body`);
- BlazePose GHUM full's landmark model on the annotation crops;
- BlazePose's own pipeline as MediaPipe runs it on a photo: its detector on the whole image (score 0.5), its
  aligned region (body circle x 1.25), its landmark model on that 256 px crop;
- BlazePose's landmark model on the package's detector's regions;
- with --confident, the package's pipeline keeping, for each person, the more confident of its two
  estimates (the detection's crop, the crop from that pose; `Person.confidence`) instead of `on_the_body`'s;
- with --flip, every model row with test-time flip, and then the pipeline with and without it on the people
  both return.

Each row also counts the people it reads mirrored (left and right swapped lie nearer the annotation: the
front taken for the back), names them, and gives its figure with them swapped back
(`photo_joints.unmirrored`), beside row 0's on the same people swapped back alike: what is left is the
placement of the joints, without the left/right decision (chosen with the annotation: a bound, not a
predictor). --threshold sets the package's
detector's BlazePose score floor (people BlazePose no longer keeps are left to the part network).

Both BlazePose files come from MediaPipe's wheel (bench/blazepose_photos.py says how to extract the landmark
model; the detector is the package's own data/pose_detection.tflite).

Run: .venv/bin/python bench/photo_pipeline.py --model serving_models/tfpose3d/1 \
         --landmarks /tmp/mp/pose_landmark_full.tflite --data data/<the main job's renders> \
         [--photos ../shared/data/real-photos-dev] [--out runs/photo-pipeline] [--threshold 0.5] [--confident] [--flip]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from ai_edge_litert.interpreter import Interpreter

from tfpose3d import contract, skeleton
from tfpose3d.data.camera import Region
from tfpose3d.data.images import crop_region
from tfpose3d.data.photos import PhotoSet, training_mean_2d
from tfpose3d.data.sources import open_source
from tfpose3d.detect import SCORE_FLOOR, PersonDetector, crop_margin
from tfpose3d.evaluate import photo_report, pipeline_predictions, whole_photo
from tfpose3d.predict import Person, Predictor

from blazepose_photos import INPUT, blazepose, to_h36m  # a script beside this one
from photo_joints import unmirrored  # a script beside this one
from provenance import provenance  # a script beside this one


class Landmarks:
    """BlazePose's landmark model on a region of a photo: (17, 2) Human3.6M joints in the photo's pixels."""

    def __init__(self, path: str):
        self.interpreter = Interpreter(model_path=path, num_threads=1)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]["index"]
        self.output = {tuple(d["shape"]): d["index"] for d in self.interpreter.get_output_details()}[(1, 195)]

    def __call__(self, image: np.ndarray, region) -> np.ndarray:
        self.interpreter.set_tensor(self.input, crop_region(image, region, INPUT)[None].astype(np.float32) / 255)
        self.interpreter.invoke()
        points = self.interpreter.get_tensor(self.output).reshape(skeleton.BLAZEPOSE_LANDMARKS, 5)[: skeleton.BLAZEPOSE_BODY, :2]
        return region.from_crop(to_h36m(points[None])[0], INPUT)


def more_confident(first: Person, second: Person) -> Person:
    """Of a person's two estimates (`Predictor.both_crops`), the one whose heatmaps are surer (`Person.confidence`)."""
    return first if first.confidence > second.confidence else second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="the main job's model (any exported form)")
    parser.add_argument("--landmarks", required=True, help="pose_landmark_full.tflite from MediaPipe's wheel")
    parser.add_argument("--data", required=True, help="the training renders whose mean 2D pose is the reference")
    parser.add_argument("--photos", default="../shared/data/real-photos-dev")
    parser.add_argument("--out", default="runs/photo-pipeline", type=Path)
    parser.add_argument("--threshold", type=float, default=SCORE_FLOOR,
                        help="the lowest BlazePose score the package's detector keeps (default: the package's)")
    parser.add_argument("--flip", action="store_true",
                        help="the model's rows with test-time flip (each crop estimated mirrored too; twice the compute)")
    parser.add_argument("--confident", action="store_true",
                        help="also the pipeline keeping each person's more confident estimate of its two crops")
    args = parser.parse_args()
    for flag, path in (("--landmarks", args.landmarks),):
        if not Path(path).is_file():
            parser.error(f"{flag} {path}: no such file (see bench/blazepose_photos.py for how to extract it)")

    photos = PhotoSet.load(args.photos)
    mean_2d = training_mean_2d(open_source(args.data), contract.IMAGE_SIZE)
    ours = PersonDetector(threshold=args.threshold, threads=1)
    predictor = Predictor(args.model, threads=1, flip=args.flip, detector=ours)
    landmarks = Landmarks(args.landmarks)
    mediapipe = PersonDetector(threshold=0.5, parts=False, threads=1)
    size = contract.IMAGE_SIZE

    def regions_then_landmarks(detector: PersonDetector):
        return lambda image: [(region, landmarks(image, region))
                              for region in (d.region(crop_margin()) for d in detector(image))]

    rows = {
        "model, annotation crops": predictor(photos.crops)["joints_2d"] / size,
        "model, the package's pipeline": pipeline_predictions(photos, whole_photo(predictor)),
        "BlazePose landmarks, annotation crops": to_h36m(blazepose(args.landmarks, photos.crops)[0]),
        "BlazePose's own pipeline (its detector, whole image)": pipeline_predictions(photos, regions_then_landmarks(mediapipe)),
        "BlazePose landmarks on the package's detector's regions": pipeline_predictions(photos, regions_then_landmarks(ours)),
    }
    if args.confident:
        rows["model, the package's pipeline, the more confident of its two crops"] = pipeline_predictions(
            photos, whole_photo(predictor, more_confident))
    table = []
    for k, (name, pred) in enumerate(rows.items()):
        found = np.isfinite(pred).all((1, 2))
        report = photo_report(photos.subset(found), pred[found], mean_2d, args.out / f"row{k}", name).set_index("predictor")
        model, mean = report.loc["model"], report.loc["mean 2D pose"]
        # The people a pipeline finds are not all 18: row 0 (the model on annotation crops) on the same people
        # is what its own figure is held to.
        same = photos.subset(found)
        swapped_back, mirrored = unmirrored(same, pred[found])
        reference_back, _ = unmirrored(same, rows["model, annotation crops"][found])
        table.append({"row": k, "predictor": name, "people found": f"{found.sum()} of {len(found)}",
                      "2D error (of crop side)": model["2D error (of crop side)"],
                      "mean 2D pose's, same people": mean["2D error (of crop side)"],
                      "vs mean 2D": model["2D error (of crop side)"] / mean["2D error (of crop side)"],
                      "row 0 on the same people, vs mean 2D": same.score(rows["model, annotation crops"][found])["2D error"]
                      / same.score(mean_2d[None])["2D error"],
                      "PCK@0.1": model["PCK@0.1"],
                      "people read mirrored": int(mirrored.sum()),
                      "which (photos.png tiles of row 0)": " ".join(map(str, np.flatnonzero(found)[mirrored])) or "-",
                      "vs mean 2D, those swapped back": same.score(swapped_back)["2D error"] / mean["2D error (of crop side)"],
                      "row 0 on the same people, its own swapped back": same.score(reference_back)["2D error"]
                      / mean["2D error (of crop side)"]})
    print(provenance(f"model {args.model}; pictures under {args.out}") + "\n")
    print(pd.DataFrame(table).to_markdown(index=False, floatfmt=".3f"))
    if args.flip:
        # The flip changes whom the pipeline returns, so the two are compared on the people both return.
        plain = pipeline_predictions(photos, whole_photo(Predictor(args.model, threads=1, detector=ours)))
        flipped = rows["model, the package's pipeline"]
        both = np.isfinite(plain).all((1, 2)) & np.isfinite(flipped).all((1, 2))
        same = photos.subset(both)
        mean = same.score(mean_2d[None])["2D error"]
        print(f"\nThe package's pipeline on the {both.sum()} people it returns with and without the flip, vs mean 2D: "
              f"{same.score(plain[both])['2D error'] / mean:.3f} without, {same.score(flipped[both])['2D error'] / mean:.3f} with")


if __name__ == "__main__":
    main()
