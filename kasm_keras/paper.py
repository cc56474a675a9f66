"""The paper's reported numbers (Liang et al. 2019), to compare every measured result against."""

# Table 2: test accuracy (%), GloVe 300d, d = 300: {dataset: {variant: {ngram: accuracy}}}.
TABLE2_ACCURACY = {
    "ag_news": {
        "lstm": {1: 91.82, 3: 92.46}, "rkm_lstm": {1: 91.76, 3: 92.28},
        "rkm_cifg": {1: 92.29, 3: 92.39}, "linear_kernel_ot": {1: 92.07, 3: 91.49},
        "linear_kernel": {1: 91.62, 3: 91.50}, "gated_cnn": {1: 91.54, 3: 91.78},
        "cnn": {1: 91.20, 3: 91.53},
    },
    "dbpedia": {
        "lstm": {1: 98.98, 3: 98.97}, "rkm_lstm": {1: 98.97, 3: 99.00},
        "rkm_cifg": {1: 98.99, 3: 99.05}, "linear_kernel_ot": {1: 98.96, 3: 98.94},
        "linear_kernel": {1: 98.65, 3: 98.77}, "gated_cnn": {1: 98.37, 3: 98.77},
        "cnn": {1: 98.17, 3: 98.52},
    },
    "yahoo": {
        "lstm": {1: 77.74, 3: 77.72}, "rkm_lstm": {1: 77.70, 3: 77.72},
        "rkm_cifg": {1: 77.71, 3: 77.91}, "linear_kernel_ot": {1: 77.41, 3: 77.53},
        "linear_kernel": {1: 76.93, 3: 76.53}, "gated_cnn": {1: 72.92, 3: 76.66},
        "cnn": {1: 72.51, 3: 75.97},
    },
    "yelp": {
        "lstm": {1: 66.27, 3: 66.37}, "rkm_lstm": {1: 65.92, 3: 66.43},
        "rkm_cifg": {1: 65.93, 3: 65.92}, "linear_kernel_ot": {1: 65.35, 3: 65.94},
        "linear_kernel": {1: 61.18, 3: 62.11}, "gated_cnn": {1: 60.25, 3: 64.30},
        "cnn": {1: 59.77, 3: 62.08},
    },
}

# The independent PyTorch reproduction of Table 2 (NeurIPS 2019 Reproducibility Challenge report),
# as ../shared/paper/README.md quotes it: test accuracy (%), full training splits, GloVe 300d,
# s_i = s_f = 0.5 fixed: {dataset: {variant: {ngram: accuracy}}}. It reports every cell of Table 2;
# a cell it had no number for would be None.
PYTORCH_TABLE2_ACCURACY = {
    "ag_news": {
        "lstm": {1: 91.64, 3: 92.31}, "rkm_lstm": {1: 91.75, 3: 91.89},
        "rkm_cifg": {1: 91.76, 3: 92.42}, "linear_kernel_ot": {1: 91.42, 3: 91.21},
        "linear_kernel": {1: 89.50, 3: 89.59}, "gated_cnn": {1: 91.15, 3: 91.65},
        "cnn": {1: 89.56, 3: 89.70},
    },
    "dbpedia": {
        "lstm": {1: 98.83, 3: 98.97}, "rkm_lstm": {1: 98.98, 3: 98.97},
        "rkm_cifg": {1: 98.93, 3: 98.92}, "linear_kernel_ot": {1: 98.92, 3: 98.95},
        "linear_kernel": {1: 98.32, 3: 98.59}, "gated_cnn": {1: 97.93, 3: 98.78},
        "cnn": {1: 98.39, 3: 97.88},
    },
    "yahoo": {
        "lstm": {1: 76.39, 3: 76.52}, "rkm_lstm": {1: 76.30, 3: 76.64},
        "rkm_cifg": {1: 76.13, 3: 76.69}, "linear_kernel_ot": {1: 76.26, 3: 76.70},
        "linear_kernel": {1: 74.41, 3: 75.61}, "gated_cnn": {1: 63.92, 3: 71.57},
        "cnn": {1: 73.77, 3: 74.29},
    },
    "yelp": {
        "lstm": {1: 64.15, 3: 64.93}, "rkm_lstm": {1: 64.14, 3: 65.68},
        "rkm_cifg": {1: 64.80, 3: 65.54}, "linear_kernel_ot": {1: 61.62, 3: 65.30},
        "linear_kernel": {1: 61.37, 3: 61.18}, "gated_cnn": {1: 62.07, 3: 64.50},
        "cnn": {1: 55.19, 3: 61.02},
    },
}

# Table 3: perplexity with AWD-LSTM as the base model (its recurrent layers replaced by each
# cell): {corpus: {variant: {"valid": perplexity, "test": perplexity}}}.
TABLE3_PERPLEXITY = {
    "ptb": {
        "lstm": {"valid": 61.2, "test": 58.9}, "rkm_lstm": {"valid": 60.3, "test": 58.2},
        "rkm_cifg": {"valid": 61.9, "test": 59.5},
        "linear_kernel_ot": {"valid": 72.3, "test": 69.7},
    },
    "wikitext2": {
        "lstm": {"valid": 68.74, "test": 65.68}, "rkm_lstm": {"valid": 67.85, "test": 65.22},
        "rkm_cifg": {"valid": 69.12, "test": 66.03},
        "linear_kernel_ot": {"valid": 84.23, "test": 80.21},
    },
}

