"""What one tour step produces: prose, the code that made it, its real output, figures.

Numbers that a step quotes are computed, formatted once here and substituted into the
prose, so the page can never say something the code did not compute. Values that depend
on the machine (timings) are marked as measured: the guide test masks them and compares
everything else to the letter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

MEASURED = "<!--measured-->"
_MEASURED_VALUE = re.compile(r"\S*" + re.escape(MEASURED) + r"|~[0-9][0-9.,e+-]*")


@dataclass
class Step:
    """One section of the tour: `text` may quote `{name}` placeholders from `numbers`."""

    key: str
    title: str
    text: str
    code: str
    output: str
    images: list[str] = field(default_factory=list)
    numbers: dict[str, str] = field(default_factory=dict)

    def prose(self) -> str:
        """The explanation with every quoted number filled in."""
        return self.text.format(**self.numbers)


def num(value: float, digits: int = 3) -> str:
    """A deterministic number as the page shows it."""
    return f"{value:.{digits}f}"


def measured(value: float, spec: str = ",.0f") -> str:
    """A machine-dependent number (a speed, a float32 rounding residue): shown, but
    excluded from the drift check."""
    return f"{value:{spec}}{MEASURED}"


def measured_cell(value: float, spec: str = ",.0f") -> str:
    """A machine-dependent number inside a code/output block, where a comment would
    show: a leading `~` marks it as measured."""
    return f"~{value:{spec}}"


def mask_measured(text: str) -> str:
    """`text` with every measured value replaced by a fixed token and runs of spaces
    folded (a measured cell's width moves its table's columns), for the drift test."""
    return re.sub(r" {2,}", "  ", _MEASURED_VALUE.sub("<measured>", text))


def tour_data(name: str) -> Path:
    """A file shipped in `embedstack/data/` (the demo corpus, the tour's pairs)."""
    return Path(str(resources.files("embedstack") / "data" / name))


def table(rows: list[list[str]], header: list[str]) -> str:
    """A plain fixed-width table, the way the CLI prints one."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])
