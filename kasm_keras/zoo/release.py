"""The files a zoo release serves, written to one folder for a maintainer to upload.

A wheel ships the registry (`registry.json`) but not the entries' files: a wheel user's
`kasm_keras.zoo.load` downloads them from `<url>/<entry path>/<file>` (the registry's `url`, or
the mirror `$KASM_KERAS_ZOO_URL`). `write_release(output)` writes exactly those files, taken
from the local zoo (the checkout's `zoo/`, `$KASM_KERAS_ZOO_DIR` or `zoo_dir`), to
`output/<entry path>/<file>`: serving `output` at that address is the release.

Every file is checked against the registry's sha256 before anything is written (a missing or
changed file is one ZooError naming the entry and the file), copied into a temporary folder
beside `output`, checked again there, and only then renamed to `output` in one step: `output`
is either absent, or the whole verified release. An existing `output` must be empty, or already
hold exactly this release (the same files with the same digests, nothing else; then nothing is
written); anything else in it is never overwritten or removed, the release is refused. Every
path a registry gives is joined through `kasm_keras.zoo.inside`: it stays inside its folder.
"""

import dataclasses
import os
import shutil

from kasm_keras.zoo import records
from kasm_keras.utils.files import (
    DiskFullError, file_digest, seal_directory, temporary_folder, writing)


@dataclasses.dataclass(frozen=True)
class Release:
    """What `write_release` wrote, or found already written.

    Args:
        output: the release's folder, absolute.
        names: the entries' names, a sorted tuple.
        files: how many files the release holds.
        bytes: their size together.
        urls: the addresses the registry fetches the entries from, each without its entry's
            path: where `output` is to be served.
        written: True when this call wrote the release; False when `output` already held
            exactly it.

    Examples:
        >>> from kasm_keras.zoo import release
        >>> written = release.write_release("zoo_release", names=["ag_news/rkm_cifg_1gram"])
        >>> written.files, written.written
        (8, True)
        >>> release.write_release("zoo_release", names=["ag_news/rkm_cifg_1gram"]).written
        False
    """
    output: str
    names: tuple
    files: int
    bytes: int
    urls: tuple
    written: bool


def _release_files(names=None, zoo_dir=None):
    """{relative path in a release: (source file, sha256)} of the entries `names` (default:
    every published one), each source file in the local zoo checked against the registry's
    digest. ZooError for a name the registry lacks, an entry in no local zoo, or a file missing
    or differing from its digest."""
    entries = records.registry(zoo_dir)
    names = sorted(entries) if names is None else sorted(set(names))
    unknown = [name for name in names if name not in entries]
    if unknown:
        raise records.ZooError(f"not published: {', '.join(unknown)}; published: "
                           f"{', '.join(sorted(entries)) or 'none'}")
    local_dirs = records.local_dirs(zoo_dir)
    files = {}
    for name in names:
        entry = entries[name]
        where = f"{records.registry_path(zoo_dir)}: entry {name!r}"
        folders = [records.inside(local, entry["path"], where, "path") for local in local_dirs]
        folder = next((f for f in folders if os.path.isdir(f)), None)
        if folder is None:
            raise records.ZooError(f"zoo entry {name!r} is in no local zoo "
                               f"({', '.join(local_dirs) or 'none'}): a release is written from "
                               f"the files publishing made (pass zoo_dir=, a tool's --zoo_dir, "
                               f"or set ${records.ZOO_DIR_VARIABLE})")
        for file_name, digest in entry["files"].items():
            source = records.inside(folder, file_name, where, "files")
            _check(source, digest, f"zoo entry {name!r}: file {file_name!r} ({source})")
            relative = f"{entry['path']}/{file_name}"
            if files.get(relative, (source, digest))[1] != digest:
                raise records.ZooError(f"{where}: {relative} is another entry's file too, with "
                                   "another digest; the registry is damaged")
            files[relative] = (source, digest)
    return files


def _base_urls(names=None, zoo_dir=None):
    """The addresses the registry fetches the entries `names` from, without each entry's path:
    where a release's folder is served (`<it>/<entry path>/<file>`)."""
    entries = records.registry(zoo_dir)
    urls = set()
    for name in sorted(entries) if names is None else names:
        entry = entries[name]
        url = entry.get("url", "").rstrip("/")
        suffix = f"/{entry['path']}"
        urls.add(url[:-len(suffix)] if url.endswith(suffix) else url)
    return tuple(sorted(urls - {""}))


