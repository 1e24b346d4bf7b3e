"""Embedding corpora that outgrow one machine: resumable units, in one process or on Ray.

`embed_shards(src, dest, model, ray="auto")` is the entry point (see `job.py`). Ray is
imported only by `ray_executor.py`, and only when a job asks for it, so this package
works without the `distributed` extra for single-process runs.
"""

from __future__ import annotations

from embedstack.distributed.job import embed_shards
from embedstack.distributed.stats import JobStats

__all__ = ["JobStats", "embed_shards"]
