"""The main job beside MediaPipe's BlazePose GHUM full on the same crops, in 2D and 3D: one table.

- Held-out renders (the test split of --data: bodies and motions the model never saw), each crop fed to
  both: 2D error as a fraction of the crop side against the mean 2D pose of the training renders; 3D
  MPJPE with the pelvises together, P-MPJPE (after a similarity alignment), MPJPE over the 12 limb joints
  (shoulders, elbows, wrists, hips, knees, ankles); bone lengths (metric size): the mean relative error of
  each of the 16 bones and the share of people whose every limb bone is within 10% of the truth.
- Real dev photographs, annotation crops (turned upright on the annotated torso): 2D only (no 3D truth).
- Per bone, on the renders: the relative error of each bone's length, beside how much that bone varies
  between the held-out people (its standard deviation over its mean), a skeleton of the average lengths for
  everyone, and both rescaled to each person's true size (the limb bones' total length): what is left there
  is the proportions, the rest is the person's overall size, which a crop framed on the body hardly shows
  (a tall person far away looks like a short one near).
- Per kind of body, on the renders: short and tall, slim and heavy (the fifths at either end of
  stature and of MakeHuman's weight modifier), women and men. Each record's body is drawn again from the
  dataset's seeded stream (`tfpose3d.data.render.draw`) and matched to the record on the bones whose length
  no pose changes. Beside the predictors, each person given their sex's average skeleton: what knowing the
  sex alone would give; and how well each one's bone lengths tell women from men.
- With --flip, also the main job with test-time flip (the mirrored crop estimated too and averaged in): a
  row, and a column of the bone table.

BlazePose's 33 landmarks, 2D and its metric world landmarks alike, go to Human3.6M's 17 joints as
bench/blazepose_photos.py maps them (pelvis and thorax the middles of the hips and shoulders, spine half way,
neck at the nose, head above the ears). Its world landmarks are in metres, x right, y down, z away from the
camera, as the camera axes of the renders; they are scaled to millimetres.

Run: cd bench && ../.venv/bin/python versus_blazepose.py --model ../serving_models/tfpose3d/1 \
         --landmarks /tmp/mp/pose_landmark_full.tflite --data ../data/bandai-namco-mesh-4-plain-20000-2000-s0 \
         [--renders 500] [--photos ../../shared/data/real-photos-dev] [--flip] [--also ../runs/NAME/model.keras]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from ai_edge_litert.interpreter import Interpreter

from tfpose3d import contract, metrics, skeleton
from tfpose3d.data import body, records, render
from tfpose3d.data.photos import PhotoSet, training_mean_2d
from tfpose3d.data.sources import open_source
from tfpose3d.predict import Predictor

from blazepose_photos import blazepose_input, to_h36m  # a script beside this one
from provenance import provenance  # a script beside this one

LIMBS = [skeleton.JOINT_INDEX[name] for name in skeleton.BLAZEPOSE_SAME]
# The 8 bones between the 12 limb joints: thighs, shins, upper arms and forearms.
LIMB_BONES = [k for k, (a, b) in enumerate(skeleton.BONES) if a in LIMBS and b in LIMBS]


# Bones whose two joints ride one bone of the rig, so that their length is the rest body's in every pose.
RIGID_BONES = [skeleton.BONES.index((skeleton.JOINT_INDEX[a], skeleton.JOINT_INDEX[b])) for a, b in (
    ("pelvis", "r_hip"), ("pelvis", "l_hip"), ("r_knee", "r_ankle"), ("l_knee", "l_ankle"),
    ("l_elbow", "l_wrist"), ("r_elbow", "r_wrist"))]


def blazepose(path: str, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, 17, 2) joints as fractions of the crop side and (N, 17, 3) world joints in mm, pelvis at the origin."""
    interpreter = Interpreter(model_path=path, num_threads=1)
    interpreter.allocate_tensors()
    index = interpreter.get_input_details()[0]["index"]
    outputs = {tuple(d["shape"]): d["index"] for d in interpreter.get_output_details()}
    flat, world = [], []
    for crop in crops:
        interpreter.set_tensor(index, blazepose_input(crop)[None])
        interpreter.invoke()
        flat.append(interpreter.get_tensor(outputs[(1, 195)]).reshape(skeleton.BLAZEPOSE_LANDMARKS, 5)[: skeleton.BLAZEPOSE_BODY, :2] / blazepose_input(crop).shape[0])
        world.append(interpreter.get_tensor(outputs[(1, 117)]).reshape(skeleton.BLAZEPOSE_LANDMARKS, 3)[: skeleton.BLAZEPOSE_BODY] * 1000.0)
    return to_h36m(np.stack(flat)), metrics.align_root(to_h36m(np.stack(world)))


