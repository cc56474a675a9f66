"""The documentation: the README is short and cites only what exists; the site builds with
`mkdocs build --strict` (no broken link or anchor, every docstring renders) and holds a page per
zoo entry, the API reference and every plot, all generated at build time."""

import importlib
import os
import pathlib
import re
import subprocess
import sys

import pytest

from benchmarks import docs_site
from benchmarks.reporting import zoo_cards
from kasm_keras import zoo
from tests.conftest import same_worker

SITE = same_worker("docs_site")  # the tests that read the built site

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
# A module path (kasm_keras.a.b, kasm_keras.a.B) or a file path (kasm_keras/a/b.py) in backticks.
DOTTED = re.compile(r"`(kasm_keras(?:\.\w+)+)")
FILE = re.compile(r"`((?:kasm_keras|benchmarks|tools|tests)/[\w/.]*\w)")


def _texts():
    return {str(p.relative_to(ROOT)): p.read_text() for p in [README, *sorted(DOCS.rglob("*.md"))]}


def _resolves(dotted):
    """Whether `dotted` is a module, or a name reached by attributes from its longest module."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            thing = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            if not hasattr(thing, attribute):
                return False
            thing = getattr(thing, attribute)
        return True
    return False


def test_the_readme_is_short_and_its_two_commands_come_first():
    text = README.read_text()
    assert len(text.encode()) < 8 * 1024
    sections = re.findall(r"^## (.+)$", text, re.M)
    assert sections[0] == "Two commands"
    assert "python tools/evaluate.py --zoo=ag_news/rkm_cifg_1gram" in text
    assert "python -m pytest -q -n 2 tests" in text


def test_every_module_path_and_name_the_docs_and_readme_cite_exists():
    cited, files = set(), set()
    for text in _texts().values():
        cited.update(m.rstrip(".") for m in DOTTED.findall(text))
        files.update(FILE.findall(text))
    assert {"kasm_keras.zoo.load", "kasm_keras.KernelRNN"} <= cited
    missing = sorted(name for name in cited if not _resolves(name))
    assert not missing, f"cited but not importable: {missing}"
    missing = sorted(f for f in files if "*" not in f and not (ROOT / f).exists())
    assert not missing, f"cited but not in the checkout: {missing}"


def test_every_block_is_cited_once_and_every_cited_block_exists():
    cited = {}
    for path in sorted(DOCS.rglob("*.md")):
        for name in docs_site.BLOCK.findall(path.read_text()):
            cited.setdefault(name, []).append(str(path.relative_to(DOCS)))
    # "zoo" is the README's (tools/results.py --update_readme writes it); Table 1 is on the home
    # page and on the cells' page.
    assert set(cited) == set(docs_site.BLOCKS) - {"zoo"}
    assert {name: len(pages) for name, pages in cited.items() if len(pages) > 1} == {"variants": 2}
    with pytest.raises(ValueError, match="no such block"):
        docs_site.fill_blocks("<!-- block: nothing -->")


def test_the_api_reference_follows_the_package():
    pages = docs_site.reference_pages()
    for path in sorted((ROOT / "kasm_keras").glob("*/__init__.py")):
        if path.parent.name not in docs_site.NOT_API:
            assert f"reference/kasm_keras.{path.parent.name}.md" in pages
    assert "::: kasm_keras.paper" in pages["reference/kasm_keras.md"]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    if importlib.util.find_spec("mkdocs") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("mkdocs is not installed: pip install -e '.[docs]'")
        pytest.skip("mkdocs is not installed: pip install -e '.[docs]'")
    site_dir = tmp_path_factory.mktemp("site")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_MKDOCS_2_WARNING": "1",
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                             str(site_dir)], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return site_dir


@SITE
def test_the_site_builds_strict_with_a_card_per_entry_every_plot_and_the_reference(site):
    for name in zoo.names():
        card = (site / zoo_cards.page_path(name)).with_suffix("") / "index.html"
        html = card.read_text()
        assert name in html and "sha256" in html
        for digest in zoo.registry()[name]["files"].values():
            assert digest in html
    for plot in docs_site.PLOTS:
        assert (site / plot).read_text().lstrip().startswith("<?xml")
    for page in docs_site.reference_pages():
        assert (site / page).with_suffix("").joinpath("index.html").exists()
    layers = (site / "reference" / "kasm_keras.layers" / "index.html").read_text()
    assert "KernelRNN" in layers and "KernelCell" in layers
    # No generated table is left as its marker.
    for page in site.rglob("*.html"):
        assert "<!-- block:" not in page.read_text(), page


@SITE
def test_every_link_in_the_site_resolves(site):
    broken = []
    for page in site.rglob("*.html"):
        for href in re.findall(r'(?:href|src)="([^"#?]+)', page.read_text()):
            if re.match(r"^[a-z]+:", href) or href.startswith("//"):
                continue  # another site
            target = (site / href.lstrip("/") if href.startswith("/")  # 404.html's
                      else page.parent / href).resolve()
            if not (target.exists() or (target / "index.html").exists()):
                broken.append(f"{page.relative_to(site)} -> {href}")
    assert not broken, broken[:20]


# The API reference: every name of `kasm_keras.__all__` and of each module the reference renders.
# Their docstrings have Google-style sections as mkdocstrings renders them: "Examples:" (the title
# whose `>>>` lines it shows as code), "Args:", "Returns:" ("Call arguments:" beside it for a
# layer or a model).
def _sections(doc):
    """The Google-style section titles of a docstring ("Args", "Returns", "Example", ...)."""
    return set(re.findall(r"^\s*([A-Z][a-z]+(?: [a-z]+)?):\s*$", doc or "", re.M))


def _takes_arguments(function):
    import inspect
    return any(name not in ("self", "cls") for name in inspect.signature(function).parameters)


def _returns_a_value(function):
    """Whether `function`'s own body (not a nested function's) returns or yields a value."""
    import ast
    import inspect
    import textwrap
    tree = ast.parse(textwrap.dedent(inspect.getsource(function))).body[0]
    nodes, found = list(tree.body), False
    while nodes:
        node = nodes.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(node, ast.Return) and node.value is not None or \
                isinstance(node, (ast.Yield, ast.YieldFrom)):
            found = True
        nodes.extend(ast.iter_child_nodes(node))
    return found


def _public_methods(cls):
    """(name, function) of the public methods the package defines on `cls` or its own bases.
    A method that overrides one of Keras' or keras-hub's (`call`, `get_config`, `tokenize`,
    `predict`, ...) is documented there and left out."""
    import inspect
    outside = [c for c in cls.__mro__ if not c.__module__.startswith("kasm_keras")]
    seen = set()
    for owner in cls.__mro__:
        if not owner.__module__.startswith("kasm_keras"):
            continue
        for name, attribute in vars(owner).items():
            if name.startswith("_") or name in seen or any(name in vars(c) for c in outside):
                continue
            seen.add(name)
            function = getattr(attribute, "__func__", attribute)
            if inspect.isfunction(function):
                yield f"{cls.__name__}.{name}", function


def _api_modules():
    """Every module the API reference renders: the package's top-level modules and each
    module of its public subpackages."""
    import pkgutil
    names = list(docs_site.public_modules())
    for package in docs_site.public_packages():
        module = importlib.import_module(package)
        names.append(package)
        names += [m.name for m in pkgutil.walk_packages(module.__path__, package + ".")
                  if not any(part.startswith("_") for part in m.name.split("."))]
    return [importlib.import_module(name) for name in names]


def _defined_here(module):
    """(label, object) of the public classes and functions `module` defines (its `__all__`,
    or its public names), not those it imports."""
    import inspect
    names = getattr(module, "__all__", None) or [n for n in vars(module) if not n.startswith("_")]
    for name in names:
        thing = getattr(module, name, None)
        if (inspect.isclass(thing) or inspect.isfunction(thing)) and \
                thing.__module__ == module.__name__:
            yield f"{module.__name__}.{name}", thing


def test_the_public_api_has_args_returns_and_an_example():
    """Every class and function the API reference shows has Args (if it takes any), Returns
    (if it returns a value) and Examples; every public method Args and Returns, its own or
    those of the method it overrides (inspect.getdoc). An exception needs a docstring alone."""
    import dataclasses
    import inspect

    import kasm_keras
    missing = []

    def need(label, doc, sections):
        lacking = sorted(s for s in sections if s not in _sections(doc))
        if not doc:
            missing.append(f"{label}: no docstring")
        elif lacking:
            missing.append(f"{label}: no {', '.join(lacking)}")

    things = [(f"kasm_keras.{name}", getattr(kasm_keras, name)) for name in kasm_keras.__all__]
    things += [item for module in _api_modules() for item in _defined_here(module)]
    for label, thing in dict(things).items():
        if inspect.isclass(thing) and issubclass(thing, BaseException):
            need(label, thing.__doc__, set())
        elif inspect.isclass(thing):
            init = thing.__init__
            own_init = getattr(init, "__module__", "").startswith("kasm_keras") and \
                _takes_arguments(init)
            # A dataclass's fields are its arguments: Google style lists them as Attributes.
            fields = "Attributes" if dataclasses.is_dataclass(thing) and \
                "Attributes" in _sections(thing.__doc__) else "Args"
            need(label, thing.__doc__, {"Examples"} | ({fields} if own_init else set()))
            for method_label, method in _public_methods(thing):
                need(f"{label}.{method_label.split('.', 1)[1]}", inspect.getdoc(method),
                     ({"Args"} if _takes_arguments(method) else set())
                     | ({"Returns"} if _returns_a_value(method) else set()))
        elif inspect.isfunction(thing):
            need(label, thing.__doc__, {"Examples"}
                 | ({"Args"} if _takes_arguments(thing) else set())
                 | ({"Returns"} if _returns_a_value(thing) else set()))
    assert not missing, f"{len(missing)} lacking:\n" + "\n".join(missing)
