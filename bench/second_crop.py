"""How far the pipeline's second crop moves a person, and when the first estimate is kept (`predict.slid_off`).

`Predictor.predict_image` estimates each person found twice: in the detection's aligned crop, then in the crop
framed on that first pose, as the training renders are framed. The second crop can reach onto a neighbour or
a partner and end on that body; where it moves the torso (the middles of the hips and shoulders) by more than
`predict.SLIDE` of the first body's size, the first estimate is kept (`predict.on_the_body`).

1. Held-out renders (one person each, through the detector): how far the second crop moves the torso when
   nothing else is in the picture, and the 2D error (crop pixels) of each estimate.
2. The real dev photos: each annotated person found, the move, which estimate the package keeps, and each
   estimate's 2D error (a fraction of the annotation crop side, as `tfpose3d evaluate --photos` scores).
3. The pipeline on the dev photos keeping always the first, always the second, or as the package does: people
   found and the 2D error against the mean 2D pose of the training renders on the same people.

Run: .venv/bin/python bench/second_crop.py --model serving_models/tfpose3d/1 \
         --data data/<the main job's renders> [--photos ../shared/data/real-photos-dev] [--renders 400]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from tfpose3d import contract, skeleton
from tfpose3d.data.images import read_rgb
from tfpose3d.data.photos import PhotoSet, found_people, training_mean_2d
from tfpose3d.data.sources import open_source
from tfpose3d.detect import crop_margin
from tfpose3d.evaluate import pipeline_predictions, whole_photo
from tfpose3d.predict import SLIDE, Predictor, on_the_body, torso_move

from provenance import provenance  # a script beside this one


def renders(predictor: Predictor, data: str, count: int) -> pd.DataFrame:
    rows = []
    for sample in open_source(data).samples("test", contract.IMAGE_SIZE).take(count).as_numpy_iterator():
        image, truth = sample["image"], sample["joints_2d"]
        boxes = predictor.detect(image)[:1]
        if not boxes:
            rows.append({"found": False})
            continue
        (first,), (second,) = predictor.both_crops(image, boxes)
        error = {name: float(np.linalg.norm(p.joints_2d - truth, axis=-1).mean()) for name, p in
                 (("first", first), ("second", second))}
        rows.append({"found": True, "move": torso_move(first.joints_2d, second.joints_2d), **error})
    return pd.DataFrame(rows)


def photos_moves(predictor: Predictor, photos: PhotoSet) -> pd.DataFrame:
    size, rows = contract.IMAGE_SIZE, []
    for image in dict.fromkeys(p["image"] for p in photos.people):
        index = [i for i, p in enumerate(photos.people) if p["image"] == image]
        picture = read_rgb(image)
        boxes = predictor.detect(picture)
        if not boxes:
            continue
        first, second = predictor.both_crops(picture, boxes)
        match = found_people([photos.people[i] for i in index], [p.box.region(crop_margin()) for p in first],
                             [np.stack(skeleton.torso_ends(p.joints_2d)) for p in first])
        for i, k in zip(index, match):
            if k is None:
                continue
            error = {name: float(np.nanmean(np.linalg.norm(
                photos.regions[i].into_crop(p.joints_2d, size) / size - photos.joints_2d[i], axis=-1)))
                for name, p in (("first", first[k]), ("second", second[k]))}
            rows.append({"person": i, "image": Path(image).name[:28],
                         "move": torso_move(first[k].joints_2d, second[k].joints_2d),
                         "kept": "first" if on_the_body(first[k], second[k]) is first[k] else "second",
                         "2D error, first": error["first"], "2D error, second": error["second"]})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="the main job's model (any exported form)")
    parser.add_argument("--data", required=True, help="the main job's renders: held-out renders and the mean 2D pose")
    parser.add_argument("--photos", default="../shared/data/real-photos-dev")
    parser.add_argument("--renders", type=int, default=400, help="how many held-out renders")
    args = parser.parse_args()
    predictor = Predictor(args.model, threads=1)
    print(provenance(f"bench/second_crop.py --model {args.model} --renders {args.renders}; SLIDE = {SLIDE}"))

    seen = renders(predictor, args.data, args.renders)
    found = seen[seen["found"]]
    print(f"\n1. {len(found)} of {len(seen)} held-out renders found. The second crop's move of the torso, of the body's "
          f"size: median {found['move'].median():.3f}, 99% within {found['move'].quantile(0.99):.3f}, largest "
          f"{found['move'].max():.3f}; {int((found['move'] > SLIDE).sum())} over {SLIDE}. 2D error (crop px): "
          f"first {found['first'].mean():.2f}, second {found['second'].mean():.2f}.")

    photos = PhotoSet.load(args.photos)
    print(f"\n2. The dev photos' people the first estimates find ({args.photos}):\n")
    print(photos_moves(predictor, photos).to_markdown(index=False, floatfmt=".3f"))

    mean_2d = training_mean_2d(open_source(args.data), contract.IMAGE_SIZE)

    preds = {name: pipeline_predictions(photos, whole_photo(predictor, choose)) for name, choose in (
        ("always the first", lambda first, second: first), ("always the second", lambda first, second: second),
        ("the package (`on_the_body`: the first where the second slid off)", None))}
    hits = {name: np.isfinite(pred).all((1, 2)) for name, pred in preds.items()}
    everyone = np.logical_and.reduce(list(hits.values()))
    rows = []
    for name, pred in preds.items():
        hit = hits[name]
        ours, mean = photos.subset(hit).score(pred[hit]), photos.subset(hit).score(mean_2d[None])
        common = photos.subset(everyone)
        rows.append({"pipeline": name, "people found": f"{hit.sum()} of {len(hit)}", "2D error": ours["2D error"],
                     "mean 2D pose's": mean["2D error"], "vs mean 2D": ours["2D error"] / mean["2D error"],
                     "PCK@0.1": ours["PCK@0.1"], f"vs mean 2D, the {everyone.sum()} all three find":
                     common.score(pred[everyone])["2D error"] / common.score(mean_2d[None])["2D error"]})
    print("\n3. The pipeline on the dev photos:\n")
    print(pd.DataFrame(rows).to_markdown(index=False, floatfmt=".3f"))


if __name__ == "__main__":
    main()
