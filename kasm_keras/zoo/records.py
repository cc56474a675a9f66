"""The zoo's registry: `registry.json` beside this file (shipped in the package), or a private
zoo's own, read and checked. Each record holds an entry's folder ("path"), its files with their
sha256 digests, the address they can be fetched from ("url") and the metadata `info` reads;
every path a record gives is joined through `inside`, so it stays inside its folder."""

import os
import re

from kasm_keras.models import task_family
from kasm_keras.models.task_family import ZooError
from kasm_keras.utils import files
from kasm_keras.utils.download import is_http, join_inside, relative_path_problem

REGISTRY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "registry.json")
CHECKOUT_ZOO = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "zoo")
ZOO_DIR_VARIABLE = "KASM_KERAS_ZOO_DIR"
NAME = re.compile(r"^[a-z0-9_]+/[a-z0-9_]+$")


def registry_path(zoo_dir=None):
    """The registry file a zoo reads.

    An explicit zoo directory with its own `registry.json` (a private zoo, a test) overrides
    the package's.

    Args:
        zoo_dir: a local zoo directory (with its own `registry.json`, or a copy of the
            package's entries); None for `$KASM_KERAS_ZOO_DIR`, the checkout's `zoo/`, and
            the package's registry.

    Returns:
        The path of `zoo_dir`'s `registry.json` when it has one, else the package's
            (`REGISTRY`).

    Raises:
        ZooError: `zoo_dir` is given and is not a directory.

    Examples:
        >>> from kasm_keras import zoo
        >>> zoo.registry_path() == zoo.REGISTRY
        True
    """
    if zoo_dir and not os.path.isdir(zoo_dir):
        raise ZooError(f"{zoo_dir}: no such zoo directory")
    if zoo_dir and os.path.exists(os.path.join(zoo_dir, "registry.json")):
        return os.path.join(zoo_dir, "registry.json")
    return REGISTRY


def registry(zoo_dir=None):
    """Every published entry's record, read from the registry and checked.

    Args:
        zoo_dir: a local zoo directory (with its own `registry.json`, or a copy of the
            package's entries); None for `$KASM_KERAS_ZOO_DIR`, the checkout's `zoo/`, and
            the package's registry.

    Returns:
        {name: {"path", "files": {file: sha256}, "url" (optional), "metadata"}}.

    Raises:
        ZooError: the registry is missing or unreadable, or a record names a path outside
            its folder or a url that is not http(s).

    Examples:
        >>> from kasm_keras import zoo
        >>> record = zoo.registry()["ag_news/rkm_cifg_1gram"]
        >>> record["path"], record["files"]["config.json"] == zoo.file_digest(
        ...     zoo.entry_dir("ag_news/rkm_cifg_1gram") + "/config.json")
        ('ag_news/rkm_cifg_1gram', True)
    """
    path = registry_path(zoo_dir)
    try:
        entries = files.read_json(path)
    except FileNotFoundError:
        raise ZooError(f"{path}: no zoo registry there") from None
    except (OSError, ValueError) as error:
        # What the file holds wrong, as the JSON parser or the decoder says it.
        detail = error.__context__ if isinstance(error.__context__, ValueError) else \
            str(error).removeprefix(f"{path}: ")
        raise ZooError(f"{path}: not a readable zoo registry ({detail})") from None
    if not isinstance(entries, dict) or not all(isinstance(e, dict) and "files" in e
                                                for e in entries.values()):
        raise ZooError(f"{path}: not a zoo registry (expected an object of entries with files)")
    for name, entry in entries.items():
        _check_record(entry, f"{path}: entry {name!r}")
    return entries


