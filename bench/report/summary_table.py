"""The summary as an HTML table that fits a laptop screen (1366 px wide with 15 methods and every
default metric): metrics grouped by family (one <colgroup> and one spanning header each), each
cell the mean with its rank and, under it in smaller text, the 95% CI; a click on a header sorts
the rows by that column (best first, a second click reverses), in a few lines of plain JavaScript."""

from __future__ import annotations

import html
from collections.abc import Sequence

import pandas as pd

from bench.metric import FAMILIES
from bench.protocol import is_registered, metric_of
from bench.stats import rank_label
from bench.summary import COST_COLUMNS, compact_number, quality_metrics, ranked_methods

OTHER = "other"
"""The family of a metric this version no longer registers (an old run's)."""

STYLE = """
table.summary-table { border-collapse: collapse; font-size: 0.7em; margin-bottom: 0.5em; }
table.summary-table colgroup.family { border-left: 2px solid #888; }
table.summary-table th, table.summary-table td { border: 1px solid #ddd; padding: 1px 2px; }
table.summary-table td { text-align: right; white-space: nowrap; line-height: 1.15; }
table.summary-table th { background: #f3f3f3; font-weight: 600; }
table.summary-table th.family { text-align: center; text-transform: uppercase; font-size: 0.85em; }
table.summary-table th[data-column] { cursor: pointer; vertical-align: bottom; }
table.summary-table th.metric span {
  writing-mode: vertical-rl; transform: rotate(180deg); max-height: 12.5em;
}
table.summary-table th[data-sorted="best"]::after { content: " ▼"; font-size: 0.8em; }
table.summary-table th[data-sorted="worst"]::after { content: " ▲"; font-size: 0.8em; }
table.summary-table td.method, table.summary-table th.method { text-align: left; white-space: normal; }
table.summary-table td.top { background: #e3f1e3; }
table.summary-table .rank { color: #666; font-size: 0.78em; margin-left: 2px; }
table.summary-table .ci { color: #777; font-size: 0.78em; }
"""

SCRIPT = """
function sortValue(row, column) {
  const value = row.cells[column].dataset.value;
  return value === undefined || value === "" ? null : isNaN(value) ? value : Number(value);
}
for (const table of document.querySelectorAll("table.summary-table")) {
  for (const header of table.querySelectorAll("th[data-column]")) {
    header.addEventListener("click", () => {
      const column = Number(header.dataset.column);
      const again = header.dataset.sorted === "best";
      const sign = (header.dataset.better === "higher" ? -1 : 1) * (again ? -1 : 1);
      const rows = [...table.tBodies[0].rows];
      const known = rows.filter((row) => sortValue(row, column) !== null);
      known.sort((a, b) => {
        const x = sortValue(a, column), y = sortValue(b, column);
        return sign * (typeof x === "number" ? x - y : String(x).localeCompare(y));
      });
      table.tBodies[0].append(...known, ...rows.filter((row) => sortValue(row, column) === null));
      table.querySelectorAll("th[data-sorted]").forEach((other) => delete other.dataset.sorted);
      header.dataset.sorted = again ? "worst" : "best";
    });
  }
}
"""


def family_of(metric: str) -> str:
    return metric_of(metric).family if is_registered(metric) else OTHER


def family_columns(summary: pd.DataFrame, metrics: Sequence[str]) -> dict[str, list[str]]:
    """{family: metric keys}: the quality metrics in the run's order, grouped in bench.metric's
    order of families (metrics this version does not know last), then the cost means the
    summary holds (COST_COLUMNS)."""
    quality = quality_metrics(summary, metrics)
    present = set(summary["metric"])
    quality_families = [family for family in (*FAMILIES, OTHER) if family != "cost"]
    groups = {family: [m for m in quality if family_of(m) == family] for family in quality_families}
    groups["cost"] = [m for m in COST_COLUMNS if m in present]
    return {family: keys for family, keys in groups.items() if keys}


def _metric_header(key: str, column: int) -> str:
    """A sortable header; data-better says which way is best (first click: best first)."""
    if key in COST_COLUMNS:
        label, better, tip = COST_COLUMNS[key], "lower", f"{key} (mean per example)"
    elif is_registered(key):
        better = "higher" if metric_of(key).higher_is_better else "lower"
        label, tip = f"{key}\u00a0{'↑' if better == 'higher' else '↓'}", f"{key}: {better} is better"
    else:
        label, better, tip = key, "", f"{key} (a metric this version no longer has)"
    direction = f' data-better="{better}"' if better else ""
    return (
        f'<th class="metric" data-column="{column}"{direction} title="{html.escape(tip)}; click to sort">'
        f"<span>{html.escape(label).replace('_', '_<wbr>')}</span></th>"
    )


def _quality_cell(row: pd.Series | None) -> str:
    if row is None or pd.isna(row["mean"]):
        return '<td data-value="">-</td>'
    top = ' class="top"' if row["rank"] == 1 else ""
    return (
        f'<td data-value="{row["mean"]:.6g}"{top}><span class="mean">{row["mean"]:.3f}</span>'
        f'<span class="rank">{html.escape(rank_label(row))}</span><br>'
        f'<span class="ci">{row["ci_low"]:.3f}–{row["ci_high"]:.3f}</span></td>'
    )


def _cost_cell(row: pd.Series | None) -> str:
    if row is None or pd.isna(row["mean"]):
        return '<td data-value="">-</td>'
    return f'<td data-value="{row["mean"]:.6g}">{compact_number(row["mean"])}</td>'


def summary_table(group: pd.DataFrame, metrics: Sequence[str]) -> str:
    """One (task, model) group of the summary as a sortable table, a row per method in rank order."""
    families = family_columns(group, metrics)
    keys = [key for family_keys in families.values() for key in family_keys]
    quality = [key for key in keys if key not in COST_COLUMNS]
    cells = group.set_index(["method", "metric"])
    colgroups = ['<colgroup class="method"><col></colgroup>'] + [
        f'<colgroup class="family" data-family="{html.escape(family)}" span="{len(family_keys)}"></colgroup>'
        for family, family_keys in families.items()
    ]
    top_row = ['<th class="method" rowspan="2" data-column="0" title="click to sort">method</th>'] + [
        f'<th class="family" colspan="{len(family_keys)}">{html.escape(family)}</th>'
        for family, family_keys in families.items()
    ]
    metric_row = [_metric_header(key, column) for column, key in enumerate(keys, start=1)]
    rows = []
    for method in ranked_methods(group, quality):
        row_cells = [
            (_cost_cell if key in COST_COLUMNS else _quality_cell)(
                cells.loc[(method, key)] if (method, key) in cells.index else None
            )
            for key in keys
        ]
        name = html.escape(method)
        rows.append(f'<tr><td class="method" data-value="{name}">{name}</td>{"".join(row_cells)}</tr>')
    return (
        '<table class="summary-table">'
        + "".join(colgroups)
        + f"<thead><tr>{''.join(top_row)}</tr><tr>{''.join(metric_row)}</tr></thead>"
        + f"<tbody>{''.join(rows)}</tbody></table>"
    )
