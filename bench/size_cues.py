"""What a person's size (metric bone lengths) can be read from, on held-out renders: one table.

Each row gives every held-out person 16 bone lengths and is scored as bench/versus_blazepose.py scores bones:
the mean relative error of a bone, the share of people whose every limb bone is within 10%, and how well the
size (the total of the 8 limb bones: thighs, shins, upper arms, forearms) follows the truth (Pearson r). The
rows:

- the training renders' average skeleton for everyone (no cue at all);
- each person's exact proportions (bone lengths over their size) at the training renders' average size;
- each person's exact proportions at a size read from those proportions, or from the share of the head bone
  alone (neck to head: in the renders both lie on the line from the thorax to the crown), by least squares
  on the log-lengths of the training renders;
- bone lengths read from the proportions (least squares on log shares, fitted on the training renders) of
  joints moved at random by a few crop pixels (--off; in 3D, at the person's depth): how precisely the
  joints must be found for the lengths to follow;
- linear probes (ridge, fitted on the training renders, features standardised) of the log bone lengths from
  the main job's frozen trunk features (averaged over the 8 x 8 cells), from the features its bone head reads,
  and the bone head itself;
- with --sex, each person given the average skeleton of their sex, the sex known (the rendered bodies are
  drawn again from the data's seeds) and read from the trunk's averaged features by a logistic probe;
- with --head-view, probes of the trunk's features on a magnified view of the head (`head_view`: the same
  bodies, poses and cameras rendered again at twice the resolution, a square a quarter of the crop's side
  around the model's own neck and head joints), alone and beside the crop's: whether more pixels of the
  head, whose bone's share alone holds nearly all the size, carry it.

The first rows bound what the images can give: they take proportions from the exact 3D joints. A second
table gives the predicted size over the true one for the shortest to the tallest fifth. The last line
says how small the head bone is in the crops, beside the spread of sizes and the main job's 2D error.

Run: .venv/bin/python bench/size_cues.py --model runs/cpu-pretrained/model.keras \
         --data data/bandai-namco-mesh-4-plain-20000-2000-s0 [--train 8000] [--test 2000] [--head-view] [--sex]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from tfpose3d import contract, metrics, skeleton
from tfpose3d.data import images, mocap, records, render
from tfpose3d.data.camera import Region
from tfpose3d.data.options import motion_split
from tfpose3d.data.sources import Source, open_source

from provenance import provenance  # a script beside this one
from versus_blazepose import bodies, bone_scores, logistic, size  # a script beside this one

HEAD_BONE = skeleton.BONES.index((skeleton.JOINT_INDEX["neck"], skeleton.JOINT_INDEX["head"]))


def least_squares(train: np.ndarray, target: np.ndarray, test: np.ndarray, ridge: float = 0.0) -> np.ndarray:
    """`test`'s values of the affine map from standardised `train` (N, F) to `target` (N, ...) fitted by
    ridge regression (the intercept not penalised)."""
    mean, scale = train.mean(0), train.std(0) + 1e-9
    a = np.c_[(train - mean) / scale, np.ones(len(train))]
    penalty = ridge * np.eye(a.shape[1])
    penalty[-1, -1] = 0.0
    weights = np.linalg.solve(a.T @ a + penalty, a.T @ target.reshape(len(train), -1))
    return (np.c_[(test - mean) / scale, np.ones(len(test))] @ weights).reshape(len(test), *target.shape[1:])


def read(model: keras.Model, source: Source, split: str, count: int) -> dict[str, np.ndarray]:
    """For `count` samples of `split`: true bone lengths and joints, a crop pixel in mm at the person's depth,
    the head bone's 2D length in the crop (px), the trunk's features averaged over the cells, what the bone
    head reads, its lengths, and the distance of each 2D joint from the truth (px)."""
    probe = keras.Model(model.input, [model.get_layer("projection").input, model.get_layer("fc_out_bones").input,
                                      model.output["bone_lengths"], model.output["joints_2d"]])
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("true", "joints", "mm_per_px", "head_px", "trunk",
                                                          "bone_head_input", "bone_head", "joints_2d", "error_2d_px")}
    for batch in source.samples(split, contract.IMAGE_SIZE).take(count).batch(64).as_numpy_iterator():
        trunk, reads, lengths, joints_2d = (np.asarray(v, np.float64)
                                            for v in probe(batch["image"].astype("float32"), training=False))
        joints = batch["joints_3d"].astype(np.float64)
        parts["true"].append(metrics.bone_lengths(joints))
        parts["joints"].append(joints)
        # A crop pixel at the pelvis's depth, in mm: the depth over the crop's focal length.
        parts["mm_per_px"].append(joints[:, skeleton.PELVIS, 2] / batch["intrinsics"][:, 0])
        head = batch["joints_2d"][:, [skeleton.JOINT_INDEX["neck"], skeleton.JOINT_INDEX["head"]]]
        parts["head_px"].append(np.linalg.norm(head[:, 1] - head[:, 0], axis=-1))
        parts["trunk"].append(trunk.mean((1, 2)))
        parts["bone_head_input"].append(reads)
        parts["bone_head"].append(lengths)
        parts["joints_2d"].append(joints_2d)
        parts["error_2d_px"].append(np.linalg.norm(joints_2d - batch["joints_2d"], axis=-1))
    return {k: np.concatenate(v) for k, v in parts.items()}


def head_view(model: keras.Model, data: str, split: dict[str, np.ndarray], name: str, fraction: float = 0.25,
              scale: int = 2) -> np.ndarray:
    """The trunk's features (averaged over the cells) of a view of each person's head: a square around the
    middle of the model's neck and head joints, `fraction` of the crop's side, cut from the same body, pose
    and camera rendered again at `scale` times the crop's resolution (the room, clothes and light are drawn
    anew) and seen at the model's input size. The head is `1 / fraction` times as wide there as in the
    crop, with `scale` times the crop's detail. The data's own stream of renders is rendered again from its
    start until every person `read` took (its shards interleaved) is met, each known by their 3D joints.

    Args:
        data: a rendered data folder (`<data>/<name>/` with its manifest), of this package's renderer.
    """
    trunk = keras.Model(model.input, model.get_layer("projection").input)
    manifest = records.read_manifest(Path(data) / name)
    if manifest["renderer"] != render.VERSION:
        raise ValueError(f"{data}/{name}: rendered by {manifest['renderer']}, this package renders {render.VERSION}")
    index = {joints.astype(np.float32).tobytes(): i for i, joints in enumerate(split["joints"])}
    if len(index) != len(split["joints"]):
        raise ValueError(f"{data}/{name}: two people share their 3D joints; they cannot be told apart")
    poses = mocap.load_motion(manifest["poses"]).select(motion_split(name))
    stream = render.iter_rendered(poses, manifest["count"], manifest["seed"], len(os.sched_getaffinity(0)),
                                  render.look_named(manifest["look"], name), size=scale * contract.IMAGE_SIZE)
    centres = split["joints_2d"][:, [skeleton.JOINT_INDEX["neck"], skeleton.JOINT_INDEX["head"]]].mean(1) * scale
    features = np.zeros((len(split["joints"]), trunk.output.shape[-1]))
    waiting: list[tuple[int, np.ndarray]] = []
    for sample in stream:
        i = index.pop(sample["joints_3d"].astype(np.float32).tobytes(), None)
        if i is not None:
            view = Region(tuple(map(float, centres[i])), fraction * scale * contract.IMAGE_SIZE)
            waiting.append((i, images.crop_region(images.decode(sample["image"]), view, contract.IMAGE_SIZE)))
        if len(waiting) == 64 or not index:
            rows, views = zip(*waiting)
            features[list(rows)] = np.asarray(trunk(np.stack(views).astype("float32"), training=False)).mean((1, 2))
            waiting = []
        if not index:
            return features
    raise ValueError(f"{data}/{name}: {len(index)} people read from the records are not in its stream of renders")


def sex_rows(train: dict[str, np.ndarray], test: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each held-out person given the training renders' average skeleton of their sex: known, and read from
    the trunk's averaged features by a logistic probe (the row names how often it is right)."""
    by_sex = {women: train["true"][train["women"] == women].mean(0) for women in (False, True)}
    read_women = logistic(train["trunk"], train["women"], test["trunk"])
    right = float((read_women == test["women"]).mean())
    return {"each sex's average skeleton, the sex known": np.where(test["women"][:, None], by_sex[True], by_sex[False]),
            f"each sex's average skeleton, the sex read from the trunk's features (a logistic probe, right for "
            f"{right:.1%})": np.where(read_women[:, None], by_sex[True], by_sex[False])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="the main job's model.keras (a blazepose trunk and a bone head)")
    parser.add_argument("--data", required=True, help="the main job's rendered data")
    parser.add_argument("--train", type=int, default=8000, help="training renders the probes are fitted on")
    parser.add_argument("--test", type=int, default=2000, help="held-out renders scored")
    parser.add_argument("--off", type=float, nargs="*", default=[0.25, 0.5, 1.0, 3.0],
                        help="crop pixels the exact joints are moved by at random, for rows of proportions read that well")
    parser.add_argument("--head-view", action="store_true",
                        help="also probe the trunk's features on a magnified view of the head (renders the data's "
                             "people again at twice the resolution: minutes)")
    parser.add_argument("--sex", action="store_true",
                        help="also each sex's average skeleton, the sex known and the sex read from the trunk's "
                             "features by a logistic probe (the rendered bodies drawn again from the data's seeds)")
    args = parser.parse_args()

    model = keras.saving.load_model(args.model)
    source = open_source(args.data)
    train, test = read(model, source, "train", args.train), read(model, source, "test", args.test)
    if args.head_view:
        for name, split in (("train", train), ("test", test)):
            split["head_view"] = head_view(model, args.data, split, name)
            split["crop_and_head_view"] = np.c_[split["trunk"], split["head_view"]]
    true = test["true"]
    if args.sex:
        for name, split in (("train", train), ("test", test)):
            split["women"] = np.array([b.shape.sex < 0.5 for b in bodies(str(source.dataset_dir(name)), split["joints"])])

    def shares(lengths: np.ndarray) -> np.ndarray:
        return np.log(lengths / size(lengths)[:, None])

    def at_size(seen_train: np.ndarray, seen_test: np.ndarray, columns: list[int] | slice = slice(None)) -> np.ndarray:
        """The proportions of `seen_test` at the size read from them (the `columns` of their log shares), by
        least squares on `seen_train` against the training renders' true sizes."""
        read_size = least_squares(shares(seen_train)[:, columns], np.log(size(train["true"])), shares(seen_test)[:, columns])
        return seen_test / size(seen_test)[:, None] * np.exp(read_size)[:, None]

    def read_lengths(seen_train: np.ndarray, seen_test: np.ndarray) -> np.ndarray:
        """Bone lengths read from the proportions `seen_test` has (their log shares: a crop shows no scale) by
        least squares (`seen_train` against the training renders' true log-lengths): the best linear reading,
        which also shrinks the noise."""
        return np.exp(least_squares(shares(seen_train), np.log(train["true"]), shares(seen_test)))

    rng = np.random.default_rng(0)

    def off(split: dict[str, np.ndarray], px: float) -> np.ndarray:
        """Bone lengths of `split`'s joints each moved at random, `px` crop pixels (s.d. per axis, depth too)."""
        noise = rng.normal(size=split["joints"].shape) * (px * split["mm_per_px"])[:, None, None]
        return metrics.bone_lengths(split["joints"] + noise)

    def probe(name: str) -> np.ndarray:
        return np.exp(least_squares(train[name], np.log(train["true"]), test[name], ridge=1.0))

    average = train["true"].mean(0)
    rows = {
        "the training renders' average skeleton for everyone": np.broadcast_to(average, true.shape),
        "exact proportions at the average size": true / size(true)[:, None] * size(average[None]),
        "exact proportions, size read from them": at_size(train["true"], true),
        "exact proportions, size read from the head bone's share alone": at_size(train["true"], true, [HEAD_BONE]),
        **{f"joints {px:g} px off (s.d. per axis), lengths read from their proportions": read_lengths(off(train, px), off(test, px))
           for px in args.off},
        "linear probe of the trunk's features (averaged over the crop)": probe("trunk"),
        **({"linear probe of the trunk's features on a view of the head (a quarter of the crop's side, from a render at "
            "twice the resolution)": probe("head_view"),
            "linear probe of the trunk's features on the crop and the head view together": probe("crop_and_head_view")}
           if args.head_view else {}),
        "linear probe of what the bone head reads": probe("bone_head_input"),
        **(sex_rows(train, test) if args.sex else {}),
        "the main job's bone head": test["bone_head"],
    }
    print(provenance(f"{args.test} held-out renders of {args.data} (probes fitted on {args.train} training renders); "
                     f"model {args.model}") + "\n")
    print(pd.DataFrame([{"bones from": name, **bone_scores(pred, true)} for name, pred in rows.items()])
          .to_markdown(index=False, floatfmt=".3f"))
    fifth = np.digitize(size(true), np.quantile(size(true), [0.2, 0.4, 0.6, 0.8]))
    print("\nPredicted over true size, by a fifth of the held-out people from the shortest:\n")
    print(pd.DataFrame({name: [float(np.mean(size(rows[name])[fifth == k] / size(true)[fifth == k])) for k in range(5)]
                        for name in ("linear probe of the trunk's features (averaged over the crop)", "the main job's bone head")},
                       index=[f"{k + 1}: {np.min(size(true)[fifth == k]):.0f}-{np.max(size(true)[fifth == k]):.0f} mm"
                              for k in range(5)]).rename_axis("people (limb bones' total)").to_markdown(floatfmt=".3f"))
    spread = float(size(true).std() / size(true).mean())
    px = float(np.median(test["head_px"]))
    print(f"\nSizes of the held-out people: s.d. / mean {spread:.3f}. The head bone in the crops "
          f"({contract.IMAGE_SIZE} px): median {px:.1f} px, so that spread is {px * spread:.2f} px of it. The main "
          f"job's 2D joints there: median {np.median(test['error_2d_px']):.1f} px from the truth.")


if __name__ == "__main__":
    main()