def _check_record(entry, where):
    """A registry record's paths are plain relative paths (`relative_path_problem`) and its url
    an http(s) address; ZooError naming the registry, the entry and the field otherwise."""
    problem = relative_path_problem(entry.get("path"))
    if problem:
        raise ZooError(f"{where}: field \"path\" {entry.get('path')!r} {problem}; refused: an "
                       "entry's files stay inside its zoo folder")
    if not NAME.fullmatch(entry["path"]):
        raise ZooError(f"{where}: field \"path\" {entry['path']!r} is not an entry's folder "
                       "(<dataset>/<name>, as publishing writes it); refused: removing it "
                       "would delete other entries")
    if not isinstance(entry["files"], dict):
        raise ZooError(f"{where}: field \"files\" is not an object of file names and digests")
    for file_name in entry["files"]:
        problem = relative_path_problem(file_name)
        if problem:
            raise ZooError(f"{where}: field \"files\" names {file_name!r}, which {problem}; "
                           "refused: an entry's files stay inside its folder")
    if "url" in entry and not is_http(entry["url"]):
        raise ZooError(f"{where}: field \"url\" {entry['url']!r} is not an http:// or https:// "
                       "address")


def inside(folder, relative, where, field):
    """Joins a path read from a registry (an entry's path, a file name) to its folder.

    Every join of such a path goes through here, so a damaged or hostile registry cannot
    reach outside the zoo.

    Args:
        folder: the folder the path must stay in.
        relative: the path from the registry.
        where: what to name in the error: the registry and its entry.
        field: the record's field the path came from ("path", "files").

    Returns:
        `folder`/`relative`.

    Raises:
        ZooError: the path is not strictly inside `folder`, symbolic links resolved
            (`kasm_keras.utils.download.join_inside`).

    Examples:
        >>> from kasm_keras import zoo
        >>> zoo.inside("zoo", "ag_news/rkm_cifg_1gram", "registry.json: entry 'x'", "path")
        'zoo/ag_news/rkm_cifg_1gram'
    """
    try:
        return join_inside(folder, relative)
    except ValueError as error:
        raise ZooError(f"{where}: field \"{field}\" {error}; refused: an entry's files stay "
                       "inside its zoo folder") from None


def entry_task(entry):
    """The task of a registry record.

    Args:
        entry: a record of `registry`.

    Returns:
        Its family's name: its metadata's "task", "classification" when it names none.

    Examples:
        >>> from kasm_keras import zoo
        >>> zoo.entry_task(zoo.registry()["ptb/rkm_lstm"])
        'language_model'
    """
    return task_family.of_entry(entry).name


def names(zoo_dir=None, task=None):
    """The names of the published entries.

    Args:
        zoo_dir: a local zoo directory (with its own `registry.json`, or a copy of the
            package's entries); None for `$KASM_KERAS_ZOO_DIR`, the checkout's `zoo/`, and
            the package's registry.
        task: a family's name, one of `kasm_keras.zoo.TASKS` ("classification",
            "language_model", "time_series"), for that task's entries only; None for all.

    Returns:
        The names, a sorted list.

    Raises:
        ValueError: `task` is not one of `kasm_keras.zoo.TASKS`.

    Examples:
        >>> from kasm_keras import zoo
        >>> "ptb/rkm_lstm" in zoo.names(task="language_model")
        True
    """
    if task is not None and task not in task_family.names():
        raise ValueError(f"task must be one of {task_family.names()}, got {task!r}")
    entries = registry(zoo_dir)
    return sorted(name for name, entry in entries.items()
                  if task is None or entry_task(entry) == task)


def local_dirs(zoo_dir):
    """The zoo folders an entry is read from before the cache.

    Args:
        zoo_dir: a local zoo directory, or None.

    Returns:
        A list: `[zoo_dir]`, else `[$KASM_KERAS_ZOO_DIR]`, else the checkout's `zoo/` when
            there is one, else empty.

    Examples:
        >>> from kasm_keras.zoo import records
        >>> records.local_dirs("my_zoo")
        ['my_zoo']
    """
    if zoo_dir:
        return [zoo_dir]
    if os.environ.get(ZOO_DIR_VARIABLE):
        return [os.environ[ZOO_DIR_VARIABLE]]
    return [CHECKOUT_ZOO] if os.path.isdir(CHECKOUT_ZOO) else []
