#!/usr/bin/env bash
# Set up .venv with tfpose3d and its test extras, then run the main job on the
# embedded motion capture: train the cpu-pretrained preset (the model that reads
# real photographs best; PRESET=cpu-quick or paper for the paper's from-scratch
# network), evaluate it on the held-out clips (and on real photographs, where
# ../shared has them: from annotation crops and through the whole detector
# pipeline), and export it for serving and TFLite, where `tfpose3d predict`
# finds it.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[test]"
.venv/bin/tfpose3d --version
PRESET=${PRESET:-cpu-pretrained}
RUN=${RUN:-runs/$PRESET}
# Real photographs with 2D joints, for measuring only (see ../shared/data/real-photos-dev/SOURCE.md): where
# they exist, training logs their 2D error each epoch and the evaluation draws the predictions over them.
PHOTOS=${PHOTOS:-../shared/data/real-photos-dev}
WATCH=()
if [ -f "$PHOTOS/annotations.json" ]; then WATCH=(--photos "$PHOTOS"); fi
.venv/bin/tfpose3d train --preset "$PRESET" --out "$RUN" ${WATCH[@]+"${WATCH[@]}"}
.venv/bin/tfpose3d evaluate "$RUN"
if [ ${#WATCH[@]} -gt 0 ]; then
  .venv/bin/tfpose3d evaluate "$RUN" --photos "$PHOTOS"
  .venv/bin/tfpose3d evaluate "$RUN" --photos "$PHOTOS" --crops detector
fi
.venv/bin/tfpose3d export "$RUN" --out serving_models
