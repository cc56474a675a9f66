"""Multichannel time series in the UEA/UCR `.ts` format: reading, where the files come from,
the validation split, per-channel statistics, batches, and leave-one-group-out folds.

The paper's third task (Table 4) classifies multichannel local field potentials, which are not
public; the same models take any real-valued `[time, channels]` sequences. Two public UEA sets
stand in for them here: JapaneseVowels (12 channels, 9 speakers, 270 training and 370 test cases
of 7 to 29 steps) and BasicMotions (6 channels, 4 activities, 40 and 40 cases of 100 steps).

Where the files come from: the `sktime` wheel on PyPI ships both under `sktime/datasets/data/`.
Nothing of sktime is imported; its wheel is only an archive of the files:

- without `data_dir` the pinned wheel (`SKTIME_WHEEL`: version, address, sha256) is downloaded
  into the cache, checked, and only the `.ts` files are extracted from it (each checked against
  its own recorded sha256), into a folder that appears whole or not at all;
- `data_dir` may hold that wheel (`pip download sktime==1.2.0 --no-deps -d DIR` puts it there;
  it is checked and extracted the same way), or the `.ts` files themselves:
  `<Problem>_TRAIN.ts` and `<Problem>_TEST.ts` in `data_dir`, `data_dir/<Problem>/` or
  `data_dir/sktime/datasets/data/<Problem>/` (an unzipped wheel).
- `ts_files`: a user's own data set, the one `<Problem>_TRAIN.ts` / `<Problem>_TEST.ts` pair
  of `data_dir`.

What the reader accepts (`read_ts`): `#` comment lines, the `@` header lines, then one case per
line after `@data`: the channels separated by `:`, each a comma-separated list of numbers, and
the class label last. Every channel of a case has the same length; cases may differ in length.
Trailing `?` or `NaN` values of a channel are padding (some unequal-length UEA files pad that
way) and are cut; a missing value inside a series, time stamps and regression targets are not
supported. A value is a decimal number in ASCII (`-1.5`, `2e-3`, `.5`, `+7.`), as the format
writes them, not whatever Python's float() takes (`1_000`, `٣`, `inf`), and it must fit float32,
the dtype the model reads (`1e39` does not). A leading byte-order mark is skipped. Anything else
stops with the file and line.
"""

import csv
import dataclasses
import glob
import hashlib
import os
import re
import unicodedata
import zipfile

import numpy as np

from kasm_keras.data.classification_data import DataError
from kasm_keras.utils.download import DEFAULT_CACHE_DIR, fetch, say_download
from kasm_keras.utils.files import atomic_directory, file_digest

SPLITS = ("train", "test")
# A user's own .ts files: the one <Problem>_TRAIN.ts / _TEST.ts pair of --data_dir.
OWN_FILES = "ts_files"
# The sktime wheel whose sktime/datasets/data/ holds the .ts files (PyPI, pinned by its sha256).
SKTIME_WHEEL = {
    "version": "1.2.0",
    "file": "sktime-1.2.0-py3-none-any.whl",
    "url": "https://files.pythonhosted.org/packages/eb/67/"
           "98c89e7a17691ca473b7cc7200f74e43e47ad61680db59bfe791f341b056/"
           "sktime-1.2.0-py3-none-any.whl",
    "checksum": "sha256:dbffc6731d2d683b668dceb5e2bbc5804bebc8446b4c580803a281684d90e4ae",
    "bytes": 8_201_107,  # its size: the download's cap
    "folder": "sktime/datasets/data",
}
GET_FILES = (f"pip download sktime=={SKTIME_WHEEL['version']} --no-deps -d DIR, then "
             "--data_dir=DIR (the wheel is checked and only the .ts files are extracted)")
# Steps whose standard deviation is at most this share of the channel's scale count as constant:
# such a channel is centred but not scaled (dividing by ~0 would blow up rounding noise).
CONSTANT_CHANNEL = 1e-7
VALIDATION_KEY = "kasm-keras-time-series-validation"
FOLDS_KEY = "kasm-keras-time-series-folds"
# The share of each class's training cases held out for validation, unless a run says otherwise.
VALIDATION_FRACTION = 0.2
# The most steps a series may have unless a run says otherwise (`--max_series_length`): training
# keeps every step of a batch's recurrence for the gradient, so its memory grows with the steps;
# a longer series is refused at its line rather than running out of memory.
# The UEA archive's longest series (EigenWorms) has 17,984 steps.
MAX_LENGTH = 100_000


@dataclasses.dataclass(frozen=True)
class TimeSeriesDataset:
    """A public UEA data set the tools know by name; counts are checked when its files are read.

    The known ones are in `DATASETS`, by name.

    Args:
        name: the name the tools use ("japanese_vowels", "basic_motions").
        problem: the UEA name, as in `<problem>_TRAIN.ts`.
        channels: int, channels per step.
        classes: int, the number of classes.
        cases: dict {split: number of cases}.
        sha256: dict {split: digest of the .ts file in the pinned sktime wheel}.

    Examples:
        >>> from kasm_keras.data.time_series_data import DATASETS
        >>> dataset = DATASETS["basic_motions"]
        >>> dataset.problem, dataset.channels, dataset.cases
        ('BasicMotions', 6, {'train': 40, 'test': 40})
    """

    name: str
    problem: str
    channels: int
    classes: int
    cases: dict
    sha256: dict


DATASETS = {d.name: d for d in (
    TimeSeriesDataset(
        "japanese_vowels", "JapaneseVowels", 12, 9, {"train": 270, "test": 370},
        {"train": "68a430eabd919cc77f40b1f5f3bc0dcafacc1486bca9260785aeb7d262cc78cd",
         "test": "b3d41d6a0ca3bcad3afb9ca7d4365382aa51341e2e58bae2a574babdda5b9462"}),
    TimeSeriesDataset(
        "basic_motions", "BasicMotions", 6, 4, {"train": 40, "test": 40},
        {"train": "8dc43cc6306cb679c888c01e26f91772ac4441a916da43bac8b79734a538b9d6",
         "test": "79213102bc6fca1a398ad98ce1185dff0208fa3d1465e687f48288946b0ff8dc"}),
)}
NAMES = tuple(DATASETS) + (OWN_FILES,)