# AWD-LSTM's own result (Merity et al. 2017, PTB, without fine-tuning), the base model of Table 3:
# {corpus: {"valid": perplexity, "test": perplexity}}.
AWD_LSTM_PERPLEXITY = {"ptb": {"valid": 61.2, "test": 58.8}}

# The PyTorch reproduction's language model (AWD-LSTM base, layer norm added, hidden 400): RKM-CIFG
# on PTB only, stopped early for lack of compute: {corpus: {variant: {"valid", "test"}}}.
PYTORCH_TABLE3_PERPLEXITY = {"ptb": {"rkm_cifg": {"valid": 195.98, "test": 173.63}}}

PERPLEXITY_SPLITS = ("valid", "test")

# Table 4: classification of multichannel mouse local field potentials (LFP), mean leave-one-out
# accuracy (%) across animals: {variant: accuracy}. The recordings are not public, so nothing
# here is measured on them; Table 4 calls its LSTM row "n-gram LSTM" and gives no n per row.
TABLE4_ACCURACY = {
    "lstm": 80.24, "rkm_lstm": 79.02, "rkm_cifg": 77.58, "linear_kernel_ot": 76.11,
    "linear_kernel": 73.13, "gated_cnn": 76.02, "cnn": 73.40,
}
TABLE4_DATA = "mouse local field potentials (not public), mean leave-one-out accuracy across animals"


def table2_accuracy(dataset, variant, ngram):
    """The paper's test accuracy for a cell of Table 2, to compare a trained classifier with.

    Args:
        dataset: "ag_news", "dbpedia", "yahoo" or "yelp".
        variant: a name from `kasm_keras.VARIANTS`.
        ngram: the n-gram width n.

    Returns:
        The accuracy in % (a float), or None where the paper reports none (n other than 1
            and 3, another dataset).

    Examples:
        >>> from kasm_keras import paper
        >>> paper.table2_accuracy("ag_news", "rkm_cifg", 1)
        92.29
        >>> paper.table2_accuracy("ag_news", "rkm_cifg", 2) is None  # n = 1 and 3 only
        True
    """
    return TABLE2_ACCURACY.get(dataset, {}).get(variant, {}).get(ngram)


def pytorch_table2_accuracy(dataset, variant, ngram):
    """The PyTorch reproduction's test accuracy for a cell of Table 2.

    Args:
        dataset: "ag_news", "dbpedia", "yahoo" or "yelp".
        variant: a name from `kasm_keras.VARIANTS`.
        ngram: the n-gram width n.

    Returns:
        The accuracy in % (a float), or None where the reproduction reports none.

    Examples:
        >>> from kasm_keras import paper
        >>> paper.pytorch_table2_accuracy("ag_news", "rkm_cifg", 3)
        92.42
    """
    return PYTORCH_TABLE2_ACCURACY.get(dataset, {}).get(variant, {}).get(ngram)


def _check_split(split):
    if split not in PERPLEXITY_SPLITS:
        raise ValueError(f"split must be one of {PERPLEXITY_SPLITS}, got {split!r}")


def table3_perplexity(corpus, variant, split="test"):
    """The paper's perplexity for a cell of Table 3, to compare a trained language model with.

    Args:
        corpus: "ptb" or "wikitext2".
        variant: a name from `kasm_keras.VARIANTS`.
        split: "valid" or "test".

    Returns:
        The perplexity (a float), or None where the paper reports none.

    Raises:
        ValueError: `split` is neither "valid" nor "test".

    Examples:
        >>> from kasm_keras import paper
        >>> paper.table3_perplexity("ptb", "rkm_lstm"), paper.table3_perplexity("ptb", "cnn")
        (58.2, None)
    """
    _check_split(split)
    return TABLE3_PERPLEXITY.get(corpus, {}).get(variant, {}).get(split)


def pytorch_table3_perplexity(corpus, variant, split="test"):
    """The PyTorch reproduction's perplexity for a cell of Table 3.

    Args:
        corpus: "ptb" or "wikitext2".
        variant: a name from `kasm_keras.VARIANTS`.
        split: "valid" or "test".

    Returns:
        The perplexity (a float), or None where the reproduction reports none (every cell
            but PTB's RKM-CIFG).

    Raises:
        ValueError: `split` is neither "valid" nor "test".

    Examples:
        >>> from kasm_keras import paper
        >>> paper.pytorch_table3_perplexity("ptb", "rkm_cifg", "valid")
        195.98
    """
    _check_split(split)
    return PYTORCH_TABLE3_PERPLEXITY.get(corpus, {}).get(variant, {}).get(split)


def table4_accuracy(variant):
    """The paper's Table 4 accuracy for a variant, on the mouse LFP recordings (`TABLE4_DATA`).

    Args:
        variant: a name from `kasm_keras.VARIANTS`.

    Returns:
        The mean leave-one-out accuracy in % (a float), or None for a name not in Table 4.

    Examples:
        >>> from kasm_keras import paper
        >>> paper.table4_accuracy("rkm_cifg")
        77.58
    """
    return TABLE4_ACCURACY.get(variant)
