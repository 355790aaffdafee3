"""Read the records of an offline W&B run file (``run-<id>.wandb``) without the network.

The file is W&B's 7-byte header followed by LevelDB's log format (32 KiB blocks of records, each
with a 7-byte header: CRC32, length, type FULL/FIRST/MIDDLE/LAST); every record is a
``wandb_internal_pb2.Record`` protobuf. wandb ≥ 0.19 does the writing in its Go core and no longer
ships a Python reader, so the tests carry this one to check what a run really logged.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from wandb.proto import wandb_internal_pb2

BLOCK = 32 * 1024
HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def read_records(path: Path) -> list[wandb_internal_pb2.Record]:
    data = path.read_bytes()
    if not data.startswith(b":W&B"):
        raise ValueError(f"{path} is not a W&B run file")
    records, pending, pos = [], b"", HEADER
    while pos + HEADER <= len(data):
        left = BLOCK - pos % BLOCK
        if left < HEADER:
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + HEADER])
        if kind == 0 and length == 0:  # zero padding to the end of the block
            pos += left
            continue
        chunk = data[pos + HEADER : pos + HEADER + length]
        pos += HEADER + length
        if kind == FULL:
            records.append(chunk)
        elif kind == FIRST:
            pending = chunk
        elif kind == MIDDLE:
            pending += chunk
        elif kind == LAST:
            records.append(pending + chunk)
    parsed = []
    for raw in records:
        record = wandb_internal_pb2.Record()
        record.ParseFromString(raw)
        parsed.append(record)
    return parsed


def logged_history(run_dir: Path) -> list[dict[str, object]]:
    """Every ``wandb.log`` row of an offline run folder, as dicts of decoded JSON values."""
    (run_file,) = run_dir.glob("run-*.wandb")
    rows = []
    for record in read_records(run_file):
        if record.WhichOneof("record_type") == "history":
            rows.append({item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in record.history.item})
    return rows


def logged_config(run_dir: Path) -> dict[str, object]:
    """The run's config as logged (``wandb.config`` updates merged)."""
    (run_file,) = run_dir.glob("run-*.wandb")
    config: dict[str, object] = {}
    for record in read_records(run_file):
        if record.WhichOneof("record_type") == "config":
            config.update({item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in record.config.update})
    return config
