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
import os
import sys

from absl import app, flags

from kasm_keras.cli import tool_support
from kasm_keras import zoo
from kasm_keras.zoo.release import write_release
from kasm_keras.data import classification_data, time_series_data
from kasm_keras.training.checkpoints import CheckpointError
from kasm_keras.utils import download

FLAGS = flags.FLAGS
ERRORS = (zoo.ZooError, CheckpointError, classification_data.DataError, download.DownloadError,
          download.UnsafeArchiveError)
# verify --data_dir: the most an entry's re-measured test accuracy may differ from the
# recorded one, in points.
MAX_REEVALUATION_CHANGE = 0.1
# verify --data_dir: the most a language model's re-measured test perplexity may differ from the
# recorded one, relative.
MAX_PERPLEXITY_REEVALUATION_CHANGE = 0.001
COMMANDS = ("list", "verify", "publish", "best", "release")


def define_flags(flag_values=FLAGS):
    kw = {"flag_values": flag_values}
    flags.DEFINE_string("model_dir", None, "publish: the finished tools/train.py run.", **kw)
    flags.DEFINE_string("name", None, "publish: the entry's name, <dataset>/<variant>_<n>gram (a "
                        "classifier) or <corpus>/<variant> (a language model).", **kw)
    flags.DEFINE_string("url", zoo.DEFAULT_URL, "publish: where the entry's files can be fetched "
                        "from (<url>/<name>/<file>).", **kw)
    flags.DEFINE_string("data_dir", None, "publish, verify: local copy of the datasets, whose "
                        "test split is evaluated again on the stored entry (publish without it "
                        "downloads the archive; verify without it checks the files only, and "
                        "with it fails an entry whose accuracy moved by more than 0.1 points, "
                        "or whose perplexity by more than 0.1%).", **kw)
    flags.DEFINE_string("cache_dir", None, "publish: prepared data cache (default "
                        "~/.cache/kasm_keras).", **kw)
    flags.DEFINE_string("time_series_data_dir", os.environ.get("KASM_KERAS_TIME_SERIES_DATA"),
                        "verify: where the time-series entries' .ts files (or the sktime wheel "
                        "holding them) are (default $KASM_KERAS_TIME_SERIES_DATA; unset: "
                        "--data_dir, else the pinned wheel is downloaded).", **kw)
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
    tool_support.existing_folder(flag_values, "time_series_data_dir")
    tool_support.not_a_file(flag_values, "cache_dir")
    tool_support.not_a_file(flag_values, "output")
    flags.register_validator(
        "url", lambda url: not url or zoo.is_http(url), "must be an http:// or https:// address "
        "(where the entry's files will be served)", flag_values=flag_values)
    flags.register_validator(
        "name", lambda name: name is None or bool(zoo.NAME.match(name)),
        "zoo entry names look like <dataset>/<variant>_<n>gram (a classifier) or "
        "<corpus>/<variant> (a language model)", flag_values=flag_values)


def _summary_line(name, info):
    """`list`'s line for an entry; ZooError when the registry's record of it lacks a field."""
    try:
        if info.get("task") == zoo.LANGUAGE_MODEL:
            from kasm_keras.zoo.language_models import state_label

            paper = info.get("paper_perplexity")
            return (f"  {name:<32} test perplexity {float(info['test_perplexity']):.2f}  "
                    f"(paper {'none' if paper is None else f'{paper:.2f}'}; state "
                    f"{state_label(info['state_sizes'])}; {float(info['epochs']):.1f} epochs)")
        if info.get("task") == zoo.TIME_SERIES:
            return (f"  {name:<32} test accuracy {float(info['test_accuracy']):.2f}%  "
                    f"({int(info['training_cases']):,} training cases, goal "
                    f"{float(info['goal']):.0f}%)")
        return (f"  {name:<32} test accuracy {float(info['test_accuracy']):.2f}%  "
                f"({int(info['training_documents']):,} training documents)")
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
    """The names the zoo knows without an entry, one line per dataset and n-gram width."""
    from kasm_keras.layers.variants import VARIANTS
    from kasm_keras.zoo import time_series

    missing, language_models = {}, {}
    for name in unpublished:
        if zoo.parse_language_model_name(name):
            corpus, variant = zoo.parse_language_model_name(name)
            language_models.setdefault(corpus, []).append(variant)
            continue
        dataset, variant, ngram = zoo.parse_name(name) or zoo.parse_time_series_name(name)
        missing.setdefault(dataset, {}).setdefault(ngram, []).append(variant)
    lines = [f"Not published ({len(unpublished)}; zoo.load or zoo.info of one prints the "
             "commands that make it):"]
    width = max(map(len, [*missing, *language_models]))
    for dataset, by_ngram in missing.items():
        note = " (its data was not available here)" if dataset in zoo.WITHOUT_DATA else ""
        variants_known = len(VARIANTS) if dataset in zoo.DATASETS else len(
            time_series.VARIANTS)
        if sorted(by_ngram) == list(zoo.NGRAMS) and all(len(v) == variants_known
                                                       for v in by_ngram.values()):
            lines.append(f"  {dataset:<{width}} every variant, "
                         f"{' and '.join(f'{n}gram' for n in zoo.NGRAMS)}{note}")
            continue
        for i, (ngram, variants) in enumerate(sorted(by_ngram.items())):
            shown = "every variant" if len(variants) == variants_known else ", ".join(variants)
            lines.append(f"  {dataset if i == 0 else '':<{width}} {ngram}gram: {shown}"
                         f"{note if i == 0 else ''}")
    table3 = dict(zip(zoo.language_model_names(), map(zoo.parse_language_model_name,
                                                       zoo.language_model_names())))
    for corpus, variants in language_models.items():
        every = len(variants) == sum(1 for c, _ in table3.values() if c == corpus)
        note = " (its data was not available here)" if corpus in zoo.LM_WITHOUT_DATA else ""
        lines.append(f"  {corpus:<{width}} language model: "
                     f"{'every variant of Table 3' if every else ', '.join(variants)}{note}")
    return lines


