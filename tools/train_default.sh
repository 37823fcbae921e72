#!/usr/bin/env bash
# make train-default: reproduce the shipped model on this machine. The shipped run took 66 min
# on a 2-core CPU with OMP_NUM_THREADS=1 and other work beside it: data 2, stage 1 36,
# stage 2 14, pseudo-labels 3, stage 3 10, scoring 1.
#   1. 4000 synthetic CULane-look frames (seed 2026, per-frame camera rigs) and 1500
#      TuSimple-look ones (seed 2027)
#   2. mix them with one real CULane clip (tools/prepare_default_data.py)
#   3. lane-sad train, stage 1 (config/train/enet_sad_default.yaml: CULane-look + the real clip),
#      then stage 2 from it (enet_sad_default_mix.yaml: TuSimple-look frames added); each
#      resumes if interrupted
#   4. stage 3 from stage 2 (enet_sad_default_real.yaml): every real training frame added
#      (tools/prepare_real_data.py: the real drive's ego labels and SCNN maps, pseudo-labels of
#      the unlabelled frames and videos from stage 2's own confirmed lanes and the line teacher,
#      converted TuSimple-camera and OpenLane samples)
#   5. score on held-out synthetic and real frames       6. install as the default weights
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
REAL=${LANE_SAD_REAL_DATA:-../shared/data/real}
SYNTH=runs/data/synth_culane_4k
SYNTH_TS=runs/data/synth_tusimple_1500
MIX=runs/data/default_mix
STAGE1=runs/enet_sad_default
STAGE2=runs/enet_sad_default_mix
RUN=runs/enet_sad_default_real
TEACHER=${LANE_SAD_TEACHER:-../shared/teachers/twinlitenet_bdd100k.onnx}
[ -f "$SYNTH/list/test.txt" ] || .venv/bin/lane-sad synth --format culane --num 4000 --seed 2026 --out "$SYNTH" --features rig --overwrite
[ -f "$SYNTH_TS/test_label.json" ] || .venv/bin/lane-sad synth --format tusimple --num 1500 --seed 2027 --out "$SYNTH_TS" --overwrite
[ -d "$REAL" ] || { echo "train-default: real frames not found at $REAL (set LANE_SAD_REAL_DATA)"; exit 2; }
[ -d "$MIX/synth_tusimple" ] || $PY tools/prepare_default_data.py "$SYNTH" "$REAL" "$MIX" --synth-tusimple "$SYNTH_TS"
train() {  # train CONFIG RUN_DIR [--set ...]: resume from RUN_DIR/last.pt (a finished run returns at once)
    local config=$1 run=$2; shift 2
    if [ -f "$run/last.pt" ]; then set -- "$@" --resume "$run/last.pt"; fi
    .venv/bin/lane-sad train --config "$config" "$@"
}
train config/train/enet_sad_default.yaml "$STAGE1"
train config/train/enet_sad_default_mix.yaml "$STAGE2" --set model.init="$STAGE1/model.pt"
[ -f "$MIX/list/train_real_gt.txt" ] || $PY tools/prepare_real_data.py "$MIX" "$REAL" --teacher "$TEACHER" \
    --model-teacher "$STAGE2/model.pt" --ego-repeat 8 --pseudo-repeat 4 --convert-repeat 8
train config/train/enet_sad_default_real.yaml "$RUN" --set model.init="$STAGE2/model.pt"
$PY tools/default_report.py "$RUN/model.pt" "$MIX" lane_sad_core/weights/enet_sad_default.md
cp "$RUN/model.pt" lane_sad_core/weights/enet_sad_default.pt
cp "$STAGE1/log.csv" lane_sad_core/weights/enet_sad_default_stage1_log.csv
cp "$STAGE2/log.csv" lane_sad_core/weights/enet_sad_default_stage2_log.csv
cp "$RUN/log.csv" lane_sad_core/weights/enet_sad_default_log.csv
cp "$RUN/curves.png" docs/default_model_curves.png
echo "train-default: installed lane_sad_core/weights/enet_sad_default.pt"