# ------------------------------------------------------------------ reading a .ts file

@dataclasses.dataclass
class TimeSeriesFile:
    """The cases of one `.ts` file, as `read_ts` gives them.

    Args:
        path: the file read.
        problem: the header's @problemName, or None.
        classes: list of class names, in the header's order.
        series: list of float32 arrays `[length, channels]`, one per case.
        labels: int32 array `[cases]`, each case's index in `classes`.
        lines: int64 array `[cases]`, each case's line in `path`.

    Examples:
        >>> import os, tempfile
        >>> folder = tempfile.mkdtemp()
        >>> toy = ("@problemName Toy\\n@classLabel true up down\\n@data\\n"
        ...        "1,2,3:4,5,6:up\\n7,8:9,10:down\\n1,1,?:2,2,?:up\\n3,3,3:4,4,4:down\\n")
        >>> for split in ("TRAIN", "TEST"):
        ...     with open(os.path.join(folder, f"Toy_{split}.ts"), "w") as f:
        ...         _ = f.write(toy)
        >>> from kasm_keras.data.time_series_data import read_ts
        >>> ts = read_ts(os.path.join(folder, "Toy_TRAIN.ts"))
        >>> len(ts), ts.channels, ts.classes, ts.labels
        (4, 2, ['up', 'down'], array([0, 1, 0, 1], dtype=int32))
    """

    path: str
    problem: str | None
    classes: list
    series: list
    labels: np.ndarray
    lines: np.ndarray

    @property
    def channels(self):
        """The number of channels of every case."""
        return self.series[0].shape[1]

    def __len__(self):
        return len(self.series)


def _header(path, number, line, header):
    key, _, value = line[1:].partition(" ")
    key, value = key.strip().lower(), value.strip()
    where = f"{path}:{number}"
    flag = value.split()[0].lower() if value else ""
    if key in ("timestamps", "missing", "univariate", "equallength", "classlabel",
               "targetlabel") and flag not in ("true", "false"):
        raise DataError(f"{where}: @{key} must be true or false, got {value!r}")
    if key == "timestamps" and flag == "true":
        raise DataError(f"{where}: time-stamped series (@timeStamps true) are not supported; "
                        "write the values only")
    if key == "targetlabel" and flag == "true":
        raise DataError(f"{where}: regression targets (@targetLabel true) are not supported; "
                        "this reader takes classification files (@classLabel true ...)")
    if key == "classlabel":
        if flag != "true":
            raise DataError(f"{where}: @classLabel false: the file has no classes to learn")
        labels = value.split()[1:]
        if not labels:
            raise DataError(f"{where}: @classLabel true names no classes")
        if len(set(labels)) != len(labels):
            raise DataError(f"{where}: @classLabel names a class twice ({' '.join(labels)})")
        header["classes"] = labels
    elif key == "dimensions":
        if not re.fullmatch("[0-9]+", value, re.ASCII):  # int() would take "٣" and "1_0"
            raise DataError(f"{where}: @dimensions must be a whole number, got {value!r}")
        header["dimensions"] = int(value)
        if header["dimensions"] < 1:
            raise DataError(f"{where}: @dimensions must be at least 1, got {value!r}")
    elif key == "problemname":
        header["problem"] = value
    elif key == "data":
        header["data"] = True


def _is_missing(text):
    return text.strip().lower() in ("?", "nan")


# A value as the .ts format writes it: ASCII digits, an optional sign, point and exponent.
NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
NOT_FINITE = re.compile(r"[+-]?(?:inf|infinity|nan)", re.ASCII | re.IGNORECASE)
FLOAT32_MAX = float(np.finfo(np.float32).max)


def _channel(path, number, index, text, max_length):
    """One channel's values (float32); trailing missing values are padding and are cut."""
    values = [v.strip() for v in text.split(",")]
    while values and _is_missing(values[-1]):
        values.pop()
    if not values or values == [""]:
        raise DataError(f"{path}:{number}: channel {index + 1} has no values (a series needs "
                        "at least one step)")
    if len(values) > max_length:
        raise DataError(f"{path}:{number}: channel {index + 1} has {len(values):,} steps, more "
                        f"than the limit of {max_length:,} (--max_series_length raises it; "
                        "training keeps every step of a batch in memory)")
    for step, value in enumerate(values, 1):
        if NUMBER.fullmatch(value):
            continue
        if _is_missing(value):
            what = ("a missing value inside the series (only trailing ones, as padding, are "
                    "supported)")
        elif NOT_FINITE.fullmatch(value):
            what = f"a value that is not finite ({value})"
        elif not value:
            what = "an empty value"
        else:
            what = f"{value!r} is not a number (ASCII decimal digits, e.g. -1.5 or 2e-3)"
        raise DataError(f"{path}:{number}: channel {index + 1}: {what} (step {step})")
    with np.errstate(over="ignore"):
        array = np.array(values, dtype=np.float64).astype(np.float32)
    too_large = np.flatnonzero(~np.isfinite(array))
    if len(too_large):
        step = int(too_large[0])
        raise DataError(f"{path}:{number}: channel {index + 1}: {values[step]} does not fit "
                        f"float32, the dtype the model reads: its largest is {FLOAT32_MAX:.8g} "
                        f"(step {step + 1})")
    return array


