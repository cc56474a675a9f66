"""Lists, verifies and publishes zoo entries.

python tools/zoo.py list      # the published entries, then the names of Tables 2-4 not published
python tools/zoo.py verify [--data_dir=../shared/data] [--names=A,B]   # digests; measured again
python tools/zoo.py release --output=DIR [--names=A,B]   # the files the registry's url serves
python tools/zoo.py best --seed_runs='runs/zoo/ag_news/lstm_1gram_seed*'   # the seed to publish
python tools/zoo.py publish --model_dir=runs/ag_news/rkm_cifg_1gram --name=ag_news/rkm_cifg_1gram \
    --data_dir=../shared/data
python tools/zoo.py publish --model_dir=runs/ptb/rkm_lstm --name=ptb/rkm_lstm \
    --data_dir=../shared/data

A language model (`<corpus>/<variant>`) is measured by its test perplexity over the whole test
split, the state carried (`KernelCausalLM.perplexity` with its run's test batch size and bptt):
publish records it from the stored files, and verify --data_dir fails an entry whose perplexity
moved by more than 0.1% (relative). A time-series classifier (`japanese_vowels/<variant>_<n>gram`)
by its test accuracy, as a document classifier; publish's --data_dir is where its .ts files (or
the sktime wheel holding them) are, and without it publish downloads the pinned wheel. verify
reads the sktime data sets from --time_series_data_dir (default $KASM_KERAS_TIME_SERIES_DATA),
else from --data_dir, else the download; an entry of your own .ts files from --data_dir.

release writes, from the local zoo (this checkout's zoo/, $KASM_KERAS_ZOO_DIR or --zoo_dir), the
entries' files that a wheel user's zoo.load downloads, each checked against the registry's
sha256, to DIR/<entry>/<file> (`kasm_keras.zoo.release`): upload DIR's content to the address
it prints, or serve DIR and point $KASM_KERAS_ZOO_URL at it. DIR must be new or empty (or
already hold exactly this release: then nothing is written).
"""

import contextlib
import glob
import sys

from absl import app, flags

from kasm_keras.cli import tool_support
from kasm_keras import zoo
from kasm_keras.data import classification_data
from kasm_keras.models import task_family
from kasm_keras.zoo.release import write_release
from kasm_keras.training.checkpoints import CheckpointError
from kasm_keras.utils import download

FLAGS = flags.FLAGS
ERRORS = (zoo.ZooError, CheckpointError, classification_data.DataError, download.DownloadError,
          download.UnsafeArchiveError)
COMMANDS = ("list", "verify", "publish", "best", "release")


def define_flags(flag_values=FLAGS):
    kw = {"flag_values": flag_values}
    flags.DEFINE_string("model_dir", None, "publish: the finished tools/train.py run.", **kw)
    flags.DEFINE_string("name", None, "publish: the entry's name, "
                        f"{task_family.name_forms()}.", **kw)
    flags.DEFINE_string("url", zoo.DEFAULT_URL, "publish: where the entry's files can be fetched "
                        "from (<url>/<name>/<file>).", **kw)
    flags.DEFINE_string("data_dir", None, "publish, verify: local copy of the datasets, whose "
                        "test split is evaluated again on the stored entry (publish without it "
                        "downloads the archive; verify without it checks the files only, and "
                        "with it fails an entry whose accuracy moved by more than 0.1 points, "
                        "or whose perplexity by more than 0.1%).", **kw)
    flags.DEFINE_string("cache_dir", None, "publish: prepared data cache (default "
                        "~/.cache/kasm_keras).", **kw)
    flags.DEFINE_list("names", None, "verify, release: only these entries (default: every "
                      "one).", **kw)
    flags.DEFINE_string("output", None, "release: the folder to write the release to (new, or "
                        "empty).", **kw)
    flags.DEFINE_list("seed_runs", None, "best: finished runs of one cell with different seeds "
                      "(folders or globs, comma-separated); prints the one with the best "
                      "validation accuracy.", **kw)
    tool_support.define_zoo_dir(flag_values, "the entries", must_exist=False)
    tool_support.existing_folder(flag_values, "model_dir", "training run folder")
    tool_support.existing_folder(flag_values, "data_dir")
    # Where each family's test data is besides --data_dir (`TaskFamily.data_dir_flags`).
    tool_support.define_family_flags(flag_values, data_dir_flags())
    tool_support.not_a_file(flag_values, "cache_dir")
    tool_support.not_a_file(flag_values, "output")
    flags.register_validator(
        "url", lambda url: not url or zoo.is_http(url), "must be an http:// or https:// address "
        "(where the entry's files will be served)", flag_values=flag_values)
    flags.register_validator(
        "name", lambda name: name is None or bool(zoo.NAME.match(name)),
        f"zoo entry names look like {task_family.name_forms()}", flag_values=flag_values)


def data_dir_flags():
    """Every family's `data_dir_flags`, in the families' order."""
    return [flag for family in task_family.all_families() for flag in family.data_dir_flags]


