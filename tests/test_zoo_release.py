"""`kasm_keras.zoo.release` and `tools/zoo.py release`: exactly the files the registry names,
each verified, written aside and switched in whole; nothing of an existing folder is changed."""

import hashlib
import json
import os

import pytest

from kasm_keras import zoo
from kasm_keras.zoo.release import write_release
from tests.test_faults_tools import error_line, run_tool, tree

NAME = "ag_news/tiny"
FILES = {"config.json": b'{"units": 8}\n', "assets/tokenizer/vocabulary.txt": b"[PAD]\nthe\n"}
URL = "http://127.0.0.1:1/zoo-v1"


def _digest(data):
    return hashlib.sha256(data).hexdigest()


def make_zoo(root, files=FILES, names=(NAME,), **record):
    """A zoo folder with a registry of entries `names`, each holding `files`."""
    root.mkdir()
    entries = {}
    for name in names:
        for file_name, data in files.items():
            path = root / name / file_name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        entries[name] = {"path": name, "url": f"{URL}/{name}", "metadata": {},
                         "files": {f: _digest(d) for f, d in files.items()}, **record}
    (root / "registry.json").write_text(json.dumps(entries))
    return root


@pytest.fixture
def zoo_dir(tmp_path):
    return make_zoo(tmp_path / "zoo")


def _refused(tmp_path, output, zoo_dir, *named, names=None):
    """write_release refused with a ZooError naming `named`; nothing left in tmp_path's folders
    but what was there."""
    before = tree(tmp_path)
    with pytest.raises(zoo.ZooError) as error:
        write_release(output, names, str(zoo_dir))
    for name in named:
        assert str(name) in str(error.value), (name, str(error.value))
    assert "\n" not in str(error.value)
    assert tree(tmp_path) == before
    return str(error.value)


def test_writes_exactly_the_registry_files_with_their_digests(tmp_path, zoo_dir):
    output = tmp_path / "out" / "release"  # its parent is made too
    release = write_release(output, zoo_dir=str(zoo_dir))
    assert release.written and release.names == (NAME,) and release.files == 2
    assert release.bytes == sum(map(len, FILES.values())) and release.urls == (URL,)
    assert tree(output) == {NAME.split("/")[0]: None, NAME: None, f"{NAME}/assets": None,
                            f"{NAME}/assets/tokenizer": None,
                            **{f"{NAME}/{f}": _digest(d) for f, d in FILES.items()}}
    assert os.listdir(tmp_path / "out") == ["release"]  # no temporary left beside it


def test_a_second_run_into_the_same_release_writes_nothing(tmp_path, zoo_dir):
    output = tmp_path / "release"
    write_release(output, zoo_dir=str(zoo_dir))
    before = {p: os.stat(os.path.join(r, p)).st_mtime_ns
              for r, _, files in os.walk(output) for p in files}
    again = write_release(output, zoo_dir=str(zoo_dir))
    assert not again.written and again.files == 2
    assert before == {p: os.stat(os.path.join(r, p)).st_mtime_ns
                      for r, _, files in os.walk(output) for p in files}


def test_an_empty_folder_takes_the_release(tmp_path, zoo_dir):
    (tmp_path / "release").mkdir()
    assert write_release(tmp_path / "release", zoo_dir=str(zoo_dir)).written
    assert len([f for _, _, files in os.walk(tmp_path / "release") for f in files]) == 2


@pytest.mark.parametrize("change, named", [
    (lambda out: (out / NAME / "extra.txt").write_text("mine"), "extra.txt"),
    (lambda out: (out / NAME / "config.json").write_text("changed"), "config.json"),
    (lambda out: (out / NAME / "config.json").unlink(), "config.json"),
], ids=["a file beyond it", "a changed file", "a missing file"])
def test_a_folder_holding_anything_else_is_refused_and_left_alone(tmp_path, zoo_dir, change,
                                                                  named):
    output = tmp_path / "release"
    write_release(output, zoo_dir=str(zoo_dir))
    change(output)
    _refused(tmp_path, output, zoo_dir, output, named, "not empty")


def test_a_folder_of_another_release_is_refused(tmp_path):
    zoo_dir = make_zoo(tmp_path / "zoo", names=(NAME, "ag_news/other"))
    output = tmp_path / "release"
    write_release(output, names=["ag_news/other"], zoo_dir=str(zoo_dir))
    _refused(tmp_path, output, zoo_dir, "not empty", names=[NAME])


