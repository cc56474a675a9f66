"""Names that are a grid of cells, `<dataset>/<variant>_<n>gram` (the paper's Table 2 and the
time-series entries): the `CellNames` family base and the functions that make, split and list
such names."""

from kasm_keras.models.task_family import TaskFamily

class CellNames(TaskFamily):
    """A TaskFamily whose names are a grid of cells, `<dataset>/<variant>_<n>gram`:
    `datasets` x `ngrams` x `variants`, in that order.

    Examples:
        >>> from kasm_keras.models import cell_names, task_family
        >>> class Grid(cell_names.CellNames, task_family.TaskFamily):
        ...     datasets, variants, ngrams = ("ag_news",), ("lstm", "rkm_lstm"), (1, 3)
        >>> Grid().names()[1:3]
        ['ag_news/rkm_lstm_1gram', 'ag_news/lstm_3gram']
        >>> Grid().parse_name("ag_news/rkm_lstm_3gram")
        ('ag_news', 'rkm_lstm', 3)
    """

    datasets = ()
    variants = ()
    ngrams = ()

    def names(self):
        """Every cell's name, published or not, ordered by dataset, n-gram width, variant.

        Returns:
            A list of names (str).
        """
        return [cell_name(d, v, n) for d in self.datasets for n in self.ngrams
                for v in self.variants]

    def parse_name(self, name):
        """The parts of a cell's name.

        Args:
            name: A zoo name.

        Returns:
            (dataset, variant, ngram) when `name` is one of `names()`, else None.
        """
        return split_cell_name(name) if name in self.names() else None

    def run_name(self, metrics):
        return cell_name(metrics["dataset"], metrics["model"], metrics["ngram"])

    def train_command(self, name, run):
        dataset, variant, ngram = self.parse_name(name)
        return (f"python tools/train.py --model={variant} --dataset={dataset} --ngram={ngram} "
                f"--model_dir={run}")

    def unpublished_lines(self, names, width):
        return cell_lines(names, self.variants, self.ngrams, self.without_data, width)


def cell_name(dataset, variant, ngram):
    """The zoo name of a classifier's cell: `<dataset>/<variant>_<n>gram`.

    Args:
        dataset: The dataset's name.
        variant: The cell variant, e.g. "rkm_cifg".
        ngram: The n-gram width (int).

    Returns:
        The name (str).

    Examples:
        >>> from kasm_keras.models import cell_names
        >>> cell_names.cell_name("ag_news", "rkm_cifg", 1)
        'ag_news/rkm_cifg_1gram'
    """
    return f"{dataset}/{variant}_{ngram}gram"


def split_cell_name(name):
    """The parts of a `<dataset>/<variant>_<n>gram` name (`cell_name`'s inverse).

    Args:
        name: A cell's name; not checked against any family's names.

    Returns:
        (dataset, variant, ngram), ngram an int.

    Examples:
        >>> from kasm_keras.models import cell_names
        >>> cell_names.split_cell_name("dbpedia/rkm_lstm_3gram")
        ('dbpedia', 'rkm_lstm', 3)
    """
    dataset, rest = name.split("/")
    variant, ngram = rest.rsplit("_", 1)
    return dataset, variant, int(ngram[:-len("gram")])


def cell_lines(names, variants, ngrams, without_data, width):
    """`tools/zoo.py list`'s lines for unpublished `<dataset>/<variant>_<n>gram` names: one per
    dataset whose every cell is missing, else one per n-gram width.

    Args:
        names: The unpublished names.
        variants: Every variant of the grid.
        ngrams: Every n-gram width of the grid.
        without_data: Datasets whose lines say that their data was not available.
        width: The width of the first column (the dataset's).

    Returns:
        A list of lines (str).

    Examples:
        >>> from kasm_keras.models import cell_names
        >>> cell_names.cell_lines(["yelp/lstm_3gram", "yelp/rkm_lstm_3gram"], ("lstm", "rkm_lstm"),
        ...                        (1, 3), ("yelp",), 8)
        ['  yelp     3gram: every variant (its data was not available here)']
    """
    missing = {}
    for name in names:
        dataset, variant, ngram = split_cell_name(name)
        missing.setdefault(dataset, {}).setdefault(ngram, []).append(variant)
    lines = []
    for dataset, by_ngram in missing.items():
        note = " (its data was not available here)" if dataset in without_data else ""
        if sorted(by_ngram) == list(ngrams) and all(len(v) == len(variants)
                                                    for v in by_ngram.values()):
            lines.append(f"  {dataset:<{width}} every variant, "
                         f"{' and '.join(f'{n}gram' for n in ngrams)}{note}")
            continue
        for i, (ngram, shown) in enumerate(sorted(by_ngram.items())):
            shown = "every variant" if len(shown) == len(variants) else ", ".join(shown)
            lines.append(f"  {dataset if i == 0 else '':<{width}} {ngram}gram: {shown}"
                         f"{note if i == 0 else ''}")
    return lines
