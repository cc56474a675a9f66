"""The documentation site's generated parts, as MkDocs hooks (mkdocs.yml names this file): the
tables the pages cite as `<!-- block: NAME -->`, one model card per registry entry, the plots, and
one API reference page per public subpackage of kasm_keras. Everything is made when the site is
built, from the files the tools wrote (the registry, seed_runs.json, benchmarks/latest.json, the
entries' metadata.json) and the package's docstrings; nothing generated is committed.
"""

import functools
import importlib
import json
import os
import pathlib
import pkgutil
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # mkdocs loads this file by path; the modules below live beside it
    sys.path.insert(0, str(ROOT))

from benchmarks.reporting import (  # noqa: E402
    benchmark, explanations, plots, variants, zoo_cards)
from kasm_keras import zoo  # noqa: E402

PACKAGE = ROOT / "kasm_keras"
LATEST = ROOT / "benchmarks" / "latest.json"
EXPLANATIONS = ROOT / "benchmarks" / "explanations.json"  # benchmarks/explanation_faithfulness.py
MEMORY_BY_LAG = ROOT / "benchmarks" / "memory_by_lag.json"  # benchmarks/memory_by_lag.py
COMPLETENESS = ROOT / "benchmarks" / "explanation_completeness.json"  # ...completeness.py
BLOCK = re.compile(r"^<!-- block: (\w+) -->$", re.M)
ZOO_NAV, REFERENCE_NAV = "Model zoo", "API reference"


@functools.cache
def _results_blocks():
    from benchmarks import results  # the tables tools/results.py prints

    return results.tables()[0]


def _latest():
    return json.loads(LATEST.read_text())


# The settings of a classifier's recipe, in the order the recipes table shows them.
RECIPE_FIELDS = ("units", "ngram", "layer_norm", "epochs", "batch_size", "learning_rate",
                 "dropout", "validation_fraction", "eval_every", "precision")


def classifier_recipes():
    """The classifiers' recipes as the code holds them: the defaults of ClassifierConfig
    (documents) and TimeSeriesConfig (time series)."""
    from kasm_keras.training.classifier_config import ClassifierConfig
    from kasm_keras.training.time_series import TimeSeriesConfig

    configs = {"documents (`ClassifierConfig`)": ClassifierConfig,
               "time series (`TimeSeriesConfig`)": TimeSeriesConfig}
    lines = ["| setting | " + " | ".join(configs) + " |", "|---|" + "---|" * len(configs)]
    lines += [f"| `{field}` | " + " | ".join(str(getattr(c, field)) for c in configs.values())
              + " |" for field in RECIPE_FIELDS]
    return "\n".join(lines)


# The test modules that hold the promises of the reliability page.
RELIABILITY_TESTS = ("test_faults_*.py", "test_training_resume.py", "test_download.py",
                     "test_zoo_release.py")


def reliability_tests():
    """Each reliability test module with the first paragraph of its docstring."""
    import ast

    lines = ["| test | what it holds |", "|---|---|"]
    for pattern in RELIABILITY_TESTS:
        for path in sorted((ROOT / "tests").glob(pattern)):
            doc = ast.get_docstring(ast.parse(path.read_text())) or ""
            first = " ".join(doc.split("\n\n")[0].split())
            lines.append(f"| `tests/{path.name}` | {first} |")
    return "\n".join(lines)


# Every table a page may cite, by name: {name: function() -> Markdown}.
BLOCKS = {
    "variants": variants.markdown_table,
    "classifier_recipes": classifier_recipes,
    "reliability_tests": reliability_tests,
    **{name: functools.partial(lambda n: _results_blocks()[n], name)
       for name in ("results", "claims", "language_models", "time_series",
                    "language_model_recipes")},
    "benchmark": lambda: benchmark.markdown(_latest()),
    "explanations": lambda: explanations.markdown(json.loads(EXPLANATIONS.read_text())),
    "explanation_completeness": lambda: explanations.completeness_markdown(
        json.loads(COMPLETENESS.read_text())),
    "zoo_entries": zoo_cards.entries_block,
    "zoo": zoo_cards.summary_block,
}

# Every plot, by the path the pages link: {path under the site: function() -> SVG text}.
PLOTS = {
    "images/accuracy.svg": plots.accuracy,
    "images/perplexity.svg": plots.perplexity_history,
    "images/scaling.svg": lambda: plots.scaling(_latest()),
    "images/explanations_deletion.svg": lambda: plots.explanation_deletion(
        json.loads(EXPLANATIONS.read_text())),
    "images/memory_by_lag.svg": lambda: plots.memory_by_lag(
        json.loads(MEMORY_BY_LAG.read_text())),
}


