#!/usr/bin/env bash
# Trains every bundled preset from scratch, then bundles each finished run into msrgan/pretrained/
# (weights, config, model card with the held-out grid results, presets.json entry).
#
#   bash scripts/train_presets.sh            # all presets; about 3.5 hours on a 2-core CPU (TensorFlow)
#   bash scripts/train_presets.sh --no-bundle
#
# Each step is resumable: a finished run (training.json present) is skipped, an interrupted one is
# continued from its last checkpoint with --resume. The configs are in scripts/presets/*.json.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
export KERAS_BACKEND="${KERAS_BACKEND:-tensorflow}"
RUNS=runs/presets   # the configs in scripts/presets/ start later stages from runs in $RUNS
bundle=1
[ "${1:-}" = "--no-bundle" ] && bundle=0

train() {  # train NAME: msrgan train --config scripts/presets/NAME.json, resumed when interrupted
  local name=$1 out="$RUNS/$1" resume=()
  if [ -f "$out/training.json" ]; then echo "==> $name: finished run in $out"; return; fi
  if compgen -G "$out/checkpoints/step-*" > /dev/null; then resume=(--resume); fi
  echo "==> $name: msrgan train --config scripts/presets/$name.json --out $out ${resume[*]}"
  msrgan train --config "scripts/presets/$name.json" --out "$out" "${resume[@]}"
}

bundle() {  # bundle NAME KIND LAYOUT DESCRIPTION [RUN [HOW]]: RUN defaults to $RUNS/NAME
  [ "$bundle" = 1 ] || return 0
  local how="${6:-msrgan train --config scripts/presets/$1.json}"
  python scripts/bundle_preset.py "${5:-$RUNS/$1}" --name "$1" --kind "$2" --layout "$3" --description "$4" \
    --command "KERAS_BACKEND=$KERAS_BACKEND bash scripts/train_presets.sh ($1: $how)"
}

train msrgan-x4-gray-blind   # stage 1: blind (PSF blur in 60% of the LR images), from scratch
train msrgan-x4-gray-sharp   # stage 2: from stage 1, without extra blur, so smooth fields stay smooth
train msrgan-x4-gray         # stage 3: from stage 2, new fields, a lower learning rate
bundle msrgan-x4-gray psnr "one fluorescence channel (gray); applied channel by channel to any other image" \
  "x4 PSNR-oriented single-channel fluorescence model (the default, channel by channel for any channel count)"
train msrgan-x4-rgb-base     # 3-channel, from scratch, without extra blur
train msrgan-x4-rgb-mid      # stage 2: from the base, new fields, half of them oversampled, a lower learning rate
train msrgan-x4-rgb-stage3   # stage 3: 1500 steps, 60% oversampled fields
train msrgan-x4-rgb-stage4   # stage 4: 70% oversampled, a lower learning rate
train msrgan-x4-rgb          # stage 5: 80% oversampled, 30% noisy LR images, the lowest learning rate
bundle msrgan-x4-rgb psnr "RGB merge: R microtubules, G protein of interest, B nucleus (the seed's layout)" \
  "x4 PSNR-oriented RGB-merge model (the seed's 3-channel layout)"
if [ ! -f "$RUNS/minivgg19-rgb/config.json" ]; then
  echo "==> minivgg19-rgb: msrgan train-classifier --config scripts/presets/minivgg19-rgb.json"
  msrgan train-classifier --config scripts/presets/minivgg19-rgb.json --out "$RUNS/minivgg19-rgb" --overwrite
fi
train msrgan-x4-gan          # GAN fine-tune of msrgan-x4-rgb with the miniVGG19 content loss (low weights)
blend="$RUNS/msrgan-x4-gan-interpolated"  # network interpolation with msrgan-x4-rgb, alpha chosen on a validation grid
if [ ! -f "$blend/config.json" ]; then
  echo "==> msrgan-x4-gan-interpolated: python scripts/interpolate_preset.py $RUNS/msrgan-x4-rgb $RUNS/msrgan-x4-gan"
  python scripts/interpolate_preset.py "$RUNS/msrgan-x4-rgb" "$RUNS/msrgan-x4-gan" --out "$blend"
fi
bundle msrgan-x4-gan gan "RGB merge: R microtubules, G protein of interest, B nucleus (the seed's layout)" \
  "x4 mSRGAN: GAN fine-tune of msrgan-x4-rgb with the miniVGG19 content loss, interpolated with msrgan-x4-rgb so that it stays at or above bicubic (a little sharper than msrgan-x4-rgb)" \
  "$blend" "msrgan train --config scripts/presets/msrgan-x4-gan.json, then python scripts/interpolate_preset.py $RUNS/msrgan-x4-rgb $RUNS/msrgan-x4-gan --out $blend"
