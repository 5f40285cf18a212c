"""Evaluation: the Human3.6M protocol tables (MPJPE, P-MPJPE, PCK) and example figures."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np
import pandas as pd

from tfpose3d import contract, metrics, skeleton
from tfpose3d.config import read_run
from tfpose3d.data import render
from tfpose3d.data.camera import Region
from tfpose3d.data.images import read_rgb
from tfpose3d.data.photos import PhotoSet, found_people
from tfpose3d.data.sources import MocapSource, RecordsSource, Source, open_source
from tfpose3d.detect import crop_margin
from tfpose3d.estimator import Pose3DEstimator, flip_test_model, load_model
from tfpose3d.paths import writable

if TYPE_CHECKING:
    from tfpose3d.predict import Person, Predictor


def run_source(run: str | os.PathLike) -> Source:
    """The data a run was trained against, from its config.json."""
    saved = read_run(run)
    if saved is None:
        raise ValueError(f"{run} is not a run folder with config.json; pass --data")
    source = open_source(saved[0]["data"], saved[1].render_options)
    # Where the run's images lie, whatever the working folder: a rendered motion set renders there the splits
    # it lacks (training renders no test split), and a folder of records is read there.
    at = saved[0].get("data_at")
    if at and isinstance(source, MocapSource) and Path(at).parent.is_dir():
        source = open_source(saved[0]["data"], dataclasses.replace(saved[1].render_options, root=Path(at).parent))
    elif at and isinstance(source, RecordsSource) and Path(at).is_dir():
        source = RecordsSource(at, saved[1].render_options)
    renderer = saved[0].get("renderer")
    if isinstance(source, MocapSource) and renderer != render.VERSION:
        # Rendering its data again would draw other images than the run trained on, silently.
        raise ValueError(f"{run} was trained on images of {'renderer ' + renderer if renderer else 'an earlier renderer'}; "
                         f"this tfpose3d renders {render.VERSION}: pass --data with the run's rendered data folder")
    return source


def predict_dataset(model: Pose3DEstimator, source: Source, batch_size: int = 64, flip: bool = False) -> dict[str, np.ndarray]:
    """Run the model (with test-time flip if `flip`) over every test sample; return predictions next to the truth."""
    net = flip_test_model(model) if flip else model
    collected: dict[str, list] = {k: [] for k in ("pose_3d", "joints_2d", "true_3d", "true_2d", "action", "image")}
    for batch in source.samples("test", model.config.image_size).batch(batch_size).as_numpy_iterator():
        out = net.predict_on_batch(batch["image"].astype(np.float32))
        collected["pose_3d"].append(out["pose_3d"])
        collected["joints_2d"].append(out["joints_2d"])
        collected["true_3d"].append(batch["joints_3d"])
        collected["true_2d"].append(batch["joints_2d"])
        collected["action"].append(batch["action"].astype(str))
        if not collected["image"]:
            collected["image"].append(batch["image"][:8])  # a few inputs for the example figure
    if not collected["pose_3d"]:
        raise ValueError(f"{source.spec}: no test samples")
    return {k: np.concatenate(v) for k, v in collected.items()}


def examples_figure(pred: dict[str, np.ndarray], path: str | os.PathLike, count: int = 4) -> None:
    """Image with predicted 2D joints, and predicted vs true 3D skeletons, per example."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from tfpose3d import viz

    count = min(count, len(pred["image"]))
    fig = plt.figure(figsize=(9, 3 * count))
    for i in range(count):
        ax = fig.add_subplot(count, 3, 3 * i + 1)
        ax.imshow(viz.draw_skeleton_2d(pred["image"][i], pred["joints_2d"][i]))
        ax.set_title("input + predicted 2D", fontsize=9)
        ax.axis("off")
        for k, (key, title) in enumerate((("pose_3d", "predicted 3D"), ("true_3d", "true 3D"))):
            ax = fig.add_subplot(count, 3, 3 * i + 2 + k, projection="3d")
            viz.plot_skeleton_3d(ax, metrics.align_root(pred[key][i]))
            ax.set_title(title, fontsize=9)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.text(0.5, 0.01, viz.SIDES, ha="center", fontsize=8)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def evaluation_dir(model_path: str | os.PathLike, out_dir: str | os.PathLike | None = None) -> Path:
    """Where a model's evaluation goes: `out_dir`/evaluation, else beside the model (in a run folder, inside it)."""
    path = Path(model_path)
    return writable((Path(out_dir) if out_dir else path if path.is_dir() else path.parent) / "evaluation", "--out")


