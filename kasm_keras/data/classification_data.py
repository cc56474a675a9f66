"""The document-classification datasets of Zhang, Zhao & LeCun (2015): where they are and how to read them.

Every CSV has no header and every field quoted: `"class","field",...`, classes numbered from 1 in
the order of `classes.txt`. A local copy may be the official archive, its extracted folder, or a
folder with the files under other names (the subsets in ../shared/data use `train_subset.csv`).
"""

import contextlib
import csv
import dataclasses
import os
import re
import threading

DOWNLOAD_ROOT = "https://drive.google.com/uc?export=download&id="


@dataclasses.dataclass(frozen=True)
class ClassificationDataset:
    """What is known of one dataset: its classes, its CSV layout and its official download.

    The datasets are in `DATASETS`, by name.

    Args:
        name: the short name ("ag_news", "dbpedia", "yahoo", "yelp").
        title: the name to show people.
        classes: tuple of class names, in the order of `classes.txt` (class 1 first).
        text_fields: the fields after the class; joined with a space (title and body).
        max_length: tokens kept per document, as in the authors' recipe.
        archive: the official archive's name; it extracts to a folder of the same stem.
        url: the official archive's address.
        checksum: "sha256:..." or "md5:...", as recorded by TFDS or torchtext.
        max_bytes: the download's cap, a few times the archive's size.

    Examples:
        >>> from kasm_keras.data.classification_data import get_dataset
        >>> dataset = get_dataset("ag_news")
        >>> dataset.classes, dataset.folder
        (('World', 'Sports', 'Business', 'Sci/Tech'), 'ag_news_csv')
    """

    name: str
    title: str
    classes: tuple
    text_fields: int
    max_length: int
    archive: str
    url: str
    checksum: str
    max_bytes: int  # none of the sources records the archive's size

    @property
    def folder(self):
        """The folder the official archive extracts to (its name without suffixes)."""
        return self.archive.split(".")[0]


DATASETS = {
    d.name: d
    for d in (
        ClassificationDataset(
            "ag_news", "AG News",
            ("World", "Sports", "Business", "Sci/Tech"),
            2, 128, "ag_news_csv.tar.gz", DOWNLOAD_ROOT + "0Bz8a_Dbh9QhbUDNpeUdjb0wxRms",
            "sha256:4e2fc37d369e6e317a8b62d0d2f11d379f8c3dde60c07c35a46b069a246498ad",
            48_000_000,  # about 12 MB
        ),
        ClassificationDataset(
            "dbpedia", "DBpedia-14",
            ("Company", "EducationalInstitution", "Artist", "Athlete", "OfficeHolder",
             "MeanOfTransportation", "Building", "NaturalPlace", "Village", "Animal", "Plant",
             "Album", "Film", "WrittenWork"),
            2, 128, "dbpedia_csv.tar.gz", DOWNLOAD_ROOT + "0Bz8a_Dbh9QhbQ2Vic1kxMmZZQ1k",
            "md5:dca7b1ae12b1091090db52aa7ec5ca64",
            256_000_000,  # about 68 MB
        ),
        ClassificationDataset(
            "yahoo", "Yahoo! Answers",
            ("Society & Culture", "Science & Mathematics", "Health", "Education & Reference",
             "Computers & Internet", "Sports", "Business & Finance", "Entertainment & Music",
             "Family & Relationships", "Politics & Government"),
            3, 96, "yahoo_answers_csv.tar.gz", DOWNLOAD_ROOT + "0Bz8a_Dbh9Qhbd2JNdDBsQUdocVU",
            "md5:f3f9899b997a42beb24157e62e3eea8d",
            1_000_000_000,  # about 320 MB
        ),
        ClassificationDataset(
            "yelp", "Yelp Review Full",
            ("1", "2", "3", "4", "5"),
            1, 128, "yelp_review_full_csv.tar.gz", DOWNLOAD_ROOT + "0Bz8a_Dbh9QhbZlU4dXhHTFhZQU0",
            "md5:f7ddfafed1033f68ec72b9267863af6c",
            640_000_000,  # about 200 MB
        ),
    )
}

