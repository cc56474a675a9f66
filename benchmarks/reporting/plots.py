"""The documentation's plots, as SVG text, from the files the tools write: the registry and
seed_runs.json (accuracy beside the paper's and the reproduction's), the language-model entries'
metadata.json (validation perplexity by epoch) and benchmarks/latest.json (speed and memory
against sequence length and batch)."""

import io
import json
import os

import matplotlib

matplotlib.use("svg")
from matplotlib import pyplot, ticker  # noqa: E402  (after the backend is chosen)

from kasm_keras import VARIANTS, zoo  # noqa: E402
from benchmarks.reporting import explanations, results  # noqa: E402

COLOURS = {"measured": "#1f77b4", "paper": "#d62728", "reproduction": "#7f7f7f"}


def _svg(figure):
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    pyplot.close(figure)
    # matplotlib stamps the creation date; without it the same files give the same plot.
    return "\n".join(line for line in buffer.getvalue().splitlines() if "<dc:date>" not in line)


def accuracy(zoo_dir=None):
    """Test accuracy of every published classification cell (mean over seeds, with one standard
    deviation as its bar) beside the paper's Table 2 and the PyTorch reproduction's, one panel
    per dataset."""
    accuracies, _ = results.seed_accuracies(zoo_dir)
    datasets = sorted({name.split("/")[0] for name in accuracies})
    figure, axes = pyplot.subplots(len(datasets), 1, figsize=(10, 3.6 * len(datasets)),
                                   squeeze=False)
    for axis, dataset in zip(axes[:, 0], datasets):
        names = [n for n in zoo.names(zoo_dir, task=zoo.CLASSIFICATION)
                 if n.startswith(f"{dataset}/")]
        names.sort(key=lambda n: (zoo.info(n, zoo_dir)["ngram"],
                                  VARIANTS.index(zoo.info(n, zoo_dir)["variant"])))
        x = range(len(names))
        stats = [results.mean_sd([v for _, v, _ in accuracies[n]]) for n in names]
        infos = [zoo.info(n, zoo_dir) for n in names]
        axis.errorbar([i - 0.2 for i in x], [m for m, _ in stats],
                      yerr=[sd or 0 for _, sd in stats], fmt="o", capsize=4,
                      color=COLOURS["measured"], label="this zoo (mean ± sd over seeds)")
        axis.plot([i for i in x], [info.get("paper_accuracy") for info in infos], "s",
                  color=COLOURS["paper"], label="paper (Table 2)")
        axis.plot([i + 0.2 for i in x], [info.get("pytorch_accuracy") for info in infos], "^",
                  color=COLOURS["reproduction"], label="PyTorch reproduction")
        axis.set_xticks(list(x))
        axis.set_xticklabels([n.split("/")[1] for n in names], rotation=40, ha="right")
        axis.set_ylabel("test accuracy (%)")
        axis.set_title(dataset)
        axis.grid(axis="y", alpha=0.3)
    axes[0, 0].legend(loc="upper center", bbox_to_anchor=(0.5, 1.35), ncol=3)
    figure.tight_layout()
    return _svg(figure)


def perplexity_history(zoo_dir=None):
    """Validation perplexity by epoch of each published language model, from the history its
    training run recorded in the entry's metadata.json."""
    figure, axis = pyplot.subplots(figsize=(8, 4.5))
    for name in zoo.names(zoo_dir, task=zoo.LANGUAGE_MODEL):
        info = zoo.info(name, zoo_dir)
        with open(os.path.join(zoo.entry_dir(name, zoo_dir), "metadata.json")) as f:
            history = json.load(f)["kasm_keras"]["metrics"]["history"]
        per_epoch = info["steps_per_epoch"]
        axis.plot([h["step"] / per_epoch for h in history],
                  [h["val_perplexity"] for h in history], label=name)
    axis.set_yscale("log")
    axis.yaxis.set_major_formatter(ticker.ScalarFormatter())
    axis.yaxis.set_minor_formatter(ticker.FormatStrFormatter("%.0f"))
    axis.set_xlabel("epoch")
    axis.set_ylabel("validation perplexity (log scale)")
    axis.grid(alpha=0.3, which="both")
    axis.legend()
    figure.tight_layout()
    return _svg(figure)


