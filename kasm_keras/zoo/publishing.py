"""Publishing: a trained model stored as a zoo entry (its family writes the files and measures
the stored entry against the run's own result) and recorded in the zoo's registry, written beside
the old ones and switched in only once both are whole; and removing an entry."""

import contextlib
import json
import os
import shutil
import tempfile

from kasm_keras.models import task_family
from kasm_keras.models.entry_storage import read_json
from kasm_keras.models.task_family import ZooError
from kasm_keras.utils.files import (
    DiskFullError, atomic_path, write_text, preparing, seal_directory, temporary_folder,
    writing)
from kasm_keras.utils.download import is_http
from kasm_keras.zoo import naming, records, runs
from kasm_keras.zoo.records import NAME, inside, registry, registry_path
from kasm_keras.zoo.store import missing_folders, remove_empty

# Where published files are served: <DEFAULT_URL>/<entry path>/<file>; the registry records it.
DEFAULT_URL = "https://github.com/kasm-keras/kasm-keras/releases/download/zoo-v1"


def publish(model, name, metadata, evaluate=None, zoo_dir=None, url=DEFAULT_URL, reference=None,
            **options):
    """Stores a trained model (of any family) as entry `name` and records it in the registry.

    `evaluate(stored)` measures the stored entry on the test split (a classifier: its accuracy;
    a language model: {"perplexity", "cross_entropy", "tokens"}); the result is recorded in
    its metadata, and with `reference` (the trained model's) the entry is refused when storage
    moved it by more than its family allows. `publish_run` calls this for a finished
    tools/train.py run.

    Args:
        model: the trained model, of a kasm_keras family.
        name: the entry's name, `<dataset>/<variant>_<n>gram` or `<corpus>/<variant>`.
        metadata: what the entry's metadata.json records under "kasm_keras" (how it was
            trained).
        evaluate: a function of the stored model giving its test result, or None to measure
            nothing.
        zoo_dir: the zoo to publish into (`publishing_dir`); None for the checkout's `zoo/`
            and the package's registry.
        url: the address the registry records for downloading the entry's files.
        reference: the trained model's test result, or None to skip the comparison.
        **options: passed to the family's `stage` (a language model's `exact_rows`).

    Returns:
        The entry's folder.

    Raises:
        ZooError: a bad name, a model of no family, or a stored model whose test result moved
            more than its family allows.

    Examples:
        >>> from kasm_keras import zoo
        >>> model = zoo.load_run("runs/ag_news_rkm_cifg_1gram")
        >>> folder = zoo.publish(model, "ag_news/rkm_cifg_1gram", model.info,
        ...                      zoo_dir="my_zoo")
    """
    if not NAME.match(name):
        raise ZooError(f"zoo entry names look like {task_family.name_forms()}, got {name!r}")
    family = task_family.of_model(model)
    if family is None:
        raise ZooError(f"a {type(model).__name__} is not a model of a kasm_keras family")
    return install_entry(name, zoo_dir, lambda folder: family.stage(
        model, name, folder, metadata, evaluate, reference, **options), url)