def verify_language_model(name, splits):
    """(`verify`'s line, whether it failed) for a language model: its test perplexity measured
    again from the stored files, as publish measured it."""
    from kasm_keras.zoo import language_models

    info = zoo.info(name, FLAGS.zoo_dir)
    lm = zoo.load(name, FLAGS.zoo_dir)
    key = (info["dataset"], tuple(lm.preprocessor.tokenizer.get_vocabulary()))
    if key not in splits:
        with tool_support.download_hint(f"the {info['dataset']} corpus"):
            splits[key] = language_models.split_ids(lm, info["dataset"], FLAGS.data_dir,
                                                    FLAGS.cache_dir)
    evaluation = info["evaluation"]
    measured = language_models.measure(lm, splits[key], evaluation["batch_size"],
                                       evaluation["bptt"])["perplexity"]
    recorded = info["test_perplexity"]
    change = language_models.relative_change(measured, recorded)
    failed = abs(change) > MAX_PERPLEXITY_REEVALUATION_CHANGE
    return (f"{'FAILED' if failed else 'ok':<8}{name}  test perplexity {measured:.2f} (recorded "
            f"{recorded:.2f}, {100 * change:+.3f}%)"), failed


def verify_time_series(name, splits):
    """(`verify`'s line, whether it failed) for a time-series classifier: its test accuracy
    measured again from the stored files."""
    from kasm_keras.zoo import time_series

    info = zoo.info(name, FLAGS.zoo_dir)
    dataset = info["dataset"]
    if dataset not in splits:
        with tool_support.download_hint(f"the {dataset} data set"):
            # The sktime data sets from their own folder; a user's own .ts files from --data_dir.
            folder = FLAGS.data_dir if dataset == time_series_data.OWN_FILES else (
                FLAGS.time_series_data_dir or FLAGS.data_dir)
            splits[dataset] = time_series.split_cases(dataset, "test", folder, FLAGS.cache_dir)[1:]
    measured = 100 * time_series.accuracy(zoo.load(name, FLAGS.zoo_dir), *splits[dataset])
    change = measured - info["test_accuracy"]
    failed = abs(change) > MAX_REEVALUATION_CHANGE
    return (f"{'FAILED' if failed else 'ok':<8}{name}  test accuracy {measured:.2f}% (recorded "
            f"{info['test_accuracy']:.2f}%, {change:+.2f})"), failed


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
            task = zoo.info(name, FLAGS.zoo_dir).get("task")
            if FLAGS.data_dir and task == zoo.LANGUAGE_MODEL:
                line, failed = verify_language_model(name, splits)
                failures += failed
            elif FLAGS.data_dir and task == zoo.TIME_SERIES:
                line, failed = verify_time_series(name, splits)
                failures += failed
            elif FLAGS.data_dir:  # the recorded accuracy, measured again from the stored files
                info = zoo.info(name, FLAGS.zoo_dir)
                dataset = info["dataset"]
                if dataset not in splits:
                    # TFDS prints its progress: stdout keeps one line per entry.
                    with contextlib.redirect_stdout(sys.stderr), \
                            tool_support.download_hint(f"the {dataset} test split"):
                        splits[dataset] = zoo.split_texts(dataset, "test", FLAGS.data_dir,
                                                          FLAGS.cache_dir)[1:]
                texts, labels = splits[dataset]
                report = zoo.load(name, FLAGS.zoo_dir).classification_report(texts, labels)
                measured = 100 * report["accuracy"]
                change = measured - info["test_accuracy"]
                line = (f"{'ok' if abs(change) <= MAX_REEVALUATION_CHANGE else 'FAILED':<8}{name}"
                        f"  test accuracy {measured:.2f}% (recorded {info['test_accuracy']:.2f}%,"
                        f" {change:+.2f})")
                failures += abs(change) > MAX_REEVALUATION_CHANGE
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