def read_ts(path, max_length=MAX_LENGTH):
    """Reads the cases of a UEA/UCR `.ts` classification file.

    The module docstring says what it accepts.

    Args:
        path: str or path-like, the .ts file.
        max_length: int, the most steps a series may have.

    Returns:
        A `TimeSeriesFile`.

    Raises:
        DataError: naming the file and line, for anything it cannot take, a series of more
            than `max_length` steps included.

    Examples:
        >>> import os, tempfile
        >>> folder = tempfile.mkdtemp()
        >>> toy = ("@problemName Toy\\n@classLabel true up down\\n@data\\n"
        ...        "1,2,3:4,5,6:up\\n7,8:9,10:down\\n1,1,?:2,2,?:up\\n3,3,3:4,4,4:down\\n")
        >>> for split in ("TRAIN", "TEST"):
        ...     with open(os.path.join(folder, f"Toy_{split}.ts"), "w") as f:
        ...         _ = f.write(toy)
        >>> from kasm_keras.data.time_series_data import read_ts
        >>> ts = read_ts(os.path.join(folder, "Toy_TRAIN.ts"))
        >>> ts.series[2].tolist()  # the trailing "?" are padding, cut
        [[1.0, 2.0], [1.0, 2.0]]
        >>> ts.lines
        array([4, 5, 6, 7])
    """
    path = os.fspath(path)
    header = {"classes": None, "dimensions": None, "problem": None, "data": False}
    series, labels, lines = [], [], []
    try:
        with open(path, encoding="utf-8-sig", newline=None) as f:
            for number, raw in enumerate(f, 1):
                line = raw.strip()
                if not line or line.startswith("#"):
                    continue
                if not header["data"]:
                    if not line.startswith("@"):
                        raise DataError(f"{path}:{number}: a case before @data (header lines "
                                        "start with @)")
                    _header(path, number, line, header)
                    if header["data"] and header["classes"] is None:
                        raise DataError(f"{path}:{number}: @data before @classLabel: the "
                                        "classes must be named first")
                    continue
                if line.startswith("@"):
                    raise DataError(f"{path}:{number}: a header line after @data")
                *fields, label = line.split(":")
                label = label.strip()
                if not fields:
                    raise DataError(f"{path}:{number}: no class label (a case is "
                                    "channel:channel:...:label)")
                if label not in header["classes"]:
                    raise DataError(f"{path}:{number}: class {label!r} is not one of @classLabel's "
                                    f"({' '.join(header['classes'])})")
                expected = header["dimensions"] or (series[0].shape[1] if series else None)
                if expected is not None and len(fields) != expected:
                    raise DataError(f"{path}:{number}: {len(fields)} channels, expected "
                                    f"{expected}" + (" (@dimensions)" if header["dimensions"]
                                                     else " (as the first case)"))
                channels = [_channel(path, number, i, text, max_length)
                            for i, text in enumerate(fields)]
                lengths = {len(c) for c in channels}
                if len(lengths) > 1:
                    raise DataError(f"{path}:{number}: the channels differ in length "
                                    f"({', '.join(str(len(c)) for c in channels)} values)")
                series.append(np.stack(channels, axis=1))
                labels.append(header["classes"].index(label))
                lines.append(number)
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text ({error})") from None
    if not header["data"]:
        raise DataError(f"{path}: no @data line: not a .ts file")
    if not series:
        raise DataError(f"{path}: no cases after @data")
    return TimeSeriesFile(path, header["problem"], header["classes"], series,
                          np.asarray(labels, np.int32), np.asarray(lines, np.int64))


# ------------------------------------------------------------------ where the files are

def _pair(folder, problem):
    return {split: os.path.join(folder, f"{problem}_{split.upper()}.ts") for split in SPLITS}


def _own_pair(data_dir, splits):
    """The one <Problem>_TRAIN.ts (and _TEST.ts) pair of a user's folder."""
    trains = sorted(glob.glob(os.path.join(glob.escape(data_dir), "*_TRAIN.ts")))
    if len(trains) != 1:
        found = ", ".join(os.path.basename(p) for p in trains) or "none"
        raise DataError(f"--data_dir={data_dir}: --dataset={OWN_FILES} takes the folder of one "
                        f"<Problem>_TRAIN.ts and <Problem>_TEST.ts pair; *_TRAIN.ts files found: "
                        f"{found}")
    paths = _pair(data_dir, os.path.basename(trains[0])[:-len("_TRAIN.ts")])
    missing = [paths[s] for s in splits if not os.path.isfile(paths[s])]
    if missing:
        raise DataError(f"{missing[0]}: missing (the pair of {trains[0]})")
    return {s: paths[s] for s in splits}


def locate(name, data_dir=None, cache_dir=None, splits=SPLITS):
    """Finds a data set's `.ts` files.

    They are found in `data_dir`, extracted from the sktime wheel there, or downloaded (without
    `data_dir`).

    Args:
        name: one of `NAMES`: a known data set, or "ts_files" for the one
            `<Problem>_TRAIN.ts` / `<Problem>_TEST.ts` pair of `data_dir`.
        data_dir: optional folder of the files or of the sktime wheel (see the module
            docstring); None downloads the wheel.
        cache_dir: optional cache folder; None uses the package's default cache.
        splits: the splits needed, of "train" and "test".

    Returns:
        A dict {split: path}.

    Raises:
        ValueError: if `name` is not one of `NAMES`.
        DataError: saying what was looked for, if the files are not there.

    Examples:
        >>> import os, tempfile
        >>> folder = tempfile.mkdtemp()
        >>> toy = ("@problemName Toy\\n@classLabel true up down\\n@data\\n"
        ...        "1,2,3:4,5,6:up\\n7,8:9,10:down\\n1,1,?:2,2,?:up\\n3,3,3:4,4,4:down\\n")
        >>> for split in ("TRAIN", "TEST"):
        ...     with open(os.path.join(folder, f"Toy_{split}.ts"), "w") as f:
        ...         _ = f.write(toy)
        >>> from kasm_keras.data.time_series_data import locate
        >>> paths = locate("ts_files", folder)
        >>> os.path.basename(paths["test"])
        'Toy_TEST.ts'
    """
    if name not in NAMES:
        raise ValueError(f"unknown time-series data set {name!r}; expected one of {NAMES}")
    if data_dir is not None and not os.path.isdir(data_dir):
        raise DataError(f"--data_dir={data_dir}: no such folder")
    if name == OWN_FILES:
        if data_dir is None:
            raise DataError(f"--dataset={OWN_FILES} reads your own .ts files: pass --data_dir, "
                            "the folder holding <Problem>_TRAIN.ts and <Problem>_TEST.ts")
        return _own_pair(data_dir, splits)
    dataset = DATASETS[name]
    if data_dir is None:
        root = download_sktime_data(cache_dir)
    else:
        folders = [data_dir, os.path.join(data_dir, dataset.problem),
                   os.path.join(data_dir, *SKTIME_WHEEL["folder"].split("/"), dataset.problem)]
        for folder in folders:
            paths = _pair(folder, dataset.problem)
            if all(os.path.isfile(paths[s]) for s in splits):
                return {s: paths[s] for s in splits}
        wheel = os.path.join(data_dir, SKTIME_WHEEL["file"])
        if not os.path.isfile(wheel):
            tried = [_pair(folder, dataset.problem)[s] for folder in folders for s in splits]
            raise DataError(f"--data_dir={data_dir}: no {dataset.problem} .ts files and no "
                            f"{SKTIME_WHEEL['file']}; looked for {', '.join(tried + [wheel])}. "
                            f"To get them: {GET_FILES}")
        root = extract_sktime_data(wheel, cache_dir)
    paths = _pair(os.path.join(root, dataset.problem), dataset.problem)
    return {s: paths[s] for s in splits}


