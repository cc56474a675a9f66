"""The package as a wheel user has it: the wheel built from this checkout, installed into a fresh
virtual environment (its dependencies, TensorFlow and the rest, from this Python's site-packages),
run outside the checkout. Its console scripts exist and run, it imports the installed package,
and a zoo entry comes from the files `tools/zoo.py release` writes, served as a release is (here
on 127.0.0.1, named by $KASM_KERAS_ZOO_URL), downloaded and verified into the Keras cache; and
one comes from a local zoo folder (--zoo_dir, $KASM_KERAS_ZOO_DIR).

Also here: importing a program (`kasm_keras.cli.NAME`) changes nothing in the process, as a
library user's import must not; starting it (`run()`) does.
"""

import importlib
import json
import os
import pathlib
import shutil
import site
import subprocess
import sys
import textwrap
import types

import pytest

from kasm_keras import zoo
from kasm_keras.utils.files import file_digest
from tests.conftest import same_worker

ROOT = pathlib.Path(__file__).resolve().parents[1]
PROGRAMS = ("train", "evaluate", "explain", "export", "generate", "data", "zoo")
# What a build reads besides the package (those that exist).
PACKAGING = ("setup.py", "setup.cfg", "pyproject.toml", "MANIFEST.in", "README.md")
ENTRY = "ag_news/cnn_1gram"  # a small entry
# Variables that would make the installed programs read the checkout or a local zoo.
CHECKOUT_VARIABLES = ("PYTHONPATH", zoo.ZOO_DIR_VARIABLE, zoo.URL_VARIABLE)


pytestmark = same_worker("wheel")  # the tests share one installed wheel


def _run(command, **kwargs):
    result = subprocess.run(list(map(str, command)), capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def see_this_interpreters_packages(python):
    """Run inside a virtualenv, `python -m venv --system-site-packages` makes a venv over the
    base interpreter's site-packages, not this venv's (where Keras may be): a .pth file in the
    new venv adds this interpreter's site-packages after its own (their .pth files included)."""
    if sys.prefix == sys.base_prefix:
        return
    own = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                          "['purelib'])"], capture_output=True, text=True, check=True)
    lines = [f"import site; site.addsitedir({path!r})" for path in site.getsitepackages()]
    (pathlib.Path(own.stdout.strip()) / "outer_site_packages.pth").write_text(
        "\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The wheel, built from a copy of the package's files (so the build writes nothing into
    the checkout) and installed without dependencies into a new venv that sees this Python's
    site-packages; `run(program, *args, **env)` runs a console script of it in a folder outside
    the checkout, with the Keras cache in the test's folder."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    shutil.copytree(ROOT / "kasm_keras", source / "kasm_keras",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in PACKAGING:
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, source / name)
    quiet = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INDEX": "1"}
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
          "-w", root / "dist", source], env=quiet)
    wheel, = (root / "dist").glob("kasm_keras-*.whl")
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", "--system-site-packages", venv])
    see_this_interpreters_packages(venv / "bin" / "python")
    _run([venv / "bin" / "python", "-m", "pip", "install", "--no-deps", "-q", wheel], env=quiet)
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    environment = {k: v for k, v in os.environ.items() if k not in CHECKOUT_VARIABLES}
    environment.update(KERAS_HOME=str(root / "keras"), CUDA_VISIBLE_DEVICES="",
                       TF_CPP_MIN_LOG_LEVEL="3")

    def run(program, *args, **env):
        return subprocess.run([str(venv / "bin" / program), *map(str, args)], cwd=elsewhere,
                              capture_output=True, text=True, env={**environment, **env},
                              timeout=120)

    return types.SimpleNamespace(venv=venv, run=run, cache=root / "keras")


# Runs each console script given (argv[1], JSON: {name: [script, output folder]}) with --help,
# each in a child forked from this one interpreter after it has imported the programs, so that
# TensorFlow is imported once rather than once per program; prints {name: exit status}.
HELP = """
import importlib, json, os, runpy, sys
scripts = json.loads(sys.argv[1])
for name in scripts:
    importlib.import_module("kasm_keras.cli." + name)
statuses = {}
for name, (script, folder) in scripts.items():
    pid = os.fork()
    if pid == 0:
        code = 0
        with open(os.path.join(folder, "stdout"), "w") as out, \\
                open(os.path.join(folder, "stderr"), "w") as err:
            os.dup2(out.fileno(), 1)
            os.dup2(err.fileno(), 2)
            sys.argv = [script, "--help"]
            try:
                runpy.run_path(script, run_name="__main__")
            except SystemExit as stop:
                code = stop.code if isinstance(stop.code, int) else 1
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)
    statuses[name] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
print(json.dumps(statuses))
"""


def test_every_console_script_prints_its_help(installed, tmp_path):
    """`kasm-NAME --help`, the installed console script of the wheel run outside the checkout
    (in children of one interpreter, `HELP`): the program's own usage (its module docstring's
    first line) and its flags, with absl's exit status for --help (1) and nothing on stderr."""
    scripts = {}
    for program in PROGRAMS:
        (tmp_path / program).mkdir()
        scripts[program] = [str(installed.venv / "bin" / f"kasm-{program}"),
                            str(tmp_path / program)]
    result = installed.run("python", "-c", HELP, json.dumps(scripts))
    assert result.returncode == 0, result.stderr[-3000:]
    statuses = json.loads(result.stdout.splitlines()[-1])
    for program in PROGRAMS:
        out, err = ((tmp_path / program / name).read_text() for name in ("stdout", "stderr"))
        assert statuses[program] == 1 and err == "", (program, err[-3000:])
        first = importlib.import_module(f"kasm_keras.cli.{program}").__doc__.splitlines()[0]
        assert out.startswith(first), (program, out[:500])
        assert "--zoo" in out or "--model" in out or "--dataset" in out, program