# Python's csv module refuses fields over 128 KiB by default; valid documents can be longer.
# The limit stays finite so that a broken file (an unclosed quote) fails instead of filling memory,
# and physical lines are read in bounded pieces for the same reason.
FIELD_SIZE_LIMIT = 16 << 20  # characters per field
LINE_SIZE_LIMIT = 64 << 20  # bytes per physical line
CLASS_FIELD = re.compile(r"[ \t]*([0-9]+)[ \t]*")  # ASCII digits only: not "³", not "٣"

SPLIT_FILES = {  # split -> file names accepted, in order of preference
    "train": ("train.csv", "train_subset.csv"),
    "test": ("test.csv", "test_subset.csv"),
}


class DataError(ValueError):
    """Bad input data; the message names the file and line."""


def get_dataset(name):
    """The `ClassificationDataset` called `name`.

    Args:
        name: a key of `DATASETS`.

    Returns:
        A `ClassificationDataset`.

    Raises:
        ValueError: naming the known datasets, if `name` is not one.

    Examples:
        >>> from kasm_keras.data.classification_data import get_dataset
        >>> get_dataset("dbpedia").title
        'DBpedia-14'
    """
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"Unknown dataset {name!r}; expected one of {tuple(DATASETS)}") from None


def _candidate_folders(dataset, root):
    yield root
    for sub in (dataset.name, dataset.folder):
        yield os.path.join(root, sub)
        yield os.path.join(root, sub, dataset.folder)


def locate_source(name, data_dir):
    """Finds the split files and classes.txt of a local copy of a dataset.

    Args:
        name: a key of `DATASETS`.
        data_dir: str or path-like: the folder with the CSV files, or a parent holding
            `<name>/` or the official `<archive stem>/` folder. An archive must be extracted
            first (`kasm_keras.utils.download.extract_archive`).

    Returns:
        A dict {"train": path, "test": path, "classes": path or None}; the split files may
        also be named `train_subset.csv` and `test_subset.csv`.

    Raises:
        FileNotFoundError: listing every path tried, or saying `data_dir` is a file.

    Examples:
        >>> import os, tempfile
        >>> folder = tempfile.mkdtemp()
        >>> with open(os.path.join(folder, "train.csv"), "w") as f:
        ...     _ = f.write('"3","Wall St.","Stocks rose."\\n"9","x","y"\\n')
        >>> with open(os.path.join(folder, "test.csv"), "w") as f:
        ...     _ = f.write('"1","Title","Body"\\n')
        >>> from kasm_keras.data.classification_data import locate_source
        >>> paths = locate_source("ag_news", folder)
        >>> os.path.basename(paths["train"]), paths["classes"]
        ('train.csv', None)
    """
    dataset = get_dataset(name)
    data_dir = os.fspath(data_dir)
    if os.path.isfile(data_dir):
        raise FileNotFoundError(
            f"{data_dir} is a file; pass the folder holding {dataset.name}'s CSV files, or the "
            f"folder that holds {dataset.archive} to have it extracted"
        )
    tried = []
    for folder in _candidate_folders(dataset, data_dir):
        found = {}
        for split, names in SPLIT_FILES.items():
            for file_name in names:
                path = os.path.join(folder, file_name)
                tried.append(path)
                if os.path.isfile(path):
                    found[split] = path
                    break
        if len(found) == len(SPLIT_FILES):
            classes = os.path.join(folder, "classes.txt")
            found["classes"] = classes if os.path.isfile(classes) else None
            return found
    raise FileNotFoundError(
        f"No {dataset.title} CSV files under {data_dir}; looked for:\n  " + "\n  ".join(tried)
    )