def _extracted_folder(cache_dir):
    return os.path.join(cache_dir or DEFAULT_CACHE_DIR, "time_series",
                        f"sktime-{SKTIME_WHEEL['version']}")


def download_sktime_data(cache_dir=None):
    """Downloads the pinned sktime wheel and extracts the known data sets' `.ts` files from it.

    The wheel is checked against its sha256; it is fetched once, later calls find the folder.

    Args:
        cache_dir: optional cache folder; None uses the package's default cache.

    Returns:
        The folder holding `<Problem>/<Problem>_TRAIN.ts` and `_TEST.ts` of every known set.

    Examples:
        >>> from kasm_keras.data.time_series_data import download_sktime_data
        >>> folder = download_sktime_data()  # doctest: +SKIP
    """
    folder = _extracted_folder(cache_dir)
    if _complete(folder):
        return folder
    wheel = os.path.join(cache_dir or DEFAULT_CACHE_DIR, "downloads", SKTIME_WHEEL["file"])
    say_download(f"the time-series data sets (sktime {SKTIME_WHEEL['version']}'s wheel, 8 MB; a "
                 "data_dir with a copy is read instead)", SKTIME_WHEEL["url"], wheel)
    wheel = fetch(SKTIME_WHEEL["url"], wheel, SKTIME_WHEEL["checksum"],
                  max_bytes=SKTIME_WHEEL["bytes"])
    return extract_sktime_data(wheel, cache_dir)


def _complete(folder):
    return all(os.path.isfile(p) for d in DATASETS.values()
               for p in _pair(os.path.join(folder, d.problem), d.problem).values())


def extract_sktime_data(wheel, cache_dir=None):
    """Extracts the known data sets' `.ts` files, and nothing else, from the sktime wheel.

    The wheel is checked against the pinned sha256 first, every file against its recorded
    sha256, and the folder appears whole or not at all.

    Args:
        wheel: str, the path of the pinned sktime wheel (`GET_FILES` says how to get it).
        cache_dir: optional cache folder; None uses the package's default cache.

    Returns:
        The folder holding `<Problem>/<Problem>_TRAIN.ts` and `_TEST.ts` of every known set.

    Raises:
        DataError: if the wheel is not the pinned one, or is damaged.

    Examples:
        >>> from kasm_keras.data.time_series_data import extract_sktime_data
        >>> folder = extract_sktime_data("DIR/sktime-1.2.0-py3-none-any.whl")  # doctest: +SKIP
    """
    folder = _extracted_folder(cache_dir)
    if _complete(folder):
        return folder
    expected = SKTIME_WHEEL["checksum"].split(":", 1)[1]
    actual = file_digest(wheel)
    if actual != expected:
        raise DataError(f"{wheel}: sha256 {actual}, not the pinned sktime "
                        f"{SKTIME_WHEEL['version']} wheel's {expected}; get it with: {GET_FILES}")
    with atomic_directory(folder, replace=False, fsync_files=True) as tmp:
        try:
            with zipfile.ZipFile(wheel) as archive:
                for dataset in DATASETS.values():
                    os.makedirs(os.path.join(tmp, dataset.problem), exist_ok=True)
                    for split, target in _pair(os.path.join(tmp, dataset.problem),
                                               dataset.problem).items():
                        member = f"{SKTIME_WHEEL['folder']}/{dataset.problem}/" \
                                 f"{os.path.basename(target)}"
                        with open(target, "wb") as f:
                            f.write(archive.read(member))
                        if file_digest(target) != dataset.sha256[split]:
                            raise DataError(f"{wheel}: {member} differs from the recorded file "
                                            "(sha256)")
        except (zipfile.BadZipFile, KeyError, OSError, EOFError) as error:
            raise DataError(f"{wheel}: damaged or not the sktime wheel ({error})") from None
    return folder


# ------------------------------------------------------------------ groups (for cross-validation)

# Unicode categories a group's name may not hold: control characters (newline, tab, NUL, ...)
# and line or paragraph separators, which would break the one-line-per-fold report.
CONTROL = ("Cc", "Zl", "Zp")


def _line_breaks(field):
    return field.count("\n") + field.count("\r") - field.count("\r\n")


