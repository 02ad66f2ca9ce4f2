"""The dashboard's tables as one HTML element each (``st.html``), not ``st.table``: the
browser draws a page of the task log (25 rows, 8 columns) from st.table's per-cell components
in about 60 ms of script on two cores, from HTML in a few (docs/dashboard.md, "Page switch")."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

# st.html takes a page's CSS: the look of st.table (lines between rows, headings left).
STYLE = """<style>
table.rows { border-collapse: collapse; width: 100%; font-size: 0.875rem; }
table.rows th { text-align: left; font-weight: 600; }
table.rows th, table.rows td {
    padding: 0.25rem 0.75rem; border-bottom: 1px solid rgba(49, 51, 63, 0.1); }
</style>"""


def html_table(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A table with its head (even with no rows) and every value escaped."""
    head = "".join(f"<th>{escape(name)}</th>" for name in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(value))}</td>" for value in row) + "</tr>"
        for row in rows
    )
    return f'{STYLE}<table class="rows"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