def find_archive(name, data_dir):
    """The official archive in `data_dir` (or `data_dir` itself if it is the archive), else None.

    Args:
        name: a key of `DATASETS`.
        data_dir: str, a folder or an archive file.

    Returns:
        The archive's path, or None.

    Examples:
        >>> import tempfile
        >>> from kasm_keras.data.classification_data import find_archive
        >>> find_archive("ag_news", tempfile.mkdtemp()) is None
        True
    """
    dataset = get_dataset(name)
    for path in (data_dir, os.path.join(data_dir, dataset.archive),
                 os.path.join(data_dir, dataset.folder + ".tgz")):
        if os.path.isfile(path) and os.path.basename(path).startswith(dataset.folder):
            return path
    return None


def read_classes(path, dataset):
    """Reads classes.txt and checks it lists the dataset's canonical classes, in order.

    Args:
        path: str, the classes.txt file, one class per line (a leading byte-order mark and
            blank lines are skipped).
        dataset: the `ClassificationDataset` it belongs to.

    Returns:
        The list of class names.

    Raises:
        DataError: if the classes differ from `dataset.classes`.

    Examples:
        >>> import os, tempfile
        >>> from kasm_keras.data.classification_data import get_dataset, read_classes
        >>> path = os.path.join(tempfile.mkdtemp(), "classes.txt")
        >>> with open(path, "w") as f:
        ...     _ = f.write("World\\nSports\\nBusiness\\nSci/Tech\\n")
        >>> read_classes(path, get_dataset("ag_news"))
        ['World', 'Sports', 'Business', 'Sci/Tech']
    """
    with open(path, encoding="utf-8-sig") as f:
        names = [line.strip() for line in f if line.strip()]
    if tuple(names) != dataset.classes:
        raise DataError(
            f"{path}: classes {names} differ from {dataset.title}'s canonical {list(dataset.classes)}"
        )
    return names


@dataclasses.dataclass
class BadRow:
    """A row of a CSV file that was left out, and why; prints as "path:line: reason".

    Args:
        path: the file.
        line: the row's first physical line, from 1.
        reason: what is wrong with it.

    Examples:
        >>> from kasm_keras.data.classification_data import BadRow
        >>> print(BadRow("train.csv", 7, "expected 3 fields, found 2"))
        train.csv:7: expected 3 fields, found 2
    """

    path: str
    line: int
    reason: str

    def __str__(self):
        return f"{self.path}:{self.line}: {self.reason}"


def _decoded_lines(raw, bad_lines, max_bytes):
    """Physical lines of a byte stream as text; invalid UTF-8 lines, and lines over `max_bytes`
    (read in bounded pieces and replaced by an empty line), are noted in `bad_lines`."""
    number = 0
    while line := raw.readline(max_bytes + 1):
        number += 1
        if len(line) > max_bytes:
            while line and not line.endswith(b"\n"):
                line = raw.readline(1 << 20)
            bad_lines[number] = f"line longer than {max_bytes} bytes"
            yield "\n"
            continue
        try:  # a byte-order mark opening the file is not part of its first field
            yield line.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as error:
            bad_lines[number] = f"invalid UTF-8 at byte {error.start} of the line"
            yield line.decode("utf-8", errors="replace")


_limit_lock = threading.Lock()
_limit_users = 0
_limit_saved = None


@contextlib.contextmanager
def _field_size_limit(limit):
    """csv's field limit is global to the process: it is `limit` only while one of our readers
    parses, and put back when the last one stops (so other csv readers keep their own setting)."""
    global _limit_users, _limit_saved
    with _limit_lock:
        if _limit_users == 0:
            _limit_saved = csv.field_size_limit()
        _limit_users += 1
        csv.field_size_limit(limit)
    try:
        yield
    finally:
        with _limit_lock:
            _limit_users -= 1
            if _limit_users == 0:
                csv.field_size_limit(_limit_saved)


def _preview(text, limit=40):
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _label(field, num_classes):
    """The class number in 1..num_classes of a class field, else None."""
    match = CLASS_FIELD.fullmatch(field)
    if match is None:
        return None
    digits = match.group(1).lstrip("0")
    if not digits or len(digits) > len(str(num_classes)):  # int() of 5000 digits would raise
        return None
    value = int(digits)
    return value if value <= num_classes else None