def size(lengths: np.ndarray) -> np.ndarray:
    """(N,) a person's size: the limb bones' total of (N, 16) bone lengths."""
    return lengths[:, LIMB_BONES].sum(1)


def bone_scores(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """Bone lengths `pred` against `true` (N, 16): the mean relative error of a bone, the share of people whose
    every limb bone is within 10%, and how well their size follows the truth (Pearson r; none for one size)."""
    relative = np.abs(pred / true - 1)
    # Sizes equal but for rounding have no correlation to speak of.
    varies = np.ptp(size(pred)) > 1e-6 * size(pred).mean()
    return {"bone error (of length)": float(relative.mean()),
            "people with every limb bone within 10%": float((relative[:, LIMB_BONES] <= 0.1).all(1).mean()),
            "size (limb bones' total) vs the truth, r": float(np.corrcoef(size(pred), size(true))[0, 1]) if varies else np.nan}


def bodies(data_dir: str, true_3d: np.ndarray) -> list[body.Body]:
    """The body behind each record of the rendered split `data_dir` whose poses are `true_3d` (N, 17, 3), at rest:
    every body of the split's seeded stream is drawn again and matched to the record on the rigid bones."""
    manifest = records.read_manifest(data_dir)
    model = body.default_model()
    drawn = [model.body(render.draw(manifest["seed"], i, manifest["frames_in_split"])[2]) for i in range(manifest["count"])]
    rest = metrics.bone_lengths(np.stack([b.joints for b in drawn]).astype(np.float64))[:, RIGID_BONES]
    true = metrics.bone_lengths(true_3d)[:, RIGID_BONES]
    match, worst = [], 0.0
    for start in range(0, len(true), 128):  # a block of records against every body: bounded memory
        off = np.abs(rest[None] / true[start : start + 128, None] - 1).max(-1)
        match.append(off.argmin(1))
        worst = max(worst, float(off.min(1).max()))
    if worst > 1e-3:
        raise ValueError(f"{data_dir}: some records match no body of the seeded stream (another renderer's data?)")
    return [drawn[i] for i in np.concatenate(match)]


def body_groups(people: list[body.Body]) -> dict[str, np.ndarray]:
    """Masks of `people` by kind of body: everyone, the fifths at either end of stature (the rest mesh's height)
    and of MakeHuman's weight modifier, women and men."""
    stature = np.array([np.ptp(b.vertices[:, 1]) for b in people])
    weight, sex = (np.array([getattr(b.shape, field) for b in people]) for field in ("weight", "sex"))
    groups = {"everyone": np.ones(len(people), bool)}
    for name, values, (low, high) in (("stature", stature, ("short", "tall")), ("weight", weight, ("slim", "heavy"))):
        lo, hi = np.quantile(values, [0.2, 0.8])
        groups[f"{low} (lowest fifth of {name})"] = values <= lo
        groups[f"{high} (highest fifth of {name})"] = values >= hi
    groups["women"], groups["men"] = sex < 0.5, sex >= 0.5
    return groups


def logistic(train: np.ndarray, women: np.ndarray, test: np.ndarray, ridge: float = 1.0) -> np.ndarray:
    """Whether each of `test` (M, F) is a woman, by a logistic regression on standardised features fitted
    to `train` (N, F) and `women` (N,) bool (Newton's method, a ridge)."""
    mean, scale = train.mean(0), train.std(0) + 1e-9
    a, w = np.c_[(train - mean) / scale, np.ones(len(train))], np.zeros(train.shape[1] + 1)
    for _ in range(50):
        p = 1 / (1 + np.exp(-a @ w))
        w -= np.linalg.solve((a * (p * (1 - p))[:, None]).T @ a + ridge * np.eye(len(w)), a.T @ (p - women) + ridge * w)
    return np.c_[(test - mean) / scale, np.ones(len(test))] @ w > 0


def sex_told(lengths: np.ndarray, women: np.ndarray, folds: int = 5) -> float:
    """The share of people whose sex a logistic regression on the log bone lengths `lengths` (N, 16) tells
    right, fitted on the other folds of the same people."""
    x = np.log(lengths)
    fold = np.arange(len(x)) % folds
    right = sum(int((logistic(x[fold != k], women[fold != k], x[fold == k]) == women[fold == k]).sum())
                for k in range(folds))
    return right / len(x)


def body_table(predictions: dict[str, np.ndarray], true: np.ndarray, groups: dict[str, np.ndarray]) -> pd.DataFrame:
    """For each group of people, each of `predictions` (bone lengths, N x 16) against the poses `true`: the share
    of people with every limb bone within 10%, the mean relative error of the group's worst limb bone (a bone's
    error averaged over the group's people first), and the mean of predicted over true size."""
    lengths = metrics.bone_lengths(true)
    rows = []
    for group, mask in groups.items():
        row = {"people": group, "count": int(mask.sum()), "true size (mm)": float(size(lengths[mask]).mean())}
        for name, pred in predictions.items():
            row[f"{name}: within 10%"] = bone_scores(pred[mask], lengths[mask])["people with every limb bone within 10%"]
            row[f"{name}: worst limb bone's mean error"] = float(
                np.abs(pred[mask] / lengths[mask] - 1)[:, LIMB_BONES].mean(0).max())
            row[f"{name}: size / true"] = float((size(pred[mask]) / size(lengths[mask])).mean())
        rows.append(row)
    return pd.DataFrame(rows)


def scores_3d(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    pred, true = metrics.align_root(pred), metrics.align_root(true)
    bones = bone_scores(metrics.bone_lengths(pred), metrics.bone_lengths(true))
    return {"MPJPE (mm)": metrics.mpjpe(pred, true), "P-MPJPE (mm)": metrics.p_mpjpe(pred, true),
            "limb MPJPE (mm)": float(metrics.joint_errors(pred, true)[:, LIMBS].mean()),
            "bone error (of length)": bones["bone error (of length)"],
            "people with every limb bone within 10%": bones["people with every limb bone within 10%"]}


def bone_table(predictions: dict[str, np.ndarray], true: np.ndarray) -> pd.DataFrame:
    """Per bone, the mean relative error of its length for each of `predictions` (bone lengths, N x 16) against
    the poses `true` (N, 17, 3); then the share of people whose every limb bone is within 10%, and how well
    the person's size (the limb bones' total length) follows the truth (Pearson r)."""
    names = [f"{skeleton.JOINT_NAMES[a]}-{skeleton.JOINT_NAMES[b]}" for a, b in skeleton.BONES]
    lengths = metrics.bone_lengths(true)
    table = {"held-out people's spread (sd / mean)": np.append(lengths.std(0) / lengths.mean(0), [np.nan, np.nan])}
    for name, pred in predictions.items():
        scores = bone_scores(pred, lengths)
        table[name] = np.append(np.abs(pred / lengths - 1).mean(0), [scores["people with every limb bone within 10%"],
                                                                     scores["size (limb bones' total) vs the truth, r"]])
    return pd.DataFrame(table, index=[*names, "people with every limb bone within 10%",
                                      "size (limb bones' total) vs the truth, r"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="the main job's model (any exported form)")
    parser.add_argument("--landmarks", required=True, help="pose_landmark_full.tflite from MediaPipe's wheel")
    parser.add_argument("--data", required=True, help="the main job's rendered data (its test split is scored)")
    parser.add_argument("--renders", type=int, default=500)
    parser.add_argument("--photos", default="../shared/data/real-photos-dev")
    parser.add_argument("--also", nargs="+", default=[], metavar="MODEL",
                        help="other models beside the main job, each named by its run folder (runs/NAME/model.keras)")
    parser.add_argument("--flip", action="store_true", help="also the main job with test-time flip (two estimates "
                                                            "a crop): a row, and a column of the bone table")
    args = parser.parse_args()

    source = open_source(args.data)
    side = contract.IMAGE_SIZE
    mean_2d = training_mean_2d(source, side)
    samples = list(source.samples("test", side).take(args.renders).as_numpy_iterator())
    crops = np.stack([s["image"] for s in samples])
    true_2d = np.stack([s["joints_2d"] for s in samples]) / side
    true_3d = np.stack([s["joints_3d"] for s in samples]).astype(np.float64)
    photos = PhotoSet.load(args.photos)
    ours = {"main job": Predictor(args.model, threads=1)}
    if args.flip:
        ours["main job, test-time flip"] = Predictor(args.model, threads=1, flip=True)
    for path in args.also:
        ours[Path(path).parent.name if path.endswith(".keras") else path] = Predictor(path, threads=1)

    def error_2d(pred: np.ndarray, truth: np.ndarray) -> float:
        return float(np.nanmean(np.linalg.norm(pred - truth, axis=-1)))

    rows = []
    renders = {name: predictor(crops) for name, predictor in ours.items()}
    theirs_2d, theirs_3d = blazepose(args.landmarks, crops)
    photo_theirs = blazepose(args.landmarks, photos.crops)[0]
    for name, render_2d, render_3d, photo_2d in (
            *((name, renders[name]["joints_2d"] / side, renders[name]["pose_3d"],
               predictor(photos.crops)["joints_2d"] / side) for name, predictor in ours.items()),
            ("BlazePose GHUM full", theirs_2d, theirs_3d, photo_theirs),
            ("mean pose (2D: the training renders'; 3D: these renders' own)", np.broadcast_to(mean_2d, true_2d.shape),
             np.broadcast_to(metrics.mean_pose(true_3d), true_3d.shape), np.broadcast_to(mean_2d, photos.joints_2d.shape))):
        rows.append({"predictor": name,
                     "renders 2D / mean 2D": error_2d(render_2d, true_2d) / error_2d(mean_2d, true_2d),
                     **scores_3d(np.asarray(render_3d, np.float64), true_3d),
                     "photos 2D / mean 2D": error_2d(photo_2d, photos.joints_2d) / error_2d(mean_2d, photos.joints_2d)})
    print(provenance(f"{len(samples)} held-out renders of {args.data}; {len(photos.people)} people in {args.photos}")
          + "\n")
    print(pd.DataFrame(rows).to_markdown(index=False, floatfmt=".3g"))

    true_bones = metrics.bone_lengths(true_3d)
    print("\nBone lengths on the renders, mean relative error per bone:\n")
    average = np.broadcast_to(true_bones.mean(0), true_bones.shape)
    groups = body_groups(bodies(str(source.dataset_dir("test")), true_3d))
    by_sex = np.where(groups["women"][:, None], true_bones[groups["women"]].mean(0), true_bones[groups["men"]].mean(0))
    columns = {"average lengths for everyone": average,
               "each sex's average lengths": by_sex,
               "average proportions at each person's true size": average * (size(true_bones) / size(average))[:, None]}
    for name, outputs in renders.items():
        bones = metrics.bone_lengths(np.asarray(outputs["pose_3d"], np.float64))
        columns[name] = bones
        columns[f"{name} at each person's true size"] = bones * (size(true_bones) / size(bones))[:, None]
    columns["BlazePose GHUM full"] = metrics.bone_lengths(theirs_3d)
    print(bone_table(columns, true_3d).to_markdown(floatfmt=".3f"))

    print("\nBy kind of body, on the renders:\n")
    kinds = {name: columns[name] for name in ("average lengths for everyone", "each sex's average lengths", *renders,
                                              "BlazePose GHUM full")}
    print(body_table(kinds, true_3d, groups).to_markdown(index=False, floatfmt=".3f"))
    told = {"true lengths": true_bones, **{name: columns[name] for name in (*renders, "BlazePose GHUM full")}}
    print("\nSex told from the bone lengths (logistic regression on their logs, 5-fold): "
          + ", ".join(f"{name} {sex_told(lengths, groups['women']):.3f}" for name, lengths in told.items()))


if __name__ == "__main__":
    main()