def _summary_line(name, info):
    """`list`'s line for an entry; ZooError when the registry's record of it lacks a field."""
    try:
        return task_family.of_metadata(info).summary_line(name, info)
    except (KeyError, TypeError, ValueError) as error:
        problem = (f"no {error.args[0]!r} in its metadata" if isinstance(error, KeyError)
                   else f"unreadable metadata ({error})")
        raise zoo.ZooError(f"{zoo.registry_path(FLAGS.zoo_dir)}: entry {name!r}: {problem}; "
                           "the registry is damaged") from None


def release_line(release):
    """`release`'s line: what it wrote and where the files must be uploaded."""
    where = " or ".join(f"{url}/<entry>/<file>" for url in release.urls) or "an address"
    done = "written" if release.written else "already there, nothing written"
    entries = f"{len(release.names)} {'entry' if len(release.names) == 1 else 'entries'}"
    return (f"{release.output}: {entries}, {release.files} files, "
            f"{release.bytes:,} bytes ({done}); upload them as {where} (or serve the folder "
            f"and set ${zoo.URL_VARIABLE} to its address)")


def unpublished_lines(unpublished):
    """The names the zoo knows without an entry, each family's grouped as it groups them (a
    classifier's by dataset and n-gram width, a language model's by corpus)."""
    lines = [f"Not published ({len(unpublished)}; zoo.load or zoo.info of one prints the "
             "commands that make it):"]
    width = max(len(name.split("/")[0]) for name in unpublished)
    for family in task_family.all_families():
        names = [name for name in unpublished if family.parse_name(name) is not None]
        if names:
            lines += family.unpublished_lines(names, width)
    return lines


def verify(name, splits):
    """(`verify`'s line, whether it failed) for entry `name`: its recorded test result measured
    again from the stored files, as its family measures it."""
    info = zoo.info(name, FLAGS.zoo_dir)
    model = zoo.load(name, FLAGS.zoo_dir)
    # TFDS prints its progress: stdout keeps one line per entry.
    with contextlib.redirect_stdout(sys.stderr), \
            tool_support.download_hint(f"the {info['dataset']} test split"):
        return task_family.of_metadata(info).verify(
            name, info, model, {"data_dir": FLAGS.data_dir,
                                **{f.name: FLAGS[f.name].value for f in data_dir_flags()}},
            FLAGS.cache_dir, splits)


def main(argv):
    if len(argv) != 2 or argv[1] not in COMMANDS:
        raise app.UsageError(f"one command: {', '.join(COMMANDS)}")
    command = argv[1]
    if command == "publish":
        if not (FLAGS.model_dir and FLAGS.name):
            raise app.UsageError("publish needs --model_dir and --name")
        with tool_support.download_hint("the test split of the run's dataset"):
            print(zoo.publish_run(FLAGS.model_dir, FLAGS.name, data_dir=FLAGS.data_dir,
                                  cache_dir=FLAGS.cache_dir, zoo_dir=FLAGS.zoo_dir, url=FLAGS.url))
        return
    if command == "release":
        if not FLAGS.output:
            raise app.UsageError("release needs --output")
        print(release_line(write_release(FLAGS.output, FLAGS.names, FLAGS.zoo_dir)))
        return
    if command == "best":
        if not FLAGS.seed_runs:
            raise app.UsageError("best needs --seed_runs")
        folders = sorted({d for pattern in FLAGS.seed_runs
                          for d in (glob.glob(pattern) or [pattern])})
        print(zoo.best_run(folders))
        return
    failures = 0
    names = zoo.names(FLAGS.zoo_dir)
    if command == "list":  # every record is read before anything is printed
        lines = [f"Published ({len(names)}):"]
        lines += [_summary_line(name, zoo.info(name, FLAGS.zoo_dir)) for name in names]
        unpublished = zoo.unpublished_names(FLAGS.zoo_dir)
        if unpublished:
            lines += unpublished_lines(unpublished)
        print("\n".join(lines))
        return
    if FLAGS.names:
        unknown = sorted(set(FLAGS.names) - set(names))
        if unknown:
            tool_support.fail(f"--names: not published: {', '.join(unknown)}")
        names = [n for n in names if n in FLAGS.names]
    splits = {}  # each dataset's test split, read once
    for name in names:
        try:
            zoo.entry_dir(name, FLAGS.zoo_dir)
            line = f"ok      {name}"
            if FLAGS.data_dir:
                line, failed = verify(name, splits)
                failures += failed
            print(line)
        except (zoo.ZooError, OSError, classification_data.DataError,
                download.DownloadError) as error:  # the next entries are still checked
            failures += 1
            print(f"FAILED  {name}: {error}")
    sys.exit(1 if failures else 0)


def run():
    """`kasm-zoo`: this program on the command line (`python tools/zoo.py` runs it too)."""
    tool_support.run_program(sys.modules[__name__])


if __name__ == "__main__":
    run()
