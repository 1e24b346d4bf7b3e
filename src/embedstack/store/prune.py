"""Remove documents whose source file is gone or no longer yields them (`index --prune`).

Only documents whose `path` metadata lies under one of the indexed paths are
candidates, so documents from other sources are never touched. Paths are compared
resolved against the current directory, so `./notes` and `/abs/notes` match alike.
A file with anything skipped this run (unreadable, a bad line, a duplicate id) keeps
all its documents: a transient read error must not delete data.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from pathlib import Path

from embedstack.store.collection import Collection
from embedstack.text.loaders import LoadResult

log = logging.getLogger(__name__)
_LINE = re.compile(r":\d+$")  # `path:line` in a skipped entry


def _under(path: Path, roots: list[Path]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


def stale_ids(
    sources: dict[str, str],
    roots: Iterable[str | Path],
    keep: Iterable[str],
    protected: Iterable[str | Path] = (),
) -> list[str]:
    """Ids in `sources` (id -> source path) under `roots` that are not in `keep` and do
    not come from a `protected` file."""
    resolved = [Path(r).resolve() for r in roots]
    kept, guarded = set(keep), {Path(p).resolve() for p in protected}
    stale = []
    for id_, raw in sources.items():
        path = Path(raw).resolve()
        if id_ not in kept and path not in guarded and _under(path, resolved):
            stale.append(id_)
    return sorted(stale)


def prune_missing(collection: Collection, roots: list[Path], result: LoadResult) -> list[str]:
    """Delete the documents under `roots` that the fresh load `result` no longer yields
    (file deleted, JSONL row or CSV line removed); returns their ids."""
    protected = [_LINE.sub("", s.where) for s in result.skipped]
    stale = stale_ids(collection.source_paths(), roots, (d.id for d in result.documents), protected)
    if stale:
        collection.delete(stale)
        log.info("pruned %d documents no longer in %s", len(stale), [str(r) for r in roots])
    return stale