def scaling(report):
    """Training tokens/s and peak memory against sequence length (at a fixed batch) and against
    batch (at a fixed length), for each layer of `report["scaling"]` (benchmarks/latest.json)."""
    scaling = report["scaling"]
    figure, axes = pyplot.subplots(2, 2, figsize=(10, 7))
    for layer, curves in scaling["layers"].items():
        for column, along in enumerate(("length", "batch")):
            points = curves[along]["points"]
            x = [p["time" if along == "length" else "batch"] for p in points]
            axes[0, column].plot(x, [p["train_tokens_per_second"] for p in points], "o-",
                                 label=layer)
            axes[1, column].plot(x, [p["peak_memory_mib"] for p in points], "o-", label=layer)
    fixed = next(iter(scaling["layers"].values()))
    titles = (f"against sequence length (batch {fixed['length']['batch']})",
              f"against batch (length {fixed['batch']['time']})")
    for column, title in enumerate(titles):
        axes[0, column].set_title(title)
        axes[1, column].set_xlabel("sequence length" if column == 0 else "batch")
        for row in (0, 1):
            axes[row, column].set_xscale("log", base=2)
            ticks = [p["time" if column == 0 else "batch"]
                     for p in fixed["length" if column == 0 else "batch"]["points"]]
            axes[row, column].set_xticks(ticks, [str(t) for t in ticks])
            axes[row, column].grid(alpha=0.3)
    axes[0, 0].set_ylabel("training tokens/s")
    axes[1, 0].set_ylabel("peak memory (MiB)")
    axes[0, 0].legend()
    figure.suptitle(f"{scaling['precision']}, d = {scaling['units']}; "
                    f"{report['machine']['cpu']}, {report['machine']['cores']} cores")
    figure.tight_layout()
    return _svg(figure)


def explanation_deletion(report):
    """The mean deletion curve of each method, one panel per model, as SVG text."""
    names = list(report["models"])
    columns = min(4, len(names))
    rows = -(-len(names) // columns)
    figure, axes = pyplot.subplots(rows, columns, figsize=(3.2 * columns, 2.9 * rows),
                                   squeeze=False, sharey=True)
    for axis, name in zip(axes.flat, names):
        for method, values in report["models"][name]["methods"].items():
            axis.plot(report["fractions"], values["deletion_curve"],
                      label=explanations.LABELS[method], linewidth=2.2 if method == "kernel" else 1.2)
        axis.set_title(name.split("/")[1], fontsize=10)
        axis.set_xlabel("fraction of tokens removed")
        axis.grid(alpha=0.3)
    for axis in axes[:, 0]:
        axis.set_ylabel("P(predicted class)")
    for axis in list(axes.flat)[len(names):]:
        axis.axis("off")
    axes[0, 0].legend(fontsize=8)
    figure.tight_layout()
    return _svg(figure)


def memory_by_lag(report):
    """The weight of a token `lag` steps back in the recurrent layer's state, relative to the
    current token's (the memory kernel averaged by lag, benchmarks/memory_by_lag.json), one
    line per variant, one panel per n-gram width."""
    widths = sorted({int(name.rsplit("_", 1)[1][:-len("gram")]) for name in report["models"]})
    figure, axes = pyplot.subplots(1, len(widths), figsize=(5.2 * len(widths), 4),
                                   squeeze=False, sharey=True)
    for axis, width in zip(axes[0], widths):
        for name, row in report["models"].items():
            if not name.endswith(f"_{width}gram") or not row["relative"]:
                continue
            lags = [lag for lag, value in enumerate(row["relative"]) if value > 0]
            axis.plot(lags, [row["relative"][lag] for lag in lags], "o-", markersize=3,
                      label=name.split("/")[1].rsplit("_", 1)[0])
        axis.set_yscale("log")
        axis.set_title(f"{width}-gram ({report['dataset']}, {report['documents']} documents)")
        axis.set_xlabel("lag (tokens back)")
        axis.grid(alpha=0.3, which="both")
    axes[0, 0].set_ylabel("weight in the state, relative to lag 0")
    axes[0, 0].legend(fontsize=8)
    figure.tight_layout()
    return _svg(figure)