def read_groups(path, column, cases):
    """Reads the group of every case of a training file, for leave-one-group-out.

    Args:
        path: str or path-like, a CSV file: a header row naming the columns, then one row per
            case in the training file's order.
        column: the name of the column holding the group (any text: an animal, a subject, a
            session).
        cases: int, the number of cases of the training file.

    Returns:
        A list of group names, one per case.

    Raises:
        DataError: naming the file and line, on a missing or repeated column, a bad row, a
            row count other than `cases`, or fewer than two groups.

    Examples:
        >>> import os, tempfile
        >>> from kasm_keras.data.time_series_data import read_groups
        >>> path = os.path.join(tempfile.mkdtemp(), "groups.csv")
        >>> with open(path, "w") as f:
        ...     _ = f.write("case,subject\\n1,ann\\n2,bob\\n3,ann\\n")
        >>> read_groups(path, "subject", cases=3)
        ['ann', 'bob', 'ann']
    """
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader, rows, starts = csv.reader(f), [], []
            for row in reader:
                rows.append(row)
                # The line the row starts on: a quoted field may hold line breaks.
                starts.append(reader.line_num - sum(map(_line_breaks, row)))
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text ({error})") from None
    except csv.Error as error:
        raise DataError(f"{path}: not a CSV file ({error})") from None
    if not rows:
        raise DataError(f"{path}: empty; expected a header row naming the columns, then one row "
                        "per case")
    names = [name.strip() for name in rows[0]]
    if column not in names:
        raise DataError(f"{path}:1: no column {column!r} (--group_column) in the header; its "
                        f"columns: {', '.join(names)}")
    columns = [i + 1 for i, name in enumerate(names) if name == column]
    if len(columns) > 1:
        raise DataError(f"{path}:1: the header names column {column!r} (--group_column) "
                        f"{len(columns)} times (columns {', '.join(map(str, columns))}); which "
                        "one holds the groups is unclear")
    index = names.index(column)
    groups = []
    for number, row in zip(starts[1:], rows[1:]):
        if not row:
            raise DataError(f"{path}:{number}: an empty row (one row per case, in order)")
        if len(row) != len(names):
            raise DataError(f"{path}:{number}: {len(row)} fields, the header has {len(names)}")
        group = row[index].strip()
        if not group:
            raise DataError(f"{path}:{number}: no group in column {column!r}")
        control = next((c for c in group if unicodedata.category(c) in CONTROL), None)
        if control is not None:
            raise DataError(f"{path}:{number}: the group {group!r} in column {column!r} holds "
                            f"the control character {control!r}; a group's name is one line of "
                            "printable text")
        groups.append(group)
    if len(groups) != cases:
        raise DataError(f"{path}: {len(groups)} rows of groups for {cases} cases of the training "
                        "file (one row per case, in the file's order)")
    if len(set(groups)) < 2:
        raise DataError(f"{path}: every case is in group {groups[0]!r}; leave-one-group-out "
                        "needs at least two groups")
    return groups


def leave_one_group_out(groups):
    """The folds of leave-one-group-out cross-validation, one per group in sorted order.

    A fold tests on its group's cases and trains on every other group's, so no group is ever
    on both sides.

    Args:
        groups: sequence of group names, one per case.

    Returns:
        A list of (group str, train indices, test indices), the indices int64 arrays.

    Examples:
        >>> from kasm_keras.data.time_series_data import leave_one_group_out
        >>> for group, train, test in leave_one_group_out(["ann", "bob", "ann"]):
        ...     print(group, train.tolist(), test.tolist())
        ann [1] [0, 2]
        bob [0, 2] [1]
    """
    groups = np.asarray(groups)
    return [(str(g), np.flatnonzero(groups != g), np.flatnonzero(groups == g))
            for g in sorted(set(groups.tolist()))]


def stratified_folds(labels, folds, seed):
    """The folds of stratified k-fold cross-validation, the same on every machine.

    Every class's cases, ordered by a keyed hash of (seed, index), are dealt round-robin into
    the folds, the deal going on from class to class, so each class's count differs by at most
    one between folds and so do the folds' sizes. Every case is tested in exactly one fold.

    Args:
        labels: sequence of class labels (ints or names), one per training case.
        folds: int, the number of folds, at least 2 and at most the smallest class's count
            (a fold without some class would not test it).
        seed: int, keys the hash.

    Returns:
        A list of ("fold <i> of <folds>", train indices, test indices), the indices sorted
            int64 arrays.

    Raises:
        DataError: on fewer than 2 folds, or a class with fewer cases than folds.

    Examples:
        >>> from kasm_keras.data.time_series_data import stratified_folds
        >>> for name, train, test in stratified_folds([0, 0, 1, 1, 1, 0], 3, seed=0):
        ...     print(name, train.tolist(), test.tolist())
        fold 1 of 3 [0, 2, 3, 5] [1, 4]
        fold 2 of 3 [1, 2, 4, 5] [0, 3]
        fold 3 of 3 [0, 1, 3, 4] [2, 5]
    """
    labels = np.asarray(labels)
    if int(folds) != folds or folds < 2:
        raise DataError(f"stratified k-fold needs at least 2 folds, got {folds}")
    classes, counts = np.unique(labels, return_counts=True)
    if len(classes) and counts.min() < folds:
        smallest = int(np.argmin(counts))
        raise DataError(f"class {classes[smallest]} has {counts[smallest]} training cases, "
                        f"fewer than the {folds} folds: every fold must test every class")
    held = [[] for _ in range(folds)]
    dealt = 0
    for label in classes:
        members = np.flatnonzero(labels == label)
        for i in sorted(members, key=lambda i: hashlib.sha256(
                f"{FOLDS_KEY}:{seed}:{i}".encode()).hexdigest()):
            held[dealt % folds].append(i)
            dealt += 1
    everyone = np.arange(len(labels))
    return [(f"fold {k + 1} of {folds}", np.setdiff1d(everyone, test).astype(np.int64),
             np.asarray(sorted(test), np.int64)) for k, test in enumerate(held)]


# ------------------------------------------------------------------ splits and statistics

def validation_indices(labels, fraction, seed):
    """The cases held out for validation, the same on every machine.

    In every class, the share `fraction` of its cases (rounded; a class keeps at least one
    training case) with the lowest keyed hash of (seed, index) is held out.

    Args:
        labels: sequence of int class labels, one per training case.
        fraction: float, the share of each class held out.
        seed: int, keys the hash.

    Returns:
        The sorted indices, an int64 array.

    Examples:
        >>> from kasm_keras.data.time_series_data import validation_indices
        >>> validation_indices([0, 0, 0, 0, 1, 1, 1, 1], 0.5, seed=0)
        array([2, 3, 4, 7])
    """
    labels = np.asarray(labels)
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        count = min(int(round(fraction * len(members))), len(members) - 1)
        rank = sorted(members, key=lambda i: hashlib.sha256(
            f"{VALIDATION_KEY}:{seed}:{i}".encode()).hexdigest())
        chosen.extend(rank[:count])
    return np.asarray(sorted(chosen), np.int64)