def fill_blocks(markdown):
    """The page's text with each `<!-- block: NAME -->` line replaced by that block; an unknown
    name is an error naming it."""
    def fill(match):
        if match[1] not in BLOCKS:
            raise ValueError(f"<!-- block: {match[1]} -->: no such block; known: "
                             f"{', '.join(BLOCKS)}")
        return BLOCKS[match[1]]()
    return BLOCK.sub(fill, markdown)


def cited_blocks(docs_dir=ROOT / "docs"):
    """{block name: the page citing it} over the hand-written pages."""
    return {name: str(path.relative_to(docs_dir)) for path in sorted(docs_dir.rglob("*.md"))
            for name in BLOCK.findall(path.read_text())}


# Subpackages whose docstrings are not an API: the programs' usage texts (their --help), and
# the package's own machinery (safe file writes, verified downloads, TensorFlow's logs).
NOT_API = ("cli", "utils")


def block(name):
    """The table a page of the site shows as block `name`, as the built page will hold it; a
    block no page cites is an error."""
    if name not in cited_blocks():
        raise ValueError(f"no page of docs/ cites <!-- block: {name} -->")
    return BLOCKS[name]()


def public_packages():
    """kasm_keras's public subpackages (a folder with __init__.py, not starting with _), but the
    programs (NOT_API)."""
    return sorted(f"kasm_keras.{path.parent.name}" for path in PACKAGE.glob("*/__init__.py")
                  if not path.parent.name.startswith("_") and path.parent.name not in NOT_API)


def public_modules():
    """kasm_keras's public top-level modules (paper.py, ...)."""
    return sorted(f"kasm_keras.{path.stem}" for path in PACKAGE.glob("*.py")
                  if not path.stem.startswith("_"))


def reference_pages():
    """{page path: Markdown}: one page per public subpackage (its modules as sections), and one
    for the package itself with its top-level modules."""
    pages = {"reference/kasm_keras.md": "\n\n".join(
        ["# kasm_keras", "::: kasm_keras\n    options:\n      show_submodules: false\n"
         "      filters: [\"!^_\", \"!^VARIANT\"]"]
        + [f"::: {module}" for module in public_modules()])}
    for package in public_packages():
        # The package's own docstring, then each module where its names are defined: the
        # names the package re-exports are shown once, in their module.
        modules = [m.name for m in pkgutil.walk_packages(
            importlib.import_module(package).__path__, package + ".")
            if not any(part.startswith("_") for part in m.name.split("."))]
        pages[f"reference/{package}.md"] = "\n\n".join(
            [f"# {package}", f"::: {package}\n    options:\n      members: false\n"]
            + [f"::: {module}" for module in modules])
    return pages


def model_cards():
    """{page path: Markdown}: one card per registry entry."""
    from benchmarks.reporting import results

    accuracies = {**results.seed_accuracies()[0],
                  **results.seed_accuracies(task=zoo.TIME_SERIES)[0]}
    return {zoo_cards.page_path(name): zoo_cards.model_card(name, accuracies)
            for name in zoo.names()}


# ------------------------------------------------------------------ MkDocs hooks

def on_config(config):
    """Lists the model cards under the zoo's section and the reference pages under the API
    reference's, after their hand-written first pages."""
    for item in config["nav"]:
        if isinstance(item, dict) and ZOO_NAV in item:
            by_dataset = {}
            for name in zoo.names():
                by_dataset.setdefault(name.split("/")[0], []).append(
                    {name.split("/")[1]: zoo_cards.page_path(name)})
            item[ZOO_NAV] += [{dataset: cards} for dataset, cards in by_dataset.items()]
        if isinstance(item, dict) and REFERENCE_NAV in item:
            item[REFERENCE_NAV] += list(reference_pages())  # the package first, then its subpackages
    return config


def on_files(files, config):
    from mkdocs.structure.files import File

    generated = {**model_cards(), **reference_pages()}
    generated.update({path: make() for path, make in PLOTS.items()})
    for path, content in generated.items():
        files.append(File.generated(config, path, content=content))
    return files


def on_page_markdown(markdown, page, config, files):
    return fill_blocks(markdown)


def on_post_build(config):
    """Fails the build if a plot or card is missing from the site written."""
    site = pathlib.Path(config["site_dir"])
    missing = [p for p in PLOTS if not (site / p).exists()]
    missing += [p for p in map(zoo_cards.page_path, zoo.names())
                if not (site / os.path.splitext(p)[0] / "index.html").exists()]
    if missing:
        raise RuntimeError(f"the site lacks {', '.join(missing)}")