def publish_run(model_dir, name, data_dir=None, cache_dir=None, zoo_dir=None, url=DEFAULT_URL):
    """Publishes the best model of a finished tools/train.py run as a zoo entry.

    The model is stored as its family stores it, and its test result (a classifier's
    accuracy, a language model's perplexity) is measured again from the stored files and
    checked against the run's: storage that moved it more than its family allows is refused.
    The new entry and registry replace the old ones only once both are whole.

    Args:
        model_dir: the run's directory (`best.keras`, `metrics.json`, `config.json`).
        name: the entry's name; a name of the paper's tables must be the run's cell.
        data_dir: where the test split is read from; None to download it.
        cache_dir: where downloaded entries are kept; None for the Keras cache
            (`$KERAS_HOME`, else ~/.keras).
        zoo_dir: the zoo to publish into; None for the checkout's `zoo/` and the package's
            registry.
        url: the address the registry records for downloading the entry's files.

    Returns:
        The entry's folder.

    Raises:
        ZooError: a bad name, an unfinished run or one trained with --notest, a run of
            another cell, or a stored model whose test result moved more than its family
            allows.

    Examples:
        >>> from kasm_keras import zoo
        >>> record = zoo.publish_run("runs/ag_news_rkm_cifg_1gram", "ag_news/rkm_cifg_1gram",
        ...                          zoo_dir="my_zoo")
    """
    if not NAME.match(name):
        raise ZooError(f"zoo entry names look like {task_family.name_forms()}, got {name!r}")
    path = os.path.join(model_dir, "metrics.json")
    metrics = read_json(path)
    if metrics.get("test_evaluated") is False:
        raise ZooError(f"{model_dir} was trained with --notest (a recipe search's run): its test "
                       "split was never evaluated, so it has no result to publish; train the "
                       "chosen recipe again without --notest")
    family = runs.run_family(metrics, path)
    missing = [k for k in family.metrics_keys if k not in metrics]
    if missing:
        raise ZooError(f"{path} lacks {', '.join(missing)}; not the metrics of a finished "
                       f"tools/train.py {family.description} run")
    trained = family.run_name(metrics)
    if naming.name_task(name) is not None and name != trained:  # a name of a table: its cell
        raise ZooError(f"{model_dir} trained {trained}, not {name}")
    model = runs.load_run(model_dir)  # best.keras, checked against its sha256
    if not family.owns_model(model):
        raise ZooError(f"{model_dir}/best.keras is a {type(model).__name__}, but {path} is a "
                       f"{family.description}'s run")
    metadata, evaluate, reference = family.publication(model_dir, model, metrics, data_dir,
                                                       cache_dir)
    return publish(model, name, metadata, evaluate, zoo_dir, url, reference)


def _registry_file(zoo_dir):
    """The registry that publishing into `zoo_dir` writes: the package's for the checkout's zoo
    (whose registry ships in the package), else the folder's own registry.json (made for a new
    private zoo)."""
    own = os.path.join(zoo_dir, "registry.json") if zoo_dir else records.REGISTRY
    if not zoo_dir or (not os.path.exists(own) and
                       os.path.abspath(zoo_dir) == os.path.abspath(records.CHECKOUT_ZOO)):
        return records.REGISTRY
    return own


def _entries_to_extend(zoo_dir):
    """The records a new entry of `zoo_dir` joins: those of the registry it writes
    (`_registry_file`). A folder without a registry of its own starts from none of the
    package's records but those whose files it holds (a local copy of package entries): a
    private zoo lists what it can load, not the package's entries without their files."""
    path = _registry_file(zoo_dir)
    if path == records.REGISTRY or os.path.exists(path):
        return registry(zoo_dir) if path != records.REGISTRY else registry()
    held = {}
    for name, entry in registry().items():
        try:
            folder = inside(zoo_dir, entry["path"], records.REGISTRY, "path")
        except ZooError:
            continue
        if all(os.path.isfile(os.path.join(folder, f)) for f in entry["files"]):
            held[name] = entry
    return held


def _write_registry(entries, zoo_dir):
    write_text(_registry_file(zoo_dir), json.dumps(entries, indent=2, sort_keys=True)
                      + "\n")


def publishing_dir(zoo_dir=None):
    """The zoo folder a new entry is written into.

    Args:
        zoo_dir: a local zoo directory, or None.

    Returns:
        `zoo_dir`, else `$KASM_KERAS_ZOO_DIR`, else this checkout's `zoo/`.

    Examples:
        >>> from kasm_keras import zoo
        >>> zoo.publishing_dir("my_zoo")
        'my_zoo'
    """
    return zoo_dir or (records.local_dirs(None) or [records.CHECKOUT_ZOO])[0]


