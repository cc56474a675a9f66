"""The paper's three claims about Table 2, judged on measured test accuracies and their seed
noise.

A dataset's `cells` are `{(variant, ngram): [test accuracy in % of each seed]}`; a cell with one
number is one run. Every rule compares means over seeds, and a difference counts only beyond
`Z` standard deviations of seed noise:

- sigma, the seed noise of a dataset: the pooled standard deviation of test accuracy over the
  seeds of each cell that has two or more (sum of (k - 1) s^2 over sum of (k - 1)). A dataset
  without such a cell borrows sigma pooled over every dataset's cells, and says so; with none
  anywhere, there is no verdict.
- the noise of a mean over k seeds is sigma^2 / k; of a difference of means, the sum of theirs.

The claims (`RULES` states each as the Results page prints it):

1. "RKM-LSTM and RKM-CIFG perform comparably to LSTM" (per n): for rkm_lstm and rkm_cifg,
   |mean - lstm's mean| <= Z standard deviations of that difference.
2. "accuracy falls as gating and memory are removed" (per n): the order lstm / rkm_lstm /
   rkm_cifg (their mean) > linear_kernel_ot > linear_kernel > gated_cnn > cnn. Supported when no
   step of the order rises by more than Z standard deviations and the whole fall, from the
   gated three to cnn, exceeds Z standard deviations.
3. "3-gram inputs help the feed-forward variants most": the mean 3-gram minus 1-gram gain of
   gated_cnn and cnn exceeds the mean gain of the five recurrent variants by more than Z
   standard deviations.

A rule needs every cell it names; otherwise its verdict is "not enough entries" with the missing
cells. The paper's and the PyTorch reproduction's single numbers are judged by the same rules
with the same sigma (each of their cells counting as one seed).
"""

import dataclasses
import math

GATED = ("lstm", "rkm_lstm", "rkm_cifg")
ORDER = (GATED, ("linear_kernel_ot",), ("linear_kernel",), ("gated_cnn",), ("cnn",))
FEED_FORWARD = ("gated_cnn", "cnn")
RECURRENT = ("lstm", "rkm_lstm", "rkm_cifg", "linear_kernel_ot", "linear_kernel")
Z = 2.0  # standard deviations of seed noise a difference must exceed to count

SUPPORTED, NOT_SUPPORTED, NOT_ENOUGH = "supported", "not supported", "not enough entries"

COMPARABLE = "RKM-LSTM and RKM-CIFG perform comparably to LSTM"
FALLS = "accuracy falls as gating and memory are removed"
NGRAM = "3-gram inputs help the feed-forward variants most"
RULES = {
    COMPARABLE: "for rkm_lstm and rkm_cifg, |mean - lstm's mean| <= 2 sd of the difference",
    FALLS: "lstm/rkm_lstm/rkm_cifg (their mean) > linear_kernel_ot > linear_kernel > gated_cnn > "
           "cnn: no step rises by more than 2 sd, and the whole fall exceeds 2 sd",
    NGRAM: "mean 3-gram minus 1-gram gain of gated_cnn and cnn exceeds that of the five recurrent "
           "variants by more than 2 sd",
}


@dataclasses.dataclass(frozen=True)
class Verdict:
    verdict: str  # SUPPORTED, NOT_SUPPORTED or NOT_ENOUGH
    evidence: str  # the numbers, or the missing cells

    def __str__(self):
        return f"{self.verdict}: {self.evidence}" if self.evidence else self.verdict


@dataclasses.dataclass(frozen=True)
class Noise:
    sigma: float
    cells: int  # cells with two or more seeds that measured it
    borrowed: bool  # pooled over every dataset, the dataset itself having no such cell


def _mean(values):
    return sum(values) / len(values)


def pooled_sd(cell_lists):
    """(sigma, cells) over the lists of two or more seeds' accuracies, or None without one."""
    lists = [v for v in cell_lists if len(v) >= 2]
    if not lists:
        return None
    squares = sum(sum((x - _mean(v)) ** 2 for x in v) for v in lists)
    return math.sqrt(squares / sum(len(v) - 1 for v in lists)), len(lists)


def seed_noise(cells_by_dataset, dataset):
    """The dataset's `Noise`, borrowed from every dataset's seeds when it has none; None when no
    cell anywhere has two seeds."""
    own = pooled_sd(cells_by_dataset.get(dataset, {}).values())
    if own:
        return Noise(own[0], own[1], False)
    every = pooled_sd([v for cells in cells_by_dataset.values() for v in cells.values()])
    return Noise(every[0], every[1], True) if every else None


def _missing(cells, wanted):
    """The cells of `wanted` without entries, named (or counted, when none has one)."""
    missing = [f"{v} {n}g" for v, n in wanted if not cells.get((v, n))]
    if missing and len(missing) == len(wanted):
        return [f"all {len(wanted)} cells it needs"]
    return missing


def _group(cells, variants, ngram, sigma):
    """Mean over `variants`' cell means and its standard deviation."""
    means = [_mean(cells[(v, ngram)]) for v in variants]
    variance = sum(sigma ** 2 / len(cells[(v, ngram)]) for v in variants) / len(variants) ** 2
    return _mean(means), variance


def _not_enough(missing):
    return Verdict(NOT_ENOUGH, f"missing {', '.join(missing)}")


def comparable_to_lstm(cells, ngram, sigma):
    """Claim 1 at width `ngram`: supported when, for rkm_lstm and rkm_cifg each,
    |mean - lstm's mean| <= Z sd of the difference (sd = sigma sqrt(1/k + 1/k_lstm))."""
    missing = _missing(cells, [(v, ngram) for v in GATED])
    if missing:
        return _not_enough(missing)
    lstm, lstm_var = _group(cells, ["lstm"], ngram, sigma)
    parts, ok = [], True
    for variant in GATED[1:]:
        mean, var = _group(cells, [variant], ngram, sigma)
        bound = Z * math.sqrt(var + lstm_var)
        ok &= abs(mean - lstm) <= bound
        parts.append(f"{variant} {mean - lstm:+.2f} (bound ±{bound:.2f})")
    return Verdict(SUPPORTED if ok else NOT_SUPPORTED, "; ".join(parts))