def channel_statistics(series):
    """Per-channel mean and standard deviation over every step, the statistics the model
    standardises with.

    A constant channel gets a standard deviation of 1: centred, not scaled.

    Args:
        series: list of arrays `[length, channels]`.

    Returns:
        (mean, std), float32 arrays `[channels]`.

    Examples:
        >>> import numpy as np
        >>> from kasm_keras.data.time_series_data import channel_statistics
        >>> channel_statistics([np.array([[1.0, 5.0], [3.0, 5.0]])])  # channel 2 is constant
        (array([2., 5.], dtype=float32), array([1., 1.], dtype=float32))
    """
    steps = np.concatenate([np.asarray(s, np.float64) for s in series], axis=0)
    mean, std = steps.mean(axis=0), steps.std(axis=0)
    scale = np.maximum(np.abs(mean), np.abs(steps).max(axis=0))
    std = np.where(std > CONSTANT_CHANNEL * np.maximum(scale, 1e-30), std, 1.0)
    return mean.astype(np.float32), std.astype(np.float32)


def pad(series, length=None):
    """Stacks series of different lengths into one array, zero-padded at the end.

    Args:
        series: list of arrays `[length, channels]`.
        length: optional int, the padded length (longer series are cut); None pads to the
            longest.

    Returns:
        (values float32 `[cases, length, channels]`, lengths int32 `[cases]`), the lengths
        before padding or cutting.

    Examples:
        >>> import numpy as np
        >>> from kasm_keras.data.time_series_data import pad
        >>> values, lengths = pad([np.ones([3, 2]), np.ones([1, 2])])
        >>> values.shape, lengths
        ((2, 3, 2), array([3, 1], dtype=int32))
    """
    lengths = np.asarray([len(s) for s in series], np.int32)
    length = int(lengths.max()) if length is None else length
    channels = series[0].shape[1]
    values = np.zeros([len(series), length, channels], np.float32)
    for i, s in enumerate(series):
        values[i, :min(len(s), length)] = s[:length]
    return values, lengths


@dataclasses.dataclass
class TimeSeriesData:
    """A data set's splits, ready to train on.

    `cases[split]` = (series list, labels) for "train", "validation" (carved from the training
    file) and "test"; `mean` and `std` fitted on "train" alone; `paths` the files read;
    `sources[split]` each case's "file:line", where known. Made by `load_time_series` or
    `make_data`.

    Args:
        name: the data set's name.
        classes: list of class names, in label order.
        cases: dict {split: (list of float32 arrays `[length, channels]`, int labels)}.
        mean: float32 array `[channels]`, the training cases' per-channel mean.
        std: float32 array `[channels]`, their per-channel standard deviation.
        paths: dict {split: path} of the files read.
        sources: optional dict {split: list of "file:line"}, one per case.

    Examples:
        >>> import os, tempfile
        >>> folder = tempfile.mkdtemp()
        >>> toy = ("@problemName Toy\\n@classLabel true up down\\n@data\\n"
        ...        "1,2,3:4,5,6:up\\n7,8:9,10:down\\n1,1,?:2,2,?:up\\n3,3,3:4,4,4:down\\n")
        >>> for split in ("TRAIN", "TEST"):
        ...     with open(os.path.join(folder, f"Toy_{split}.ts"), "w") as f:
        ...         _ = f.write(toy)
        >>> from kasm_keras.data.time_series_data import load_time_series
        >>> data = load_time_series("ts_files", folder, validation_fraction=0.5)
        >>> data.split_sizes(), data.channels, data.num_classes
        ({'train': 2, 'validation': 2, 'test': 4}, 2, 2)
        >>> inputs, labels = next(iter(data.batches("test", batch_size=4)))
        >>> inputs["series"].shape, inputs["padding_mask"].shape
        (TensorShape([4, 3, 2]), TensorShape([4, 3]))
    """

    name: str
    classes: list
    cases: dict
    mean: np.ndarray
    std: np.ndarray
    paths: dict
    sources: dict | None = None

    @property
    def channels(self):
        """The number of channels per step."""
        return len(self.mean)

    @property
    def num_classes(self):
        """The number of classes."""
        return len(self.classes)

    def split_sizes(self):
        """The number of cases of each split.

        Returns:
            A dict {split: int}.
        """
        return {split: len(labels) for split, (_, labels) in self.cases.items()}

    def lengths(self, split):
        """Every case's number of steps, in the split's order.

        Args:
            split: "train", "validation" or "test".

        Returns:
            An int64 NumPy array `[cases]`.
        """
        return np.asarray([len(s) for s in self.cases[split][0]], np.int64)

    def batches(self, split, batch_size, shuffle=False, repeat=False, seed=0,
                drop_remainder=False, shuffle_buffer=None):
        """({"series" float32 [batch, length, channels], "padding_mask" bool [batch, length]},
        labels int32 [batch]) batches, each padded to its own longest series: the split is held
        unpadded (`ragged_series`), so one long series costs its own steps, not the longest
        length times every case. The order is the shuffled (seeded) order of case indices
        (`shuffle_buffer` of them at a time, default all), so a checkpointed iterator holds
        indices, not the data.

        Args:
            split: "train", "validation" or "test".
            batch_size: int, cases per batch.
            shuffle: bool, shuffle the cases.
            repeat: bool, repeat the split without end.
            seed: int, the shuffle's seed.
            drop_remainder: bool, drop a last batch of fewer than `batch_size` cases (the
                batch size is then static).
            shuffle_buffer: optional int, cases shuffled at a time; None shuffles them all.

        Returns:
            A `tf.data.Dataset` of ({"series", "padding_mask"}, labels).
        """
        import tensorflow as tf

        series, labels = self.cases[split]
        values = ragged_series(series, self.channels)
        labels = tf.constant(np.asarray(labels, np.int32))
        data = tf.data.Dataset.range(len(series))
        if shuffle:
            data = data.shuffle(min(shuffle_buffer or len(series), len(series)), seed=seed,
                                reshuffle_each_iteration=True)
        if repeat:
            data = data.repeat()

        def gather(index):  # the batch's size is static with drop_remainder
            return (padded_batch(tf.gather(values, index), index.shape[0], self.channels),
                    tf.gather(labels, index))

        data = data.batch(batch_size, drop_remainder=drop_remainder).map(gather)
        return data.prefetch(tf.data.AUTOTUNE)


