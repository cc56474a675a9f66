"""TensorFlow Datasets builders for the Zhang et al. (2015) text-classification archives.

A local copy is given the TFDS way, as the manual directory
(`download_config=tfds.download.DownloadConfig(manual_dir=...)`): the CSV folder, a parent of it,
or a folder holding the official archive. Without one, the official archive is downloaded and
checked against its recorded checksum. The prepared files are TFDS's cache: a second run reads
them instead of parsing the CSV again.
"""

import contextlib
import json
import os
import re

import numpy as np
import tensorflow_datasets as tfds

from kasm_keras.data import classification_data
from kasm_keras.utils.download import extract_archive, fetch, say_download
from kasm_keras.utils.files import remove_dead_writer_folders, write_text, writer_record

BAD_ROWS_FILE = "bad_rows.json"
WRITER_FILE = "writer.json"  # who prepared (or is preparing) the folder: pid, machine, host
# TFDS prepares <config>/<version> in <config>/incomplete.<6 random>_<version> and renames it.
INCOMPLETE_DIR = re.compile(r"incomplete\.[A-Z0-9]{6}_.+")


def _remove_dead_incomplete_dirs(config_dir):
    """Removes TFDS's `incomplete.*` folders in `config_dir` whose writer is dead; returns them.

    They are left by preparations that were killed.

    TFDS names these folders itself, with no trace of the writer, so the builder writes
    WRITER_FILE (pid and machine, see `kasm_keras.utils.files`) into its folder as the
    first step of preparing. A folder is removed when that pid is certainly not running on this
    machine: never while another live process prepares the same cache, and never for a writer on
    another machine, whose pid we cannot check. A folder without WRITER_FILE (killed in the
    instant between TFDS creating it and the builder writing the file) is removed once it is
    `files.LEGACY_STALE_SECONDS` old.
    """
    return remove_dead_writer_folders(config_dir, INCOMPLETE_DIR, WRITER_FILE)


@contextlib.contextmanager
def without_progress_bars():
    """TFDS's progress bars off inside, and afterwards as the caller had them: TFDS keeps the
    setting for the whole process, which a library must not change for its user.

    Returns:
        A context manager.

    Examples:
        >>> from tensorflow_datasets.core.utils import tqdm_utils
        >>> from kasm_keras.data.tfds_builders import without_progress_bars
        >>> before = tqdm_utils._active
        >>> with without_progress_bars():
        ...     tqdm_utils._active
        False
        >>> tqdm_utils._active == before
        True
    """
    from tensorflow_datasets.core.utils import tqdm_utils

    shown = getattr(tqdm_utils, "_active", True)
    tfds.display_progress_bar(False)
    try:
        yield
    finally:
        tfds.display_progress_bar(shown)


class ZhangTextClassificationConfig(tfds.core.BuilderConfig):
    """The TFDS config of one dataset of `ZhangTextClassification`, named after it.

    Args:
        dataset: the `ClassificationDataset` it prepares.

    Examples:
        >>> from kasm_keras.data.classification_data import get_dataset
        >>> from kasm_keras.data.tfds_builders import ZhangTextClassificationConfig
        >>> config = ZhangTextClassificationConfig(get_dataset("yelp"))
        >>> config.name, config.description
        ('yelp', 'Yelp Review Full')
    """

    def __init__(self, dataset):
        super().__init__(name=dataset.name, description=dataset.title)
        self.dataset = dataset


