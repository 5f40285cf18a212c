"""The rendered bodies: a sheet of samples across bodies and actions, and the body distribution's figures.

Run: .venv/bin/python bench/body_samples.py [--out docs/body_samples.png] [--bodies 2000]
Writes the sheet (2D joints drawn), a walk on three bodies from one fixed camera (`*_walk.png`), and prints Markdown tables: body sizes by sex, and each Human3.6M
bone's ratio to the thigh over the sampled bodies against the real Human3.6M ratio.
"""

from __future__ import annotations

import argparse
import platform

import numpy as np
import pandas as pd

from tfpose3d import metrics, skeleton, viz
from tfpose3d.data import body, mocap, render
from tfpose3d.data.camera import Camera, look_at, project

ACTIONS = ("walk", "run", "dance-short", "kick", "bow", "wave-both-hands", "punch", "raise-up-left-hand")
# Real Human3.6M bone lengths, four subjects (mm).
H36M = {("pelvis", "r_hip"): (119, 147), ("r_hip", "r_knee"): (428, 452), ("r_knee", "r_ankle"): (438, 454),
        ("pelvis", "spine"): (224, 261), ("spine", "thorax"): (251, 257), ("thorax", "neck"): (107, 121),
        ("neck", "head"): (115, 115), ("thorax", "l_shoulder"): (140, 169), ("l_shoulder", "l_elbow"): (265, 290),
        ("l_elbow", "l_wrist"): (244, 252)}


def sheet(path: str, columns: int = 6, seed: int = 0) -> None:
    poses = mocap.load_motion("bandai-namco")
    model = body.default_model()
    rng = np.random.default_rng(seed)
    tiles = []
    for action in ACTIONS:
        frames = np.flatnonzero(poses.actions[poses.clip] == action)
        for _ in range(columns):
            shaped = model.body(body.sample_shape(rng))
            sample = render.render_body(shaped, *poses.pose(shaped, int(rng.choice(frames))), rng, size=160)
            tiles.append(viz.draw_skeleton_2d(sample.image, sample.joints_2d, width=1))
    viz.grid(tiles, columns).save(path)


def walk_strip(path: str, frames: int = 8, step: int = 5) -> None:
    """One walk on three bodies (short, average, tall), seen from the side by one fixed camera."""
    poses = mocap.load_motion("bandai-namco")
    model = body.default_model()
    clip = list(poses.clips).index("dataset-1_walk_normal_001")
    first = int(np.flatnonzero(poses.clip == clip)[0]) + 30
    picks = [first + step * k for k in range(frames)]
    shapes = (body.Shape(sex=0.0, height=0.3), body.Shape(), body.Shape(sex=1.0, height=0.6, weight=0.8))
    posed = [[poses.pose(model.body(shape), f) for f in picks] for shape in shapes]
    pelvis = np.array([j[0] for row in posed for _, j in row])
    # Side on to the walk, 6 m away at 1.2 m height; one crop for all, so the bodies' sizes compare.
    travel = pelvis[-1] - pelvis[0]
    side = np.cross([0.0, 1.0, 0.0], travel)
    centre = pelvis.mean(0)
    position = centre + 6000.0 * side / np.linalg.norm(side)
    position[1] = 1200.0
    camera = Camera(position, look_at(position, centre), np.array([1145.0, 1145.0, 512.0, 512.0]))
    uv = np.concatenate([project(camera.to_camera(v), camera.intrinsics) for row in posed for v, _ in row])
    rows = []
    for shape, row in zip(shapes, posed):
        shaped = model.body(shape)
        for v, j in row:
            sample = render.render_body(shaped, v, j, np.random.default_rng(1), size=160, look=render.LOOKS["plain"],
                                        camera=camera, box=(uv.min(0), uv.max(0)))
            rows.append(viz.draw_skeleton_2d(sample.image, sample.joints_2d, width=1))
    viz.grid(rows, frames).save(path)


def distribution(count: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    model = body.default_model()
    rng = np.random.default_rng(seed)
    shapes = [body.sample_shape(rng) for _ in range(count)]
    bodies = [model.body(s) for s in shapes]
    joints = np.stack([b.joints for b in bodies])
    height = np.array([np.ptp(b.vertices[:, 1]) for b in bodies])
    male = np.array([s.sex > 0.5 for s in shapes])
    sizes = pd.DataFrame([
        {"bodies": name, "count": int(sel.sum()), "height p5 (mm)": np.percentile(height[sel], 5),
         "height p50 (mm)": np.median(height[sel]), "height p95 (mm)": np.percentile(height[sel], 95),
         "thigh p50 (mm)": np.median(metrics.bone_lengths(joints[sel])[:, 1])}
        for name, sel in (("female", ~male), ("male", male), ("all", np.ones_like(male)))
    ])
    j = skeleton.JOINT_INDEX
    thigh = np.linalg.norm(joints[:, j["r_hip"]] - joints[:, j["r_knee"]], axis=-1)
    default = model.body().joints
    rows = []
    for (a, b), (lo, hi) in H36M.items():
        ratio = np.linalg.norm(joints[:, j[a]] - joints[:, j[b]], axis=-1) / thigh
        expected = (lo + hi) / 2 / ((428 + 452) / 2)
        at_default = np.linalg.norm(default[j[a]] - default[j[b]]) / np.linalg.norm(default[j["r_hip"]] - default[j["r_knee"]])
        rows.append({"bone": f"{a} -> {b}", "Human3.6M ratio": expected, "average body": at_default,
                     "bodies p5": np.percentile(ratio, 5), "bodies p95": np.percentile(ratio, 95),
                     "average body vs Human3.6M": f"{at_default / expected - 1:+.0%}"})
    return sizes, pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="docs/body_samples.png")
    parser.add_argument("--bodies", type=int, default=2000)
    args = parser.parse_args()
    sheet(args.out)
    strip = args.out.replace(".png", "_walk.png")
    walk_strip(strip)
    sizes, ratios = distribution(args.bodies)
    print(f"machine: {platform.processor() or platform.machine()}; {args.bodies} bodies from body.sample_shape, seed 0")
    print(sizes.to_markdown(index=False, floatfmt=".0f"))
    print()
    print(ratios.to_markdown(index=False, floatfmt=".3f"))
    print(f"\nwrote {args.out} and {strip}")


if __name__ == "__main__":
    main()
