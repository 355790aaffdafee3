"""Seeded, epoch-aware sampling without global random state.

:class:`EpochSampler` yields ``(epoch, index)`` keys in an order shuffled from
``(seed, epoch)``; a dataset turns the key into a per-sample ``torch.Generator`` with
:func:`sample_generator` (seeded from ``(seed, epoch, index)``). So the crops of an epoch
depend only on the seed and the epoch number: not on the number of workers, which worker
makes which sample, or anything else that touched torch's global random state.

Lightning calls ``sampler.set_epoch(epoch)`` before every training epoch. Outside Lightning
the sampler counts epochs itself: each new iteration uses the next epoch number (starting
from 0, or from the last ``set_epoch``).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Iterator

import torch
from torch.utils.data import Sampler

__all__ = ["EpochSampler", "mix_seed", "sample_generator"]


def mix_seed(*values: int) -> int:
    """A 63-bit seed that depends on all the given integers (a hash, not a sum)."""
    digest = hashlib.blake2b(struct.pack(f"<{len(values)}q", *values), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def sample_generator(seed: int, epoch: int, index: int) -> torch.Generator:
    """A CPU generator seeded from ``(seed, epoch, index)``."""
    return torch.Generator().manual_seed(mix_seed(seed, epoch, index))


class EpochSampler(Sampler[tuple[int, int]]):
    """Yields ``(epoch, index)`` for every ``index < num_samples``, shuffled per epoch.

    Args:
        num_samples: samples per epoch.
        seed: base seed of the shuffling (and, in the datasets, of the crops).
        shuffle: ``False`` yields indices in order (still tagged with the epoch).
    """

    def __init__(self, num_samples: int, seed: int = 0, shuffle: bool = True) -> None:
        if num_samples < 1:
            raise ValueError(f"num_samples must be positive, got {num_samples}")
        self.num_samples = num_samples
        self.seed = seed
        self.shuffle = shuffle
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Use this epoch number for the next iteration (Lightning calls it every epoch)."""
        self.epoch = epoch

    def __iter__(self) -> Iterator[tuple[int, int]]:
        epoch = self.epoch
        self.epoch += 1
        if self.shuffle:
            generator = torch.Generator().manual_seed(mix_seed(self.seed, epoch, -1))
            order: Iterable[int] = torch.randperm(self.num_samples, generator=generator).tolist()
        else:
            order = range(self.num_samples)
        # The epoch number is taken now, when iteration starts, not at the first item.
        return ((epoch, i) for i in order)

    def __len__(self) -> int:
        return self.num_samples