def test_every_console_script_is_installed_and_kasm_zoo_list_runs(installed):
    for program in PROGRAMS:
        assert (installed.venv / "bin" / f"kasm-{program}").is_file(), program
    result = installed.run("kasm-zoo", "list")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith(f"Published ({len(zoo.names())}):\n"), result.stdout[:300]


def test_an_entry_downloads_from_the_files_release_writes(installed, tmp_path, server):
    output = tmp_path / "release"
    written = _run([sys.executable, ROOT / "tools" / "zoo.py", "release", f"--output={output}",
                    f"--names={ENTRY}"], cwd=ROOT,
                   env={**{k: v for k, v in os.environ.items() if k != zoo.ZOO_DIR_VARIABLE},
                        "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert written.stdout.startswith(f"{output}: 1 entry, "), written.stdout
    files = zoo.registry()[ENTRY]["files"]
    server.files = {f"/{ENTRY}/{name}": (output / ENTRY / name).read_bytes() for name in files}
    result = installed.run("kasm-evaluate", f"--zoo={ENTRY}", "--text=Stocks fell on Wall Street",
                           **{zoo.URL_VARIABLE: server.url("")})
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines()[1].split("\t")[0] == "Business", result.stdout
    assert sorted(server.requests) == sorted(server.files)
    cached = installed.cache / "kasm_keras" / "zoo" / ENTRY
    assert {name: file_digest(cached / name) for name in files} == files


def test_the_installed_package_is_imported_not_the_checkout_and_fetches_an_entry(
        installed, tmp_path, server):
    """The installed package is the one imported, with no zoo folder of a checkout beside it
    (a wheel user's entries come from the release); the registry ships in the wheel, and
    `zoo.load` fetches an entry's files from a server on 127.0.0.1, in an environment that
    names nothing of this checkout."""
    entry = "ag_news/rkm_cifg_1gram"
    for name in zoo.PRESET_FILES:
        server.files[f"/zoo/{entry}/{name}"] = (pathlib.Path(zoo.entry_dir(entry)) / name).read_bytes()
    texts = ["Oil prices rose as markets opened", "The striker scored twice in the final"]
    script = textwrap.dedent(f"""
        import json, os, kasm_keras.zoo as zoo
        print(json.dumps([zoo.__file__, os.path.isdir(zoo.records.CHECKOUT_ZOO)]))
        print(json.dumps(zoo.load("{entry}").classify({texts!r})))
    """)
    home = tmp_path / "home"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "KERAS_HOME": str(home / ".keras"),
           "KASM_KERAS_ZOO_URL": server.url("/zoo"), "TF_CPP_MIN_LOG_LEVEL": "3",
           "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run([str(installed.venv / "bin" / "python"), "-c", script],
                            capture_output=True, text=True, env=env, cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    imported, classes = map(json.loads, result.stdout.strip().splitlines()[-2:])
    path, has_zoo_folder = imported
    assert pathlib.Path(path).is_relative_to(installed.venv), path
    assert has_zoo_folder is False
    assert classes == ["Business", "Sports"]
    assert (home / ".keras/kasm_keras/zoo" / entry / "model.weights.h5").exists()
    assert len(server.requests) == len(zoo.PRESET_FILES)


def test_an_entry_loads_from_a_local_zoo_directory(installed, tmp_path):
    """`kasm-evaluate --zoo=NAME` from the installed wheel reads a local zoo folder named by
    $KASM_KERAS_ZOO_DIR (`--zoo_dir`, the same path, is in test_serving.py), checked against the
    registry's digests, and downloads nothing (the Keras cache stays empty)."""
    local_zoo = tmp_path / "zoo"
    shutil.copytree(zoo.entry_dir(ENTRY), local_zoo / ENTRY)
    keras_home = tmp_path / "keras"
    result = installed.run("kasm-evaluate", f"--zoo={ENTRY}", "--text=Stocks fell on Wall Street",
                           KERAS_HOME=str(keras_home), **{zoo.ZOO_DIR_VARIABLE: str(local_zoo)})
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines()[1].split("\t")[0] == "Business", result.stdout
    assert not (keras_home / "kasm_keras" / "zoo").exists()


def test_a_release_needs_the_checkouts_zoo_and_says_so(installed, tmp_path):
    result = installed.run("kasm-zoo", "release", f"--output={tmp_path / 'release'}",
                           f"--names={ENTRY}")
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 1 and len(errors) == 1, result.stderr[-3000:]
    assert f"zoo entry {ENTRY!r} is in no local zoo" in errors[0]
    assert not (tmp_path / "release").exists()


# What importing the programs changes in a fresh process: every signal's handler, the
# environment, sys.excepthook.
IMPORT_CHANGES = """
import json, os, signal, sys
def state():
    handlers = {}
    for number in signal.valid_signals():
        try:
            handlers[str(number)] = repr(signal.getsignal(number))
        except (OSError, ValueError):
            pass
    return {"signals": handlers, "environment": dict(os.environ), "excepthook": repr(sys.excepthook)}
before = state()
import importlib
for program in sys.argv[1:]:
    importlib.import_module(f"kasm_keras.cli.{program}")
after = state()
print(json.dumps({k: [before[k], after[k]] for k in before if before[k] != after[k]}))
"""


def test_importing_a_program_installs_no_signal_handler_and_changes_no_variable():
    environment = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = _run([sys.executable, "-c", IMPORT_CHANGES, *PROGRAMS], cwd=ROOT,
                  env={**environment, "PYTHONPATH": str(ROOT), "CUDA_VISIBLE_DEVICES": ""})
    changes = json.loads(result.stdout.splitlines()[-1])
    assert changes == {}, changes
