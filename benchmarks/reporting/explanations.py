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
    better = [LABELS[m] for m in RIVALS if methods[m]["deletion_auc"] <= kernel]
    return "met" if not better else f"not met ({', '.join(better)} as low or lower)"


def markdown(report):
    """One row per model: each method's deletion and insertion AUC, time per document, the
    kernel's speed-up over Integrated Gradients, and the verdict."""
    methods = list(LABELS)
    head = ("| model | documents | " + " | ".join(f"deletion: {LABELS[m]}" for m in methods)
            + " | insertion: kernel / IG / occlusion | ms per document: "
            + " / ".join(LABELS[m] for m in methods[:-1])
            + " | IG's time / kernel's | deletion below every rival |")
    lines = [head, "|---|" + "---|" * (len(methods) + 5)]
    for name, row in report["models"].items():
        m = row["methods"]
        best = min(m[x]["deletion_auc"] for x in methods)
        cells = [(f"**{m[x]['deletion_auc']:.3f}**" if m[x]["deletion_auc"] == best
                  else f"{m[x]['deletion_auc']:.3f}") for x in methods]
        insertion = " / ".join(f"{m[x]['insertion_auc']:.3f}"
                               for x in ("kernel", "integrated_gradients", "occlusion"))
        times = " / ".join(f"{1000 * m[x]['seconds_per_document']:.2f}" for x in methods[:-1])
        speedup = (m["integrated_gradients"]["seconds_per_document"]
                   / m["kernel"]["seconds_per_document"])
        lines.append(f"| `{name}` | {row['documents']} | " + " | ".join(cells)
                     + f" | {insertion} | {times} | {speedup:.1f}x | {verdict(m)} |")
    met = sum(verdict(r["methods"]) == "met" for r in report["models"].values())
    worst = max(r["relative_completeness_error"] for r in report["models"].values())
    lines += ["", f"Deletion AUC (lower is better) and insertion AUC (higher is better) of the "
                  f"predicted class's probability, as tokens are removed from (or put back into) "
                  f"the document in the order of each method's scores, at "
                  f"{len(report['fractions'])} fractions of its tokens; {report['dataset']} "
                  f"{report['split']} documents; Integrated Gradients with "
                  f"{report['ig_steps']} steps from the zero embedding. The kernel's deletion "
                  f"AUC is below every rival's for {met} of {len(report['models'])} models. "
                  f"Completeness: the largest |sum + constant - logit| over these documents was "
                  f"{worst:.1e} of the largest |logit|."]
    return "\n".join(lines)
