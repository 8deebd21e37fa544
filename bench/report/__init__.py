"""The report of a finished run: figures (PNG + PDF) and a self-contained index.html under DIR/report/.

It reads only what the run wrote to disk (config.toml, meta.json, records, summary.csv), so a
finished run can be redrawn without its model. `make_report(DIR)` is the entry point.
"""

from bench.report.page import make_report

__all__ = ["make_report"]