def test_only_the_names_asked_for(tmp_path):
    zoo_dir = make_zoo(tmp_path / "zoo", names=(NAME, "ag_news/other"))
    release = write_release(tmp_path / "release", names=["ag_news/other"], zoo_dir=str(zoo_dir))
    assert release.names == ("ag_news/other",)
    assert os.listdir(tmp_path / "release" / "ag_news") == ["other"]
    _refused(tmp_path, tmp_path / "new", zoo_dir, "not published: ag_news/nothing",
             names=["ag_news/nothing"])


@pytest.mark.parametrize("damage", ["corrupt", "missing"])
def test_a_missing_or_corrupt_file_is_refused_naming_entry_and_file(tmp_path, zoo_dir, damage):
    vocabulary = zoo_dir / NAME / "assets" / "tokenizer" / "vocabulary.txt"
    if damage == "corrupt":
        vocabulary.write_bytes(b"[PAD]\nthe\nextra\n")
    else:
        vocabulary.unlink()
    message = _refused(tmp_path, tmp_path / "release", zoo_dir, repr(NAME),
                       "'assets/tokenizer/vocabulary.txt'")
    assert ("differs from the registry's" if damage == "corrupt" else "missing") in message


def test_an_entry_in_no_local_zoo_is_refused(tmp_path, zoo_dir):
    (zoo_dir / "ag_news").rename(zoo_dir / "elsewhere")
    _refused(tmp_path, tmp_path / "release", zoo_dir, repr(NAME), "no local zoo")


def test_a_registry_path_that_leaves_the_folder_is_refused(tmp_path):
    # The file is there, with its digest (tmp_path/escape.txt): only its path is refused.
    zoo_dir = make_zoo(tmp_path / "zoo", files={"../../../escape.txt": b"x"})
    _refused(tmp_path, tmp_path / "release", zoo_dir, "'../../../escape.txt'", "'..'")


def test_a_source_file_linked_out_of_its_folder_is_refused(tmp_path, zoo_dir):
    outside = tmp_path / "secret.txt"
    outside.write_bytes(FILES["config.json"])
    (zoo_dir / NAME / "config.json").unlink()
    (zoo_dir / NAME / "config.json").symlink_to(outside)
    _refused(tmp_path, tmp_path / "release", zoo_dir, "config.json", "symbolic link")


def test_a_real_entry_of_the_checkout(tmp_path):
    name = "japanese_vowels/gated_cnn_1gram"  # the smallest one
    release = write_release(tmp_path / "release", names=[name])
    assert release.urls == (zoo.DEFAULT_URL,)
    written = {path: digest for path, digest in tree(tmp_path / "release").items() if digest}
    assert written == {f"{name}/{f}": digest for f, digest in zoo.registry()[name]["files"].items()}


# ------------------------------------------------------------------ tools/zoo.py release

@pytest.fixture
def tool(monkeypatch, capsys):
    return lambda *args: run_tool("zoo", *args, monkeypatch=monkeypatch, capsys=capsys)


def test_the_tool_prints_one_summary_line(tool, tmp_path, zoo_dir):
    output = tmp_path / "release"
    result = tool("release", f"--output={output}", f"--zoo_dir={zoo_dir}", f"--names={NAME}")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        f"{output}: 1 entry, 2 files, {sum(map(len, FILES.values()))} bytes (written); upload "
        f"them as {URL}/<entry>/<file> (or serve the folder and set $KASM_KERAS_ZOO_URL to its "
        "address)\n")
    assert "already there" in tool("release", f"--output={output}",
                                   f"--zoo_dir={zoo_dir}").stdout


@pytest.mark.parametrize("args, named", [
    ([], "release needs --output"),
    (["--output={tmp}/file"], "--output"),
    (["--output={tmp}/file/below"], "--output"),
    (["--output={tmp}/release", "--names=ag_news/nothing"], "not published: ag_news/nothing"),
], ids=["no output", "output a file", "output below a file", "unknown name"])
def test_the_tool_refuses_bad_input_with_one_line(tool, tmp_path, zoo_dir, args, named):
    (tmp_path / "file").write_text("x")
    before = tree(tmp_path)
    result = tool("release", f"--zoo_dir={zoo_dir}", *[a.format(tmp=tmp_path) for a in args])
    error_line(result, named)
    assert result.stdout == "" and tree(tmp_path) == before