def install_entry(name, zoo_dir, stage, url=DEFAULT_URL):
    """Writes entry `name` into a zoo folder and its record into the zoo's registry.

    An entry published before under `name` stays loadable, byte for byte, until the new one is
    whole. `stage(folder)` writes the entry's files into `folder`, a scratch folder in the
    system's temporary folder (`$TMPDIR`), and returns (their digests, the registry's summary: what
    `info` reads): HDF5 writing onto a full disk can crash the process, so the zoo's disk is
    only written here, by plain copies into a folder beside the entry's place. Then, holding
    the zoo's lock (`files.preparing` on the zoo folder: two publishes at once each
    keep the other's record), the registry is read again, the new one written beside it and
    read back; only then are both switched in by renames, the folder first. A failure or a
    stopping signal (Ctrl-C) before the registry's rename puts the old folder back. A failure
    leaves nothing behind; a file that cannot be written is named (a full disk: a
    DiskFullError naming the file).

    One window remains: a process killed outright (SIGKILL, power loss) between the folder's
    renames and the registry's leaves the new folder, or no folder, where the registry still
    lists the old entry (the old one is in a temporary folder beside it, removed by the next
    publish); the entry then fails its digest check, or is missing from the zoo folder, until
    it is published again.

    Args:
        name: the entry's name.
        zoo_dir: the zoo folder (`publishing_dir`); None for its default.
        stage: a function of a scratch folder that writes the entry's files there and returns
            (their {file: sha256}, the registry's metadata summary).
        url: the address the registry records for downloading the entry's files.

    Returns:
        The entry's folder.

    Raises:
        ZooError: a damaged registry, or a name or url refused.
        DiskFullError: a file could not be written for want of space.

    Examples:
        >>> from kasm_keras import zoo
        >>> def stage(scratch):  # the family writes the files, as `publish` has it do
        ...     return family.stage(model, "ag_news/rkm_cifg_1gram", scratch, metadata,
        ...                         None, None)
        >>> folder = zoo.install_entry("ag_news/rkm_cifg_1gram", "my_zoo", stage)
    """
    url = _checked_url(url)
    zoo_dir = publishing_dir(zoo_dir)
    final = inside(zoo_dir, name, f"publishing into {zoo_dir}", "name")
    parent = os.path.dirname(final)
    registry_file = _registry_file(zoo_dir)
    _entries_to_extend(zoo_dir)  # a damaged registry is refused before any work
    made = missing_folders(parent)
    done = False
    try:
        with contextlib.ExitStack() as folders:
            try:
                scratch = folders.enter_context(temporary_folder(
                    os.path.join(tempfile.gettempdir(), "kasm_keras-entry")))
                files, summary = stage(scratch)
            except OSError as error:
                raise ZooError(f"{tempfile.gettempdir()}: could not write the new entry there "
                               f"({error}); the zoo is unchanged") from error
            try:
                os.makedirs(parent, exist_ok=True)
                staging = folders.enter_context(temporary_folder(final))
                old = folders.enter_context(temporary_folder(final))  # where the old one goes
            except OSError as error:
                raise ZooError(f"{final}: could not make the new entry's folder ({error}); the "
                               "zoo is unchanged") from error
            _copy_files(scratch, staging, final)
            with preparing(zoo_dir):  # read, change and write the registry alone
                entries = _entries_to_extend(zoo_dir)
                entries[name] = {"path": name, "files": files, "metadata": summary}
                if url:
                    entries[name]["url"] = f"{url.rstrip('/')}/{name}"
                text = json.dumps(entries, indent=2, sort_keys=True) + "\n"
                _switch(registry_file, text, staging, old, final)
        done = True
    finally:
        if not done:
            remove_empty(made)
    return final