def write_release(output, names=None, zoo_dir=None):
    """Writes the files of published entries to `output/<entry path>/<file>`, for upload.

    Every file is checked against the registry's sha256, copied into a folder beside
    `output`, checked again, and renamed to `output` in one step: `output` is either absent or
    the whole verified release (the module's docstring says more).

    Args:
        output: the release's folder: absent, empty, or already holding exactly this release.
        names: the entries to release; None for every published one.
        zoo_dir: the local zoo the files are read from; None for `$KASM_KERAS_ZOO_DIR` or the
            checkout's `zoo/`, with the package's registry.

    Returns:
        A `Release`.

    Raises:
        ZooError: a name the registry lacks, an entry in no local zoo, a file missing or
            differing from its digest, or an `output` holding anything else.

    Examples:
        >>> from kasm_keras.zoo import release
        >>> written = release.write_release("lm_release", names=["ptb/rkm_lstm"])
        >>> written.names, written.files
        (('ptb/rkm_lstm',), 7)
    """
    output = os.path.abspath(os.fspath(output))
    chosen = tuple(sorted(records.registry(zoo_dir) if names is None else set(names)))
    files = _release_files(chosen, zoo_dir)
    targets = {relative: records.inside(output, relative, f"release {output}", "files")
               for relative in files}
    release = Release(output, chosen, len(files),
                      sum(os.path.getsize(source) for source, _ in files.values()),
                      _base_urls(chosen, zoo_dir), written=False)
    if os.path.lexists(output) and not os.path.isdir(output):
        raise records.ZooError(f"{output}: a file, not a folder; the release is not written")
    if os.path.isdir(output) and os.listdir(output):
        problem = _difference(output, files)
        if problem is None:
            return release
        raise records.ZooError(f"{output} is not empty and holds no copy of this release ({problem});"
                           " nothing in it is changed: choose a new or empty folder")
    os.makedirs(os.path.dirname(output), exist_ok=True)
    with temporary_folder(output) as staging:
        for relative, (source, digest) in files.items():
            target = records.inside(staging, relative, f"release {output}", "files")
            try:
                with writing(targets[relative]):
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    shutil.copyfile(source, target)
            except DiskFullError:
                raise
            except OSError as error:
                raise records.ZooError(f"{targets[relative]}: could not write the release's file "
                                   f"({error.strerror or error}); nothing is written") from error
            _check(target, digest, f"release file {relative!r}, copied from {source}")
        with writing(output):
            seal_directory(staging, fsync_files=True)
        try:
            os.rename(staging, output)  # replaces an empty folder, never a non-empty one
        except OSError as error:
            raise records.ZooError(f"{output}: could not rename the verified release into place "
                               f"({error.strerror or error}); nothing is written") from error
    return dataclasses.replace(release, written=True)


def _check(path, digest, what):
    """ZooError naming `what` unless the file `path` exists and has sha256 `digest`."""
    if not os.path.isfile(path):
        raise records.ZooError(f"{what}: missing; the release is not written")
    actual = file_digest(path)
    if actual != digest:
        raise records.ZooError(f"{what}: sha256 {actual} differs from the registry's {digest}; the "
                           "release is not written")


def _difference(output, files):
    """Why folder `output` does not hold exactly `files` ({relative path: (source, sha256)}):
    the first file it lacks, holds beyond them, or holds with another digest; None when it holds
    exactly them."""
    present = set()
    for root, folders, file_names in os.walk(output):
        # A link to a folder is listed with the folders, and os.walk does not enter it.
        for file_name in file_names + [f for f in folders if os.path.islink(os.path.join(root, f))]:
            present.add(os.path.relpath(os.path.join(root, file_name), output).replace(os.sep, "/"))
    extra = sorted(present - set(files))
    if extra:
        return f"it holds {extra[0]}, which is no file of this release"
    for relative, (_, digest) in sorted(files.items()):
        path = os.path.join(output, relative)
        if relative not in present or os.path.islink(path):
            return f"{relative} is missing"
        if file_digest(path) != digest:
            return f"{relative} differs from the registry's sha256"
    return None
