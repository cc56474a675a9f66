"""keras-hub's import order inside each model family: backbone <- tokenizer <- preprocessor <-
task (<- serving), each module importing only those before it, at any depth of the file (a
function-local import counts: it is how a circle hides)."""

import ast
import pathlib

import pytest

MODELS = pathlib.Path(__file__).resolve().parents[1] / "kasm_keras" / "models"
FAMILIES = {
    "kernel_classifier": ["backbone", "tokenizer", "preprocessor", "text_classifier", "serving",
                          "family"],
    "kernel_lm": ["backbone", "tokenizer", "preprocessor", "causal_lm", "serving", "family"],
    "time_series_classifier": ["backbone", "preprocessor", "time_series_classifier", "serving",
                               "family"],
}


def _family_imports(path, family):
    """The family's modules that `path` imports anywhere in the file."""
    prefix = f"kasm_keras.models.{family}."
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith(prefix):
                found.add(node.module[len(prefix):])
            elif node.module == prefix[:-1]:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name[len(prefix):] for alias in node.names
                         if alias.name.startswith(prefix))
    return found


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_each_module_imports_only_the_ones_before_it(family):
    order = FAMILIES[family]
    modules = sorted(p.stem for p in (MODELS / family).glob("*.py") if p.stem != "__init__")
    assert sorted(order) == modules, f"{family}: place every module in the order"
    for rank, module in enumerate(order):
        imported = _family_imports(MODELS / family / f"{module}.py", family)
        later = sorted(imported - set(order[:rank]))
        assert not later, f"{family}/{module}.py imports {later}, which come after it"


def test_a_module_that_imports_a_later_one_is_caught(tmp_path):
    source = tmp_path / "backbone.py"
    source.write_text("def build():\n"
                      "    from kasm_keras.models.kernel_classifier.text_classifier import X\n")
    assert _family_imports(source, "kernel_classifier") == {"text_classifier"}
