"""Plain-text tables for the terminal: the CLI's load report and the demo's summaries."""

from __future__ import annotations

from collections.abc import Collection, Sequence

MISSING = "-"


def _cell(value: object) -> str:
    return MISSING if value is None else str(value)


def format_table(
    header: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    right: Collection[str] = (),
    total: Sequence[object] | None = None,
    indent: str = "",
) -> str:
    """``rows`` under ``header`` in aligned columns, a rule under the header (and above
    ``total``, a last row set apart); the columns named in ``right`` are right-aligned.

    Cells are shown with ``str()``, a ``None`` as ``-``; trailing blanks are dropped.
    """
    body = [[_cell(value) for value in row] for row in rows]
    footer = [_cell(value) for value in total] if total is not None else None
    every_row = [list(header), *body, *([footer] if footer else [])]
    for row in every_row:
        if len(row) != len(header):
            raise ValueError(f"a row has {len(row)} cells for {len(header)} columns: {row}")
    unknown = set(right) - set(header)
    if unknown:
        raise ValueError(f"right-aligned column(s) not in the header: {sorted(unknown)}")
    widths = [max(len(row[index]) for row in every_row) for index in range(len(header))]
    flush_right = [title in right for title in header]

    def line(row: Sequence[str]) -> str:
        cells = [
            cell.rjust(width) if is_right else cell.ljust(width)
            for cell, width, is_right in zip(row, widths, flush_right, strict=True)
        ]
        return (indent + "  ".join(cells)).rstrip()

    rule = indent + "  ".join("-" * width for width in widths)
    lines = [line(header), rule, *map(line, body)]
    if footer:
        lines += [rule, line(footer)]
    return "\n".join(lines)