def ragged_series(series, channels):
    """Holds series of different lengths as one `tf.RaggedTensor`: every step once, no padding.

    Args:
        series: list of arrays `[length, channels]`.
        channels: int, the channels per step (the shape of an empty list's tensor).

    Returns:
        A float32 `tf.RaggedTensor` `[cases, (length), channels]`.

    Examples:
        >>> import numpy as np
        >>> from kasm_keras.data.time_series_data import ragged_series
        >>> ragged_series([np.ones([3, 2]), np.ones([1, 2])], channels=2).row_lengths().numpy()
        array([3, 1])
    """
    import tensorflow as tf

    lengths = np.asarray([len(s) for s in series], np.int64)
    steps = (np.concatenate([np.asarray(s, np.float32) for s in series], axis=0) if len(series)
             else np.zeros([0, channels], np.float32))
    return tf.RaggedTensor.from_row_lengths(steps, lengths)


def padded_batch(batch, size=None, channels=None):
    """The model's input of a ragged batch: series padded to the batch's longest, and a mask.

    "series" is zero-padded at the end to the batch's longest series and "padding_mask" is
    True at the real steps.

    Args:
        batch: float32 `tf.RaggedTensor` `[batch, (length), channels]`.
        size: optional int, the static batch size, where known.
        channels: optional int, the static number of channels, where known.

    Returns:
        A dict {"series": float32 `[batch, length, channels]`, "padding_mask": bool
        `[batch, length]`}.

    Examples:
        >>> import numpy as np
        >>> from kasm_keras.data.time_series_data import padded_batch, ragged_series
        >>> batch = padded_batch(ragged_series([np.ones([3, 2]), np.ones([1, 2])], 2))
        >>> batch["padding_mask"].numpy().tolist()
        [[True, True, True], [True, False, False]]
    """
    import tensorflow as tf

    values = batch.to_tensor(shape=[size, None, channels])
    mask = tf.sequence_mask(batch.row_lengths(), tf.shape(values)[1])
    mask.set_shape(values.shape[:2])
    return {"series": values, "padding_mask": mask}


def make_data(name, train, test, classes, paths, validation_fraction=VALIDATION_FRACTION,
              split_seed=0, sources=None):
    """A `TimeSeriesData` from the cases of a training and a test file.

    Validation is carved from `train` (`validation_indices`), statistics are fitted on the
    rest of `train` only. `sources` (a "file:line" per case of `train` and of `test`) names
    the case of a value the model could not read: one that is not finite once standardised
    with those statistics (3e38 in a test file whose training values are small).

    Args:
        name: the data set's name.
        train: (list of arrays `[length, channels]`, int labels), the training file's cases.
        test: the same, of the test file.
        classes: list of class names, in label order.
        paths: dict {split: path} of the files read.
        validation_fraction: float, the share of each class of `train` held out.
        split_seed: int, picks the validation cases (`validation_indices`).
        sources: optional ("file:line" per case of `train`, the same of `test`).

    Returns:
        A `TimeSeriesData`.

    Raises:
        DataError: naming the case, with `sources`, if a value is not finite once
            standardised.

    Examples:
        >>> import numpy as np
        >>> from kasm_keras.data.time_series_data import make_data
        >>> series = [np.full([2, 1], float(i)) for i in range(4)]
        >>> data = make_data("toy", (series, [0, 1, 0, 1]), (series, [0, 1, 0, 1]),
        ...                  ["a", "b"], {}, validation_fraction=0.5)
        >>> data.split_sizes()
        {'train': 2, 'validation': 2, 'test': 4}
    """
    series, labels = train
    held = validation_indices(labels, validation_fraction, split_seed)
    kept = np.setdiff1d(np.arange(len(series)), held)
    cases = {"train": ([series[i] for i in kept], np.asarray(labels)[kept]),
             "validation": ([series[i] for i in held], np.asarray(labels)[held]),
             "test": (list(test[0]), np.asarray(test[1]))}
    mean, std = channel_statistics(cases["train"][0])
    if sources is not None:
        sources = {"train": [sources[0][i] for i in kept],
                   "validation": [sources[0][i] for i in held], "test": list(sources[1])}
        for split, (split_series, _) in cases.items():
            check_standardised(split_series, sources[split], mean, std,
                               "the training cases' statistics")
    return TimeSeriesData(name, list(classes), cases, mean, std, dict(paths), sources)


def not_finite(values, mean, std):
    """Where the first value of a series is that is not finite once standardised, or None.

    Standardised as the model does it (float32 `(x - mean) / std`), a value may be NaN, inf, or
    overflow (3e38 on a channel whose standard deviation is below 1).

    Args:
        values: array `[length, channels]`.
        mean: float32 array `[channels]`.
        std: float32 array `[channels]`.

    Returns:
        A (step, channel) tuple of ints, or None if every value is finite.

    Examples:
        >>> import numpy as np
        >>> from kasm_keras.data.time_series_data import not_finite
        >>> not_finite(np.array([[1.0, 2.0], [3.0, np.inf]]), np.zeros(2, "float32"),
        ...            np.ones(2, "float32"))
        (1, 1)
    """
    with np.errstate(over="ignore", invalid="ignore"):
        bad = np.argwhere(~np.isfinite((np.asarray(values, np.float32) - mean) / std))
    return tuple(int(i) for i in bad[0]) if len(bad) else None


def check_standardised(series, sources, mean, std, statistics):
    """Checks every value of `series` is finite once standardised with `mean` and `std`.

    Args:
        series: list of arrays `[length, channels]`.
        sources: list of "file:line", one per series, for the error message.
        mean: float32 array `[channels]`.
        std: float32 array `[channels]`.
        statistics: str, whose statistics these are, for the error message.

    Raises:
        DataError: naming `sources[i]`, the channel and step, for the first series with a value
            that is `not_finite`.

    Examples:
        >>> import numpy as np
        >>> from kasm_keras.data.time_series_data import check_standardised
        >>> check_standardised([np.ones([2, 1], "float32")], ["toy.ts:4"],
        ...                    np.zeros(1, "float32"), np.ones(1, "float32"), "the training cases")
    """
    for values, source in zip(series, sources):
        bad = not_finite(values, mean, std)
        if bad is not None:
            step, channel = bad
            raise DataError(f"{source}: channel {channel + 1}: {values[step, channel]:g} is not "
                            f"finite once standardised with {statistics} (mean "
                            f"{mean[channel]:g}, standard deviation {std[channel]:g}) "
                            f"(step {step + 1})")


