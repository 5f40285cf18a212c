"""Temporal smoothing measured: MPJPE and jitter of per-frame 3D poses on rendered motion-capture clips.

Each clip is rendered as a video (one body, one still camera, one scene; each frame cropped around the person
as a tracker would) and estimated frame by frame; the poses then go through each smoother.
Jitter is the mean joint acceleration, mm/frame^2, against the ground truth's own. Lag is what the smoother
does to the true motion itself: the MPJPE of the smoothed ground truth against the ground truth (0 for none).

Run: .venv/bin/python bench/smoothing.py --model RUN_OR_EXPORTED [--look plain] [--split test] [--clips 12] [--frames 150]
(use --split train to choose the smoothers' settings, --split test to report them).
"""

from __future__ import annotations

import argparse
import dataclasses
import platform

import numpy as np

from tfpose3d import skeleton, smooth
from tfpose3d.data import mocap, render
from tfpose3d.predict import Predictor

# (smoothing, settings, a fresh streaming smoother for a frame rate)
SETTINGS = [("none", "-", lambda rate: smooth.Unsmoothed())] + [
    ("causal", f"min_cutoff {c:g}, beta {b:g}", lambda rate, c=c, b=b: smooth.Causal(rate, c, b))
    for c in (0.5, 1.0, 2.0) for b in (0.0, 0.001, 0.01)
] + [("window", f"radius {r}", lambda rate, r=r: smooth.Window(r)) for r in (2, 4, 8)]


def jitter(poses: np.ndarray) -> float:
    return float(np.linalg.norm(np.diff(poses, 2, axis=0), axis=-1).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--split", default="test", choices=["train", "test"])
    parser.add_argument("--clips", type=int, default=12)
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--look", default="plain", help="the renderer's look (use the one the model trained on)")
    args = parser.parse_args()
    poses = mocap.load_motion("bandai-namco").select(args.split)
    predictor = Predictor(args.model)
    look = dataclasses.replace(render.look_named(args.look), occluders=0.0)  # an occluder would follow the person
    clips = np.unique(poses.clip)
    clips = clips[np.linspace(0, len(clips) - 1, args.clips).astype(int)]
    truth, estimates = [], []
    for clip in clips:
        frames = render.render_clip(poses, int(clip), args.seed, args.frames, look=look)
        joints = np.stack([f.joints_3d for f in frames])
        truth.append(joints - joints[:, skeleton.PELVIS : skeleton.PELVIS + 1])
        estimates.append(predictor(np.stack([f.image for f in frames]))["pose_3d"].astype(np.float64))
    frames_total = sum(len(t) for t in truth)
    print(f"machine: {platform.processor() or platform.machine()}; model {args.model}; {len(clips)} {args.split} clips "
          f"({args.look} look), "
          f"{frames_total} frames at {poses.fps:g} frames/s")
    print(f"ground truth jitter: {np.mean([jitter(t) for t in truth]):.1f} mm/frame^2\n")
    print("| smoothing | settings | MPJPE mm | jitter mm/frame^2 | lag: smoothed truth's MPJPE mm |\n|---|---|---|---|---|")
    for kind, settings, make in SETTINGS:
        errors, jitters, lags = [], [], []
        for t, e in zip(truth, estimates):
            s = smooth.run(make(poses.fps), e)
            errors.append(np.linalg.norm(s - t, axis=-1).mean())
            jitters.append(jitter(s))
            lags.append(np.linalg.norm(smooth.run(make(poses.fps), t) - t, axis=-1).mean())
        print(f"| {kind} | {settings} | {np.mean(errors):.1f} | {np.mean(jitters):.1f} | {np.mean(lags):.1f} |")


if __name__ == "__main__":
    main()
