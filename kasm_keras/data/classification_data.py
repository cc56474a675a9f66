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
    name: str
    title: str
    classes: tuple
    text_fields: int  # fields after the class; joined with a space (title and body)
    max_length: int  # tokens kept per document, as in the authors' recipe
    archive: str  # official archive name; it extracts to a folder of the same stem
    url: str
    checksum: str  # "sha256:..." or "md5:...", as recorded by TFDS or torchtext
    max_bytes: int  # the download's cap, a few times the archive's size (which none records)

    @property
    def folder(self):
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
    """The split files and classes.txt of a local copy, as {"train": path, "test": path, "classes": path}.

    `data_dir` may be the folder with the CSV files, a parent holding `<name>/` or the official
    `<archive stem>/` folder, or the official archive itself (which must be extracted first:
    see `kasm_keras.download.extract_archive`). Raises FileNotFoundError listing every path tried.
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
    """The official archive in `data_dir` (or `data_dir` itself if it is the archive), else None."""
    dataset = get_dataset(name)
    for path in (data_dir, os.path.join(data_dir, dataset.archive),
                 os.path.join(data_dir, dataset.folder + ".tgz")):
        if os.path.isfile(path) and os.path.basename(path).startswith(dataset.folder):
            return path
    return None


def read_classes(path, dataset):
    """classes.txt must list the dataset's canonical classes, one per line, in order (a leading
    byte-order mark is skipped)."""
    with open(path, encoding="utf-8-sig") as f:
        names = [line.strip() for line in f if line.strip()]
    if tuple(names) != dataset.classes:
        raise DataError(
            f"{path}: classes {names} differ from {dataset.title}'s canonical {list(dataset.classes)}"
        )
    return names


@dataclasses.dataclass
class BadRow:
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
