#!/usr/bin/env bash
# make train-default: reproduce the shipped model on this machine (CPU, about an hour).
#   1. 4000 synthetic CULane-format frames (seed 2026)   2. add one real CULane clip
#   3. lane-sad train (config/train/enet_sad_default.yaml; resumes if interrupted)
#   4. score on held-out synthetic and real frames       5. install as the default weights
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
REAL=${LANE_SAD_REAL_DATA:-../shared/data/real}
SYNTH=runs/data/synth_culane_4k
MIX=runs/data/default_mix
RUN=runs/enet_sad_default
[ -f "$SYNTH/list/test.txt" ] || .venv/bin/lane-sad synth --format culane --num 4000 --seed 2026 --out "$SYNTH" --overwrite
[ -d "$REAL" ] || { echo "train-default: real frames not found at $REAL (set LANE_SAD_REAL_DATA)"; exit 2; }
[ -f "$MIX/list/train_gt.txt" ] || $PY tools/prepare_default_data.py "$SYNTH" "$REAL" "$MIX"
if [ -f "$RUN/last.pt" ]; then RESUME=(--resume "$RUN/last.pt"); else RESUME=(); fi
.venv/bin/lane-sad train --config config/train/enet_sad_default.yaml "${RESUME[@]}"
$PY tools/default_report.py "$RUN/model.pt" "$MIX" lane_sad_core/weights/enet_sad_default.md
cp "$RUN/model.pt" lane_sad_core/weights/enet_sad_default.pt
cp "$RUN/curves.png" docs/default_model_curves.png
echo "train-default: installed lane_sad_core/weights/enet_sad_default.pt"