def evaluate_photos(model_path: str | os.PathLike, folder: str | os.PathLike, mean_2d: np.ndarray,
                    out_dir: str | os.PathLike, flip: bool = False, crops: str = "annotation") -> pd.DataFrame:
    """2D error on real photographs, for a run folder or any exported form, against always answering `mean_2d`.

    Errors are fractions of the annotation crop's side over the annotated joints; PCK counts joints within 10%
    of it. `mean_2d` (17, 2) is the mean training-render 2D pose as a fraction of the image side. `crops`:
    "annotation" feeds the model the crops framed on each person's annotated joints; "detector" runs the
    whole pipeline on the whole photos (`Predictor.predict_image`: detector, aligned crops, a second crop from
    the first pose where it stays on the body) and scores the people it finds, beside the mean 2D pose on the same people. Writes
    photos.md, photos.csv and photos.png (predictions over each annotation crop) into `out_dir`.
    """
    from tfpose3d.predict import Predictor

    photos = PhotoSet.load(folder)
    predictor = Predictor(model_path, flip=flip)
    if crops == "annotation":
        pred = predictor(photos.crops)["joints_2d"] / contract.IMAGE_SIZE
        return photo_report(photos, pred, mean_2d, out_dir, f"{model_path} on the photos in {folder}")
    if crops != "detector":
        raise ValueError(f"crops {crops!r}: expected 'annotation' or 'detector'")
    pred = pipeline_predictions(photos, whole_photo(predictor))
    found = np.isfinite(pred).all((1, 2))
    if not found.any():
        raise ValueError(f"{folder}: the detector's pipeline found none of the {len(found)} annotated people, so "
                         "there is nothing to score; --crops annotation scores the model on every one")
    subset = photos.subset(found)
    table = photo_report(subset, pred[found], mean_2d, out_dir,
                         f"{model_path} on the photos in {folder}, from the detector's crops: "
                         f"{found.sum()} of {len(found)} people found")
    table["people in photos"] = len(found)
    return table


def whole_photo(predictor: Predictor, choose: Callable[[Person, Person], Person] | None = None
                ) -> Callable[[np.ndarray], list[tuple[Region, np.ndarray]]]:
    """The package's photo pipeline (`Predictor.predict_image`, its `choose` between each person's two
    estimates) in the form `pipeline_predictions` reads: the region the detector found each person in, and
    their joints in the photo's pixels."""
    return lambda image: [(p.box.region(crop_margin()), p.joints_2d) for p in predictor.predict_image(image, choose=choose)]


def pipeline_predictions(photos: PhotoSet, pipeline: Callable[[np.ndarray], list[tuple[Region, np.ndarray]]]) -> np.ndarray:
    """(N, 17, 2) the joints a whole-photo `pipeline` gives each annotated person, as fractions of that person's
    annotation crop side (so they score as `PhotoSet.score` scores crops); NaN for people it does not find.

    `pipeline(image)` returns (region, joints_2d in image pixels) per person found; the region and the torso
    of those joints say whom it found (`photos.found_people`).
    """
    pred = np.full_like(photos.joints_2d, np.nan)
    size = contract.IMAGE_SIZE
    for image in dict.fromkeys(p["image"] for p in photos.people):
        index = [i for i, p in enumerate(photos.people) if p["image"] == image]
        people = pipeline(read_rgb(image))
        match = found_people([photos.people[i] for i in index], [region for region, _ in people],
                             [np.stack(skeleton.torso_ends(joints)) for _, joints in people])
        for i, k in zip(index, match):
            if k is not None:
                pred[i] = photos.regions[i].into_crop(people[k][1], size) / size
    return pred


