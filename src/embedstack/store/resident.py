"""Read-only index files held in RAM on huge pages, when they fit.

An HNSW walk at a million rows touches ~800 vectors scattered over the whole graph file,
so nearly every step misses the TLB as well as the caches. Through a memory map of the
file those misses are on 4 KiB pages; the same bytes copied into private anonymous
memory advised as transparent huge pages (2 MiB on x86-64) need ~500x fewer page-table
entries, and the walk runs faster (benchmarks/ann.py, docs/benchmarks.md). Under a
hypervisor, where every TLB miss walks two page tables, the gain is largest.

Opening a collection already reads each index file once for its checksum, so the copy
adds no disk reads. A file larger than `RESIDENT_SHARE` of the memory still available
stays memory-mapped instead: the page cache can then evict it under memory pressure,
where anonymous memory could only be swapped.
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path

RESIDENT_SHARE = 0.5  # a file larger than this share of available memory stays mapped


def available_memory() -> int | None:
    """Bytes of memory the kernel can still hand out (Linux: MemAvailable, which counts
    reclaimable page cache), or None when the platform does not say."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def read_resident(path: Path) -> mmap.mmap | None:
    """The bytes of `path` in private anonymous memory advised as huge pages, or None
    when the file is empty or would take more than `RESIDENT_SHARE` of the available
    memory (the caller memory-maps it then). The caller keeps the returned buffer alive
    as long as anything reads from it."""
    size = path.stat().st_size
    free = available_memory()
    if size == 0 or free is None or size > RESIDENT_SHARE * free:
        return None
    if hasattr(mmap, "MAP_PRIVATE") and hasattr(mmap, "MAP_ANONYMOUS"):
        # private, not Python's default shared mapping: shared memory gets no huge pages
        memory = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    else:  # Windows: an anonymous mapping takes no flags
        memory = mmap.mmap(-1, size)
    if hasattr(mmap, "MADV_HUGEPAGE"):
        memory.madvise(mmap.MADV_HUGEPAGE)  # before the first touch, so faults map 2 MiB
    try:
        with open(path, "rb", buffering=0) as handle, memoryview(memory) as view:
            done = 0
            while done < size:
                got = handle.readinto(view[done:])
                if not got:
                    raise OSError(f"{path} shrank while it was being read")
                done += got
    except BaseException:
        memory.close()
        raise
    return memory