def falls_as_gating_is_removed(cells, ngram, sigma):
    """Claim 2 at width `ngram`: along ORDER (the gated three as their mean, then
    linear_kernel_ot, linear_kernel, gated_cnn, cnn), supported when no step rises by more than
    Z sd of that step's difference and the whole fall, gated three minus cnn, exceeds Z sd of
    its own. The evidence lists each step's fall (positive: accuracy fell)."""
    missing = _missing(cells, [(v, ngram) for group in ORDER for v in group])
    if missing:
        return _not_enough(missing)
    groups = [_group(cells, group, ngram, sigma) for group in ORDER]
    falls, ok = [], True
    for (a, a_var), (b, b_var) in zip(groups, groups[1:]):
        bound = Z * math.sqrt(a_var + b_var)
        ok &= a - b >= -bound
        falls.append(f"{a - b:+.2f}")
    total = groups[0][0] - groups[-1][0]
    total_bound = Z * math.sqrt(groups[0][1] + groups[-1][1])
    ok &= total > total_bound
    return Verdict(SUPPORTED if ok else NOT_SUPPORTED,
                   f"falls {', '.join(falls)}; total {total:+.2f} (bound {total_bound:.2f})")


def ngram_helps_feed_forward(cells, sigma):
    """Claim 3: supported when the mean 3-gram minus 1-gram gain of FEED_FORWARD exceeds the
    mean gain of RECURRENT by more than Z sd of that difference (all 14 cells needed)."""
    missing = _missing(cells, [(v, n) for v in FEED_FORWARD + RECURRENT for n in (1, 3)])
    if missing:
        return _not_enough(missing)

    def gain(variants):
        three, three_var = _group(cells, variants, 3, sigma)
        one, one_var = _group(cells, variants, 1, sigma)
        return three - one, three_var + one_var

    (ff, ff_var), (rec, rec_var) = gain(FEED_FORWARD), gain(RECURRENT)
    bound = Z * math.sqrt(ff_var + rec_var)
    return Verdict(SUPPORTED if ff - rec > bound else NOT_SUPPORTED,
                   f"gain feed-forward {ff:+.2f}, recurrent {rec:+.2f}; "
                   f"difference {ff - rec:+.2f} (bound {bound:.2f})")


def judge(cells, sigma):
    """[(claim, n, Verdict)] for one dataset's cells; n is "3 vs 1" for the n-gram claim."""
    rows = []
    for ngram in (1, 3):
        rows.append((COMPARABLE, str(ngram), comparable_to_lstm(cells, ngram, sigma)))
    for ngram in (1, 3):
        rows.append((FALLS, str(ngram), falls_as_gating_is_removed(cells, ngram, sigma)))
    rows.append((NGRAM, "3 vs 1", ngram_helps_feed_forward(cells, sigma)))
    return rows


def _reference(verdict):
    """The paper's or the reproduction's verdict, in the words of a check on published numbers."""
    if verdict.verdict == NOT_ENOUGH:
        return str(verdict)
    words = "holds" if verdict.verdict == SUPPORTED else "does not hold"
    return f"{words}: {verdict.evidence}"


def single(table):
    """{dataset: {variant: {ngram: accuracy}}} (the paper's layout) as cells of one seed each."""
    return {dataset: {(v, n): [acc] for v, by_n in variants.items() for n, acc in by_n.items()
                      if acc is not None}
            for dataset, variants in table.items()}


def markdown_table(cells_by_dataset, datasets, paper_table, pytorch_table):
    """The claims table: for each dataset and claim, our verdict beside what the same rule says
    of the paper's and the PyTorch reproduction's numbers, and the rules below it."""
    paper_cells, pytorch_cells = single(paper_table), single(pytorch_table)
    lines = ["| dataset | claim | n | seed noise sd | our checkpoints | paper's numbers | "
             "PyTorch reproduction's |", "|---|---|---|---|---|---|---|"]
    for dataset in datasets:
        noise = seed_noise(cells_by_dataset, dataset)
        if noise is None:
            sd = "none measured"
        else:
            sd = f"{noise.sigma:.2f} ({'every dataset' if noise.borrowed else dataset}, " \
                 f"{noise.cells} cell{'s' if noise.cells > 1 else ''})"
        sigma = noise.sigma if noise else 0.0
        judged = [judge(cells.get(dataset, {}), sigma)
                  for cells in (cells_by_dataset, paper_cells, pytorch_cells)]
        for i, ((claim, ngram, ours), (*_, paper), (*_, pytorch)) in enumerate(zip(*judged)):
            if noise is None:
                if ours.verdict != NOT_ENOUGH:
                    ours = Verdict(NOT_ENOUGH, "no seed noise measured (no cell has two seeds)")
                paper = pytorch = "no seed noise measured"
            else:
                paper, pytorch = _reference(paper), _reference(pytorch)
            lines.append(f"| {dataset} | {claim} | {ngram} | {sd if i == 0 else ''} | "
                         f"**{ours.verdict}**: {ours.evidence} | {paper} | {pytorch} |")
    lines += ["", "Rules (benchmarks/reporting/claims.py; sd: standard deviation of the "
                  "difference, from the dataset's seed noise; means over seeds):"]
    lines += [f"- {claim}: {rule}." for claim, rule in RULES.items()]
    return "\n".join(lines)