def sources(ts, indices=None):
    """"file:line" of every case of the TimeSeriesFile `ts` (of `indices` only, if given).

    Args:
        ts: a `TimeSeriesFile`.
        indices: optional int array of the cases wanted.

    Returns:
        A list of str.

    Examples:
        >>> import os, tempfile
        >>> folder = tempfile.mkdtemp()
        >>> toy = ("@problemName Toy\\n@classLabel true up down\\n@data\\n"
        ...        "1,2,3:4,5,6:up\\n7,8:9,10:down\\n1,1,?:2,2,?:up\\n3,3,3:4,4,4:down\\n")
        >>> for split in ("TRAIN", "TEST"):
        ...     with open(os.path.join(folder, f"Toy_{split}.ts"), "w") as f:
        ...         _ = f.write(toy)
        >>> from kasm_keras.data.time_series_data import read_ts, sources
        >>> ts = read_ts(os.path.join(folder, "Toy_TRAIN.ts"))
        >>> sources(ts, [1])[0].endswith("Toy_TRAIN.ts:5")
        True
    """
    lines = ts.lines if indices is None else ts.lines[indices]
    return [f"{ts.path}:{line}" for line in lines]


def read_files(name, paths, max_length=MAX_LENGTH):
    """Reads a data set's `.ts` files (`read_ts`) and checks they belong together.

    They must have the same classes and channels and, for a known data set, its recorded
    counts.

    Args:
        name: one of `NAMES`.
        paths: dict {split: path}, as `locate` gives it.
        max_length: int, the most steps a series may have.

    Returns:
        A dict {split: `TimeSeriesFile`}.

    Raises:
        DataError: if the files disagree, or do not match the known data set's counts.

    Examples:
        >>> import os, tempfile
        >>> folder = tempfile.mkdtemp()
        >>> toy = ("@problemName Toy\\n@classLabel true up down\\n@data\\n"
        ...        "1,2,3:4,5,6:up\\n7,8:9,10:down\\n1,1,?:2,2,?:up\\n3,3,3:4,4,4:down\\n")
        >>> for split in ("TRAIN", "TEST"):
        ...     with open(os.path.join(folder, f"Toy_{split}.ts"), "w") as f:
        ...         _ = f.write(toy)
        >>> from kasm_keras.data.time_series_data import locate, read_files
        >>> files = read_files("ts_files", locate("ts_files", folder))
        >>> len(files["train"]), len(files["test"])
        (4, 4)
    """
    read = {split: read_ts(path, max_length) for split, path in paths.items()}
    first = read[next(iter(read))]
    for split, ts in read.items():
        if ts.classes != first.classes:
            raise DataError(f"{ts.path} names the classes {' '.join(ts.classes)}, "
                            f"{first.path} {' '.join(first.classes)}")
        if ts.channels != first.channels:
            raise DataError(f"{ts.path} has {ts.channels} channels, {first.path} "
                            f"{first.channels}")
        known = DATASETS.get(name)
        if known is not None:
            if ts.channels != known.channels or len(ts.classes) != known.classes or \
                    len(ts) != known.cases[split]:
                raise DataError(f"{ts.path}: {len(ts)} cases of {ts.channels} channels in "
                                f"{len(ts.classes)} classes, but {known.problem}'s {split} split "
                                f"has {known.cases[split]} of {known.channels} in {known.classes}; "
                                "not that data set")
    return read


def load_time_series(name, data_dir=None, cache_dir=None, validation_fraction=VALIDATION_FRACTION,
                     split_seed=0, max_length=MAX_LENGTH):
    """Reads a time-series data set's splits, ready to train on.

    The files are read from `data_dir` or downloaded (see the module docstring); a series of
    more than `max_length` steps is refused. Validation is carved from the training file
    (`validation_indices`) and the standardisation is fitted on the rest of it (`make_data`).

    Args:
        name: one of `NAMES`.
        data_dir: optional folder of the files or of the sktime wheel; None downloads the
            wheel.
        cache_dir: optional cache folder; None uses the package's default cache.
        validation_fraction: float in [0, 1), the share of each class held out (0: none, for
            a final fit on every training case).
        split_seed: int, picks the validation cases.
        max_length: int, the most steps a series may have.

    Returns:
        A `TimeSeriesData`.

    Raises:
        ValueError: on an unknown name or a validation_fraction outside [0, 1).
        DataError: naming the file and line, for anything in the files it cannot take.

    Examples:
        >>> import os, tempfile
        >>> folder = tempfile.mkdtemp()
        >>> toy = ("@problemName Toy\\n@classLabel true up down\\n@data\\n"
        ...        "1,2,3:4,5,6:up\\n7,8:9,10:down\\n1,1,?:2,2,?:up\\n3,3,3:4,4,4:down\\n")
        >>> for split in ("TRAIN", "TEST"):
        ...     with open(os.path.join(folder, f"Toy_{split}.ts"), "w") as f:
        ...         _ = f.write(toy)
        >>> from kasm_keras.data.time_series_data import load_time_series
        >>> data = load_time_series("ts_files", folder, validation_fraction=0.5)
        >>> data.classes, data.lengths("test")
        (['up', 'down'], array([3, 2, 2, 3]))
    """
    if not 0 <= validation_fraction < 1:
        raise ValueError(f"validation_fraction must be in [0, 1), got {validation_fraction}")
    paths = locate(name, data_dir, cache_dir)
    read = read_files(name, paths, max_length)
    train, test = read["train"], read["test"]
    return make_data(name, (train.series, train.labels), (test.series, test.labels),
                     train.classes, paths, validation_fraction, split_seed,
                     (sources(train), sources(test)))
