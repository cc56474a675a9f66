"""The explanations' generated tables, from small reports of the benchmarks' form."""

from benchmarks.reporting import explanations


def test_the_completeness_table_counts_the_entries_within_the_goal_and_says_why_not():
    report = {"inputs": 50, "goal": 1e-4, "entries": {
        "a/lstm": {"task": "classification", "inputs": 50, "max_relative_error": 3e-7,
                   "largest_share": 2.0},
        "a/linear": {"task": "classification", "inputs": 50, "max_relative_error": 6e-2,
                     "largest_share": 4e5, "float64_max_relative_error": 2e-10},
        "b/lm": {"task": "language_model", "inputs": 50, "max_relative_error": 1e-6},
        "c/gone": {"skipped": "OSError: no data"}}}
    lines = explanations.completeness_markdown(report).splitlines()
    assert "| classification | 2 | 50 | 1 of 2 | 6.0e-02 (`a/linear`) |" in lines
    assert "| language_model | 1 | 50 | 1 of 1 | 1.0e-06 (`b/lm`) |" in lines
    assert "The goal: at most 1e-04. Outside it in float32:" in lines
    assert "- `a/linear`: 6.0e-02 in float32, 2e-10 in float64; its largest share is 4e+05 x " \
        "its largest logit" in lines
    assert lines[-1] == "Skipped (no data here): `c/gone` (OSError: no data)"


def test_the_served_latency_sentence_gives_both_exports():
    timed = {"explain": {"p50": 9.5, "p90": 12.0}, "serving_default": {"p50": 2.5, "p90": 3.0}}
    report = {"served": {"model": "ag_news/m", "requests": 200, "mean_tokens": 46.8,
                         "plain": {**timed, "explain": {"p50": 28.0, "p90": 35.0}},
                         "xla": timed}}
    sentence = explanations._served(report)
    assert "took 28.0 ms at the median and 35.0 ms at the 90th percentile" in sentence
    assert "`--jit_compile` (XLA), 9.5 ms at the median" in sentence
    assert explanations._served({}) == ""