BLANK_GREY = 48  # the background of photos_skeletons.png


def photo_report(photos: PhotoSet, pred: np.ndarray, mean_2d: np.ndarray, out_dir: str | os.PathLike,
                 title: str) -> pd.DataFrame:
    """The tables and picture of `evaluate_photos` for any predictor's 2D joints `pred` (N, 17, 2; fractions of
    the crop side) on `photos`: photos.md (headed `title`), photos.csv, photos_per_joint.csv,
    photos_per_person.csv (in the order of photos.png's tiles), photos.png and photos_skeletons.png (the same
    skeletons without the photographs)."""
    from tfpose3d import viz

    size = contract.IMAGE_SIZE
    rows = [{"predictor": name, **photos.score(guess), "people": len(photos.people)}
            for name, guess in (("model", pred), ("mean 2D pose", mean_2d[None]))]
    table = pd.DataFrame(rows).rename(columns={"2D error": "2D error (of crop side)"})
    table = table[["predictor", "2D error (of crop side)", "PCK@0.1", "people", "joints"]]
    table["vs mean 2D"] = table["2D error (of crop side)"] / table["2D error (of crop side)"].iloc[1]
    # Per joint: where the model beats the average pose and where it does not; per person: which people a
    # change helps and which it costs.
    annotated = np.isfinite(photos.joints_2d).all(-1)
    count = np.maximum(annotated.sum(0), 1)
    model, mean = photos.distances(pred), photos.distances(mean_2d[None])
    per_joint = pd.DataFrame({"joint": skeleton.JOINT_NAMES, "model": np.nansum(model, 0) / count,
                              "mean 2D pose": np.nansum(mean, 0) / count, "annotated": annotated.sum(0)})
    per_person = pd.DataFrame({"image": [Path(p["image"]).name for p in photos.people],
                               "model": np.nanmean(model, 1), "mean 2D pose": np.nanmean(mean, 1),
                               "annotated": annotated.sum(1)})
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "photos.csv", index=False)
    per_joint[per_joint["annotated"] > 0].to_csv(out / "photos_per_joint.csv", index=False)
    per_person.to_csv(out / "photos_per_person.csv", index_label="tile")
    (out / "photos.md").write_text(f"# {title}\n\n{table.to_markdown(index=False, floatfmt='.3g')}\n")
    # The same skeletons on grey as well: the photographs' datasets keep them out of the repository, so only
    # this picture can go in docs/.
    blank = np.full_like(photos.crops[0], BLANK_GREY)
    for name, backgrounds in (("photos.png", photos.crops), ("photos_skeletons.png", [blank] * len(pred))):
        tiles = [viz.draw_skeleton_2d(c, p * size, truth=t * size) for c, p, t in zip(backgrounds, pred, photos.joints_2d)]
        viz.grid(tiles, 6, f"{viz.SIDES}; white rings: the annotated joints").save(out / name)
    return table


def evaluate(model_path: str | os.PathLike, source: Source, out_dir: str | os.PathLike | None = None,
             flip: bool = False) -> dict[str, pd.DataFrame]:
    """Evaluate on the source's test split (with test-time flip if `flip`); write evaluation.{csv,md},
    per-action/per-joint CSVs and examples.png."""
    out = evaluation_dir(model_path, out_dir)  # a folder that cannot be written is named before the predictions
    model = load_model(model_path)
    source.check(("test",))
    pred = predict_dataset(model, source, flip=flip)
    result = metrics.tables(pred, model.config.image_size)
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in result.items():
        frame.to_csv(out / f"{name}.csv", index=False)
    md = "\n\n".join(f"## {name.replace('_', ' ')}\n\n{frame.to_markdown(index=False, floatfmt='.3g')}" for name, frame in result.items())
    (out / "evaluation.md").write_text(f"# Evaluation of {model_path} on {source.spec}\n\n{md}\n")
    (out / "summary.json").write_text(json.dumps(result["summary"].to_dict(orient="records"), indent=2))
    examples_figure(pred, out / "examples.png")
    return result
