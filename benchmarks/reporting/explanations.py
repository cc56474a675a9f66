"""The explanations' faithfulness table, from the report that
`python -m benchmarks.explanation_faithfulness` writes (benchmarks/explanations.json); its
plot is `benchmarks.reporting.plots.explanation_deletion`."""

LABELS = {"kernel": "kernel (exact)", "gradient_x_input": "gradient x input",
          "integrated_gradients": "Integrated Gradients", "occlusion": "occlusion",
          "random": "random"}
# The methods the kernel view must beat on deletion (issue 28's goal).
RIVALS = ("gradient_x_input", "integrated_gradients", "occlusion")


def verdict(methods):
    """Whether the kernel's deletion AUC is below each rival's: "met", or "not met" naming the
    methods that did better or as well."""
    kernel = methods["kernel"]["deletion_auc"]
    better = [SHORT[m] for m in RIVALS if methods[m]["deletion_auc"] <= kernel]
    return "met" if not better else f"not met ({', '.join(better)} lower)"


SHORT = {"kernel": "kernel", "gradient_x_input": "grad x input",
         "integrated_gradients": "IG", "occlusion": "occlusion", "random": "random"}


def _row(name, cells):
    return f"| `{name}` | " + " | ".join(cells) + " |"


def markdown(report):
    """Three tables, one row per model: each method's deletion AUC (the lowest in bold) with
    the verdict; each method's insertion AUC; each method's time per document and Integrated
    Gradients' time over the kernel's. Then what was measured and how."""
    methods = list(LABELS)
    header = " | ".join(SHORT[m] for m in methods)
    deletion = [f"| model | documents | {header} | below every rival |",
                "|---|---|" + "---|" * (len(methods) + 1)]
    insertion = [f"| model | {header} |", "|---|" + "---|" * len(methods)]
    timed = methods[:-1]
    times = ["| model | " + " | ".join(SHORT[m] for m in timed) + " | IG / kernel |",
             "|---|" + "---|" * (len(timed) + 1)]
    for name, row in report["models"].items():
        m = row["methods"]
        best = min(m[x]["deletion_auc"] for x in methods)
        deletion.append(_row(name, [str(row["documents"])] + [
            f"**{m[x]['deletion_auc']:.3f}**" if m[x]["deletion_auc"] == best
            else f"{m[x]['deletion_auc']:.3f}" for x in methods] + [verdict(m)]))
        top = max(m[x]["insertion_auc"] for x in methods)
        insertion.append(_row(name, [
            f"**{m[x]['insertion_auc']:.3f}**" if m[x]["insertion_auc"] == top
            else f"{m[x]['insertion_auc']:.3f}" for x in methods]))
        ratio = (m["integrated_gradients"]["seconds_per_document"]
                 / m["kernel"]["seconds_per_document"])
        times.append(_row(name, [f"{1000 * m[x]['seconds_per_document']:.1f}" for x in timed]
                          + [f"{ratio:.1f}x"]))
    met = sum(verdict(r["methods"]) == "met" for r in report["models"].values())
    worst = max(r["relative_completeness_error"] for r in report["models"].values())
    return "\n".join(
        ["Deletion AUC (lower is better):", ""] + deletion
        + ["", "Insertion AUC (higher is better):", ""] + insertion
        + ["", "Milliseconds per document, each method's scores for the predicted class (the "
               "kernel's from the text, `explain(texts, classes=\"predicted\")`):", ""] + times
        + ["", f"The area under the predicted class's probability as tokens are removed from "
               f"(or put back into) the document in the order of each method's scores, at "
               f"{len(report['fractions'])} fractions of its tokens, on {report['dataset']} "
               f"{report['split']} documents; Integrated Gradients (IG) with "
               f"{report['ig_steps']} steps from the zero embedding. The kernel's deletion "
               f"AUC is below every rival's for {met} of {len(report['models'])} models. "
               f"Completeness: the largest |sum + constant - logit| over these documents was "
               f"{worst:.1e} of the largest |logit|." + _served(report)])


def _served(report):
    """The served `explain` signature's latency, plain and under XLA, when the report holds
    it."""
    served = report.get("served")
    if not served or "xla" not in served:
        return ""

    def timed(export):
        explain, forward = served[export]["explain"], served[export]["serving_default"]
        return (f"{explain['p50']:.1f} ms at the median and {explain['p90']:.1f} ms at the 90th "
                f"percentile (`serving_default`: {forward['p50']:.1f} ms)")
    return (f" The served `explain` signature of `{served['model']}` (SavedModel, one document "
            f"per request, {served['mean_tokens']:.0f} tokens on average, "
            f"{served['requests']} requests) took {timed('plain')}; exported with "
            f"`--jit_compile` (XLA), {timed('xla')}.")


def _outside(name, entry):
    """An entry outside the goal, as a list item: its float32 error, its float64 one and its
    largest share."""
    text = f"- `{name}`: {entry['max_relative_error']:.1e} in float32"
    if "float64_max_relative_error" in entry:
        text += f", {entry['float64_max_relative_error']:.0e} in float64"
    if "largest_share" in entry:
        text += f"; its largest share is {entry['largest_share']:.0e} x its largest logit"
    return text


def completeness_markdown(report):
    """One line per task: the entries checked, the inputs each, how many meet the goal and the
    largest relative error; then the entries outside the goal with their error in float64 and
    their largest share against the largest logit, and the entries skipped, if any (from
    benchmarks/explanation_completeness.json)."""
    entries = report["entries"]
    checked = {n: e for n, e in entries.items() if "skipped" not in e}
    lines = ["| task | entries | inputs each | within the goal in float32 | largest \\|sum + "
             "constant - logit\\| / max\\|logit\\| |", "|---|---|---|---|---|"]
    for task in sorted({e["task"] for e in checked.values()}):
        rows = {n: e for n, e in checked.items() if e["task"] == task}
        worst_name = max(rows, key=lambda n: rows[n]["max_relative_error"])
        worst = rows[worst_name]["max_relative_error"]
        within = sum(e["max_relative_error"] <= report["goal"] for e in rows.values())
        lines.append(f"| {task} | {len(rows)} | {report['inputs']} | {within} of {len(rows)} | "
                     f"{worst:.1e} (`{worst_name}`) |")
    lines += ["", f"The goal: at most {report['goal']:.0e}."]
    outside = [_outside(n, e) for n, e in checked.items()
               if e["max_relative_error"] > report["goal"]]
    if outside:
        lines[-1] += " Outside it in float32:"
        lines += [""] + outside
    skipped = {n: e["skipped"] for n, e in entries.items() if "skipped" in e}
    if skipped:
        lines += ["", "Skipped (no data here): " + "; ".join(
            f"`{n}` ({why})" for n, why in skipped.items())]
    return "\n".join(lines)