def read_rows(path, dataset, skip_bad_rows=False, bad_rows=None):
    """Yields (line, label, text) from one CSV file, label from 0, fields joined with a space.

    A row with the wrong number of fields, a class that is not an integer in 1..C written in ASCII
    digits, invalid UTF-8, a field over FIELD_SIZE_LIMIT characters or a line over LINE_SIZE_LIMIT
    bytes raises DataError naming the file and line. With `skip_bad_rows` such rows are left
    out and appended to `bad_rows` (a list) instead, so the caller can say which; a file with
    no good row at all still raises DataError, naming the file and its first bad row.

    Args:
        path: str or path-like, the CSV file.
        dataset: the `ClassificationDataset` it belongs to.
        skip_bad_rows: bool, leave bad rows out instead of raising.
        bad_rows: optional list that the skipped rows are appended to, as `BadRow`s.

    Returns:
        An iterator of (line, label, text): the row's first line (int, from 1), its class
        (int, from 0) and its text fields joined with a space.

    Raises:
        FileNotFoundError: if the file is missing.
        DataError: naming the file and line, on a bad row (unless skipped) or no good row.

    Examples:
        >>> import os, tempfile
        >>> folder = tempfile.mkdtemp()
        >>> with open(os.path.join(folder, "train.csv"), "w") as f:
        ...     _ = f.write('"3","Wall St.","Stocks rose."\\n"9","x","y"\\n')
        >>> with open(os.path.join(folder, "test.csv"), "w") as f:
        ...     _ = f.write('"1","Title","Body"\\n')
        >>> from kasm_keras.data.classification_data import get_dataset, read_rows
        >>> bad_rows = []
        >>> list(read_rows(os.path.join(folder, "train.csv"), get_dataset("ag_news"),
        ...                skip_bad_rows=True, bad_rows=bad_rows))
        [(1, 2, 'Wall St. Stocks rose.')]
        >>> print(bad_rows[0].reason)
        class '9' is not an integer in 1..4
    """
    path = os.fspath(path)
    bad_rows = [] if bad_rows is None else bad_rows
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file")
    if os.path.getsize(path) == 0:
        raise DataError(f"{path}: the file is empty")
    num_classes = len(dataset.classes)
    bad_lines = {}
    first_bad, num_bad, good = None, 0, 0
    with open(path, "rb") as raw:
        reader = csv.reader(_decoded_lines(raw, bad_lines, LINE_SIZE_LIMIT), strict=True)
        start = 1
        while True:
            try:
                with _field_size_limit(FIELD_SIZE_LIMIT):
                    row = next(reader)
            except StopIteration:
                break
            except csv.Error as error:
                end = reader.line_num
                reason = next((bad_lines[n] for n in range(start, end + 1) if n in bad_lines),
                              None)
                at = f" at line {end}" if end != start else ""
                problem = BadRow(path, start, reason or f"malformed CSV{at} ({error})")
                if not skip_bad_rows:
                    raise DataError(str(problem)) from None
                bad_rows.append(problem)
                first_bad, num_bad = first_bad or problem, num_bad + 1
                start = end + 1
                continue
            end = reader.line_num
            reason = next((bad_lines[n] for n in range(start, end + 1) if n in bad_lines), None)
            if reason is None and len(row) != 1 + dataset.text_fields:
                reason = f"expected {1 + dataset.text_fields} fields, found {len(row)}"
            label = None
            if reason is None:
                label = _label(row[0], num_classes)
                if label is None:
                    reason = f"class {_preview(row[0])} is not an integer in 1..{num_classes}"
            if reason is not None:
                problem = BadRow(path, start, reason)
                if not skip_bad_rows:
                    raise DataError(str(problem))
                bad_rows.append(problem)
                first_bad, num_bad = first_bad or problem, num_bad + 1
            else:
                good += 1
                text = " ".join(field for field in row[1:] if field)
                yield start, label - 1, text
            start = end + 1
    if not good:
        raise DataError(
            f"{path}: all {num_bad} rows are bad; first: line {first_bad.line}: {first_bad.reason}"
            if first_bad else f"{path}: no rows")
