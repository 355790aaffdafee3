"""Train a model from a YAML config (LightningCLI). ``python train.py`` runs the embedded default.

Examples::

    python train.py                                        # configs/default.yaml, CPU, minutes
    python train.py fit --config configs/inverters/efficientnet_lite0_parallel.yaml
    python train.py test --ckpt_path checkpoints/<experiment>/last.ckpt    # test a checkpoint, no training
    python train.py --config configs/cluster/imagenet_ddp.yaml --config configs/cluster/vgg16_joint.yaml \\
        --data.init_args.root /data/imagenet
    python train.py --ckpt_path checkpoints/<experiment>/last.ckpt         # resume (fit, then test)
    python train.py --print_config                         # the full resolved config

A user error (bad option value, missing file, checkpoint that does not fit) is one line on stderr
and exit status 2.
"""

import sys

from deeprestore.cli_errors import run_command
from deeprestore.training import main

if __name__ == "__main__":
    sys.exit(run_command(main, "train.py"))
