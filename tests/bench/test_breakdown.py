import io

import numpy as np
import pandas as pd
from rich.console import Console

import bench
from bench.breakdown import method_breakdown, print_breakdown
from tests.bench.test_runner import config, fake_registrations  # noqa: F401 - the plugin's cleanup


def test_breakdown_sums_each_methods_rows_and_skips_errors():
    records = pd.DataFrame(
        {
            "method": ["a", "a", "b", "b"],
            "error": [None, None, None, "RuntimeError: x"],
            "cost_seconds": [1.0, 2.0, 0.5, 9.0],
            "eval_seconds": [3.0, 4.0, 0.5, 9.0],
            "cost_forward_passes": [10, 20, 1, 99],
            "eval_forward_passes": [5, 5, 2, 99],
        }
    )
    table = method_breakdown(records).set_index("method")
    assert table.loc["a", "rows"] == 2 and table.loc["b", "rows"] == 1
    assert table.loc["a", "explain_seconds"] == 3.0 and table.loc["a", "eval_seconds"] == 7.0
    assert table.loc["a", "explain_forward_passes"] == 30 and table.loc["b", "eval_forward_passes"] == 2
    assert np.isclose(table.loc["a", "share"], 10 / 11) and list(table.index) == ["a", "b"]
    out = io.StringIO()
    print_breakdown(method_breakdown(records), {"explaining and scoring": 12.5}, Console(file=out, width=120))
    assert "explaining and scoring 12.5 s" in out.getvalue() and "91%" in out.getvalue()


def test_a_run_writes_its_timing_next_to_the_records(tmp_path):
    bench.run(config(tmp_path))
    timing = pd.read_csv(tmp_path / "timing.csv")
    records = bench.records.read_records(tmp_path)
    per_method = timing.dropna(subset=["rows"]).set_index("method")
    for method, rows in records.groupby("method"):
        assert per_method.loc[method, "rows"] == len(rows)
        assert np.isclose(per_method.loc[method, "eval_seconds"], rows["eval_seconds"].sum())
    assert "stage: explaining and scoring" in set(timing["method"])