def _switch(registry_file, text, staging, old, final):
    """Renames the entry's folder `final` to `old` (an empty folder), `staging` to `final`, and
    the registry written aside (`text`) to `registry_file`. Any failure or stopping signal
    before the registry's rename puts the folders back as they were; where they are is read
    from the folders themselves, so a signal between a rename and the next line is no gap."""
    had_old = os.path.lexists(final)
    done = False
    try:
        try:
            with atomic_path(registry_file) as aside:
                _write_aside(aside, text, registry_file)
                if had_old:
                    os.rename(final, old)
                os.rename(staging, final)
        except DiskFullError:
            raise
        except OSError as error:
            if not (_holds(registry_file, text) and not os.path.lexists(staging)):
                raise ZooError(f"{registry_file}: could not switch in the new registry and "
                               f"entry {final} ({error}); the zoo is unchanged") from error
            # else the registry is in place and only a late fsync failed
        done = True
    finally:
        if not done and not _holds(registry_file, text):
            if not os.path.lexists(staging) and os.path.lexists(final):
                os.rename(final, staging)  # the new folder goes back to be removed
            if had_old and not os.path.lexists(final):
                os.rename(old, final)


def _copy_files(source, target, final):
    """Copies the files of folder `source` into folder `target` and fsyncs them; a full disk is
    a DiskFullError naming the file as `final`/<file> (where it is going), another failure a
    ZooError naming it."""
    for root, _, names in os.walk(source):
        relative = os.path.relpath(root, source)
        for file_name in names:
            name = os.path.normpath(os.path.join(relative, file_name))
            destination = os.path.join(target, name)
            try:
                with writing(os.path.join(final, name)):
                    os.makedirs(os.path.dirname(destination), exist_ok=True)
                    with open(os.path.join(root, file_name), "rb") as src, \
                            open(destination, "wb") as dst:
                        shutil.copyfileobj(src, dst)
            except DiskFullError:
                raise
            except OSError as error:
                raise ZooError(f"{os.path.join(final, name)}: could not write the new entry's "
                               f"file ({error.strerror or error}); the zoo is unchanged"
                               ) from error
    try:
        with writing(final):
            seal_directory(target, fsync_files=True)
    except DiskFullError:
        raise
    except OSError as error:
        raise ZooError(f"{final}: could not write the new entry ({error.strerror or error}); "
                       "the zoo is unchanged") from error


def _write_aside(path, text, registry_file):
    """Writes the new registry `text` to `path` (beside `registry_file`, in `atomic_path`'s
    block: a full disk is a DiskFullError naming `registry_file`) and reads it back."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    with open(path, encoding="utf-8") as f:
        if f.read() != text:
            raise ZooError(f"{registry_file}: the new registry did not read back as written; "
                           "the zoo is unchanged")


def _holds(path, text):
    """Whether the file at `path` holds `text`."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read() == text
    except (OSError, UnicodeDecodeError):
        return False


def _checked_url(url):
    """`url` (where an entry's files are served), refused unless an http(s) address."""
    if url and not is_http(url):
        raise ZooError(f"url {url!r}: an entry's files are served from an http:// or https:// "
                       "address")
    return url


def remove(name, zoo_dir=None):
    """Deletes an entry's files and its registry record.

    The registry is rewritten holding the zoo's lock, as publishing does, so a publish running
    at the same time keeps its record.

    Args:
        name: the entry's name.
        zoo_dir: the zoo the entry is in; None for `$KASM_KERAS_ZOO_DIR`, the checkout's
            `zoo/`, and the package's registry.

    Raises:
        ZooError: the registry has no entry `name`.

    Examples:
        >>> from kasm_keras import zoo
        >>> zoo.remove("ag_news/rkm_cifg_1gram", zoo_dir="my_zoo")
    """
    entries = registry(zoo_dir)
    entry = entries.pop(name, None)
    if entry is None:
        raise ZooError(f"No zoo entry {name!r}")
    where = f"{registry_path(zoo_dir)}: entry {name!r}"
    folders = [inside(local, entry["path"], where, "path") for local in records.local_dirs(zoo_dir)]
    with preparing(publishing_dir(zoo_dir)):
        entries = registry(zoo_dir)
        entries.pop(name, None)
        _write_registry(entries, zoo_dir)
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


