"""Evaluate methods of inverting and restoring images. ``python evaluate.py`` runs the embedded default.

One subcommand per study (``python evaluate.py <study> --help`` lists its options):

* ``inversion`` (the default): reconstruct images from a network's features at each layer with
  each method — the optimisation presets (M&V 2016, M&V 2015, plain gradient descent),
  ``mv2016`` plus learned priors, and every inverting network trained by ``train.py`` — and score
  them (MSE, PSNR, SSIM, feature error, top-1 kept / correct). Runs through a Lightning Trainer:
  ``--trainer.devices 8 --trainer.strategy ddp`` shares the images out over GPUs;
* ``denoise``: MAP denoising of grey images with priors against scikit-image's TV and non-local means;
* ``inverse-problems``: CSGM against ILO with a trained generator (inpainting, denoising,
  super-resolution, compressed sensing);
* ``lp``: Lei et al.'s layer-wise linear-program inversion of ReLU generators;
* ``calibrate``: tune mv2016 per layer on one split of the held-out set, report on the other;
* ``networks``: the inversion study over several networks (EfficientNet-Lite0/1/2) at matched depths;
* ``visualise``: class visualisations by activation maximisation under several presets, scored by the network;
* ``linear-inverse``: is a convolution enough to invert a convolution? Exact linear inverses against convolutions;
* ``sample``: Langevin samples from the learned priors, jointly at several feature maps, with a class, PPGN-style;
* ``feature-vae``: samples of a VAE on one layer's maps, decoded to images and scored as natural or not;
* ``texture``: textures from the Gram matrices or covariances of photos' maps (Gatys et al. 2015).

Each writes a study folder ``<report_root>/<experiment>/`` (``config.yaml``, CSV/JSON, ``report.md``,
``plots/``, ``wandb/``); rerunning with the same ``--experiment`` resumes the study.

Examples::

    python evaluate.py                                               # configs/evaluate/default.yaml
    python evaluate.py inversion --config configs/evaluate/quick.yaml  # smoke run, a minute on a CPU
    python evaluate.py inversion --config configs/evaluate/full.yaml   # every layer, M&V's full budget
    python evaluate.py inversion --network.layers block1 block4 --images.files photos/ --experiment mine
    python evaluate.py inversion --trainer.devices 8 --trainer.strategy ddp --images.files /data/imagenet/val
    python evaluate.py denoise --config configs/evaluate/denoise.yaml
    python evaluate.py inverse-problems --config configs/evaluate/inverse_problems.yaml
    python evaluate.py lp --config configs/evaluate/lp_inversion.yaml
    python evaluate.py feature-vae --config configs/evaluate/feature_vae.yaml

A user error (bad option value, missing file or checkpoint) is one line on stderr and exit status 2.
"""

import sys

from deeprestore.cli_errors import run_command
from deeprestore.studies.cli import main

if __name__ == "__main__":
    sys.exit(run_command(main, "evaluate.py"))