class ZhangTextClassification(tfds.core.GeneratorBasedBuilder):
    """AG News, DBpedia-14, Yahoo! Answers and Yelp Review Full as a TFDS builder.

    Each example holds `text` (title and body joined), `label`, and `line`, the line of the
    source CSV where its row starts. The local
    copy is the manual directory (see the module's docstring); without one the official archive
    is downloaded.

    Args:
        skip_bad_rows: bool, leave malformed CSV rows out (see `skipped_rows`) instead of
            failing on the first one.
        **kwargs: `tfds.core.GeneratorBasedBuilder`'s arguments, e.g. `config` (a dataset's
            name) and `data_dir`.

    Examples:
        >>> import os, tempfile, tensorflow_datasets as tfds
        >>> from kasm_keras.data.tfds_builders import ZhangTextClassification
        >>> folder = tempfile.mkdtemp()
        >>> with open(os.path.join(folder, "train.csv"), "w") as f:
        ...     _ = f.write('"3","Wall St.","Stocks rose."\\n"9","x","y"\\n')
        >>> with open(os.path.join(folder, "test.csv"), "w") as f:
        ...     _ = f.write('"1","Title","Body"\\n')
        >>> builder = ZhangTextClassification(config="ag_news", data_dir=tempfile.mkdtemp(),
        ...                                   skip_bad_rows=True)
        >>> builder.download_and_prepare(
        ...     download_config=tfds.download.DownloadConfig(manual_dir=folder))
        >>> builder.info.splits["train"].num_examples
        1
        >>> print(builder.skipped_rows()[0].reason)
        class '9' is not an integer in 1..4
    """

    VERSION = tfds.core.Version("1.0.0")
    BUILDER_CONFIGS = [ZhangTextClassificationConfig(d) for d in classification_data.DATASETS.values()]
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Optional. Place the official archive (e.g. ag_news_csv.tar.gz), its extracted folder, or "
        "a folder with train.csv (or train_subset.csv), test.csv (or test_subset.csv) and "
        "classes.txt in the manual directory. Without one, the archive is downloaded."
    )

    def __init__(self, *, skip_bad_rows=False, **kwargs):
        self.skip_bad_rows = skip_bad_rows
        self.bad_rows = []
        super().__init__(**kwargs)

    def _info(self):
        dataset = self.builder_config.dataset
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict({
                "text": tfds.features.Text(),
                "label": tfds.features.ClassLabel(names=list(dataset.classes)),
                "line": np.int64,  # line of the source CSV where the row starts
            }),
            supervised_keys=("text", "label"),
            homepage="https://arxiv.org/abs/1509.01626",
        )

    def _split_generators(self, dl_manager):
        dataset = self.builder_config.dataset
        try:
            source_dir = os.fspath(dl_manager.manual_dir)
        except AssertionError:  # no manual directory given, or it is empty
            source_dir = None
        if source_dir is None:
            archive = os.path.join(dl_manager.download_dir, dataset.archive)
            say_download(f"{dataset.title} ({dataset.archive}; a data_dir with a copy is read "
                         "instead)", dataset.url, archive)
            archive = fetch(dataset.url, archive, dataset.checksum, max_bytes=dataset.max_bytes)
            source_dir = extract_archive(archive, os.path.join(dl_manager.download_dir, dataset.folder))
        else:
            try:
                classification_data.locate_source(dataset.name, source_dir)
            except FileNotFoundError:
                archive = classification_data.find_archive(dataset.name, source_dir)
                if archive is None:
                    raise
                source_dir = extract_archive(
                    archive, os.path.join(dl_manager.download_dir, dataset.folder))
        files = classification_data.locate_source(dataset.name, source_dir)
        if files["classes"] is not None:
            classification_data.read_classes(files["classes"], dataset)
        self.bad_rows = []
        return {split: self._generate_examples(files[split]) for split in ("train", "test")}

    def _generate_examples(self, path):
        for line, label, text in classification_data.read_rows(
            path, self.builder_config.dataset, self.skip_bad_rows, self.bad_rows
        ):
            yield line, {"text": text, "label": label, "line": line}

    def download_and_prepare(self, *args, **kwargs):
        """TFDS's, after removing the `incomplete.*` folders of preparations that were killed,
        without TFDS's progress bars and messages ("Downloading and preparing dataset Unknown
        size ..."): TFDS downloads nothing here (a local copy is read, or `fetch` downloads the
        archive), and a preparation of the local files is the cache's business, not news."""
        _remove_dead_incomplete_dirs(os.path.dirname(self.data_dir))
        with without_progress_bars():
            return super().download_and_prepare(*args, **kwargs)

    def _log_download_bytes(self):
        """TFDS prints "Downloading and preparing dataset ..." here: nothing is downloaded."""

    def _log_download_done(self):
        """TFDS prints "Dataset ... downloaded and prepared to ..." here."""

    def _download_and_prepare(self, dl_manager, download_config=None):
        # self.data_dir is TFDS's incomplete.* folder here: say who is writing it, first.
        write_text(os.path.join(self.data_dir, WRITER_FILE), json.dumps(writer_record()))
        super()._download_and_prepare(dl_manager, download_config=download_config)
        report = [{"path": r.path, "line": r.line, "reason": r.reason} for r in self.bad_rows]
        # Written into TFDS's temporary folder, so it lands with the prepared files or not at all.
        write_text(os.path.join(self.data_dir, BAD_ROWS_FILE), json.dumps(report))

    def skipped_rows(self):
        """The rows left out when the data was prepared with skip_bad_rows.

        Returns:
            A list of `classification_data.BadRow` (empty if none).
        """
        path = os.path.join(self.data_dir, BAD_ROWS_FILE)
        if not os.path.exists(path):
            return []
        with open(path, encoding="utf-8") as f:
            return [classification_data.BadRow(**row) for row in json.load(f)]
