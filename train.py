"""Train a model from a YAML config (LightningCLI). ``python train.py`` runs the embedded default.

Examples::

    python train.py                                        # configs/default.yaml, CPU, minutes
    python train.py --config configs/inverters/efficientnet_lite0_parallel.yaml
    python train.py --config configs/cluster/vgg16_joint.yaml --data.init_args.root /data/imagenet
    python train.py --ckpt_path checkpoints/<experiment>/last.ckpt   # resume
    python train.py --print_config                         # the full resolved config
"""

from deeprestore.training import main

if __name__ == "__main__":
    main()
