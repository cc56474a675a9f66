"""Exports a trained model as a SavedModel for TensorFlow Serving (raw text in).

python tools/export.py --model_dir=DIR|--zoo=NAME --export_dir=BASE [--version=N] [--tflite]
    [--jit_compile] [--explain]

--export_dir is the model base path that TensorFlow Serving watches (--model_base_path): the
SavedModel goes to BASE/<version>/, version --version or else one more than the highest numbered
folder in BASE (1 in a new one); an existing version is never replaced, and a BASE that is a
SavedModel or lies inside one (BASE/1, BASE/1/variables) is refused. BASE may be local or any
tf.io.gfile path (gs://bucket/models/ag_news). The SavedModel is built in a staging folder beside
the versions, named after its writer, which the next export removes if its writer was killed.

serving_default takes `text` (1-D tf.string) and returns `probabilities` (float32 [batch,
classes]), `class_id` (int64) and `class_name` (string). Tokenisation is inside the graph, in
core TensorFlow ops, so the SavedModel loads without kasm_keras or tensorflow-text. With
--explain, the `explain` signature takes the same `text` and returns `tokens` (string [batch,
time], empty past each document's `length`), `contributions` (float32 [batch, time, classes]:
each token's exact share of each class's logit), `constant` and `logits` (float32 [batch,
classes]); contributions summed over the tokens plus the constant are the logits.

A language model (a ptb/... entry, or a language model's run): serving_default takes `text`
(1-D tf.string, one sentence each) and returns per sentence `log_likelihood` (float32, natural
log of its words and closing <eos>), `tokens` (int32) and `perplexity` (float32), as
`KernelCausalLM.score` computes them (kasm_keras/models/kernel_lm/serving.py).

A time-series classifier (a japanese_vowels/... entry, or a time-series run): serving_default
takes `series` (float32 [batch, time, channels] of raw values, every step real: the per-channel
standardisation fitted on the training split is inside) and returns `probabilities` (float32
[batch, classes]), `class_id` (int64) and `class_name` (string); the `with_lengths` signature
takes series of different lengths padded at the end with any value, and `lengths` (int32 [batch],
each series' real steps; clipped to [0, time]) (kasm_keras/models/time_series_classifier/serving.py). --tflite, --jit_compile and --explain
are the document classifier's only.
"""

import contextlib
import os
import re
import sys
import tempfile

from absl import app, flags

from kasm_keras.cli import tool_support
from kasm_keras import zoo
from kasm_keras.models import task_family
from kasm_keras.training.checkpoints import CheckpointError
from kasm_keras.utils import files

FLAGS = flags.FLAGS
SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")
# The staging folder's name in older versions (tempfile's, with no writer in it).
LEGACY_STAGING = re.compile(r"\.export-[a-z0-9_]{8}")


class ExportError(ValueError):
    """--export_dir cannot take a new version (it lies inside a SavedModel)."""


ERRORS = (zoo.ZooError, CheckpointError, ExportError)


def define_flags(flag_values=FLAGS):
    kw = {"flag_values": flag_values}
    flags.DEFINE_string("model_dir", None, "A finished tools/train.py run.", **kw)
    flags.DEFINE_string("zoo", None, "A zoo entry name, e.g. ag_news/rkm_cifg_1gram.", **kw)
    tool_support.define_zoo_dir(flag_values)
    flags.DEFINE_string("export_dir", None, "The model base path (local or gs://...): the "
                        "SavedModel goes to <export_dir>/<version>/, as TensorFlow Serving "
                        "expects.", **kw)
    flags.DEFINE_integer("version", None, "Version folder to write (default: one more than the "
                         "highest in --export_dir, 1 in a new one); an existing one is refused.",
                         lower_bound=0, **kw)
    for name, help_text in export_options().items():  # each a family's option of export
        flags.DEFINE_bool(name, False, help_text, **kw)
    flags.mark_flag_as_required("export_dir", **kw)
    tool_support.existing_folder(flag_values, "model_dir", "training run folder")
    tool_support.not_a_file(flag_values, "export_dir")
    tool_support.one_model(flag_values)


def export_options():
    """{option: help text} of every family's `export_options`, each once."""
    options = {}
    for family in task_family.all_families():
        options.update({k: v for k, v in family.export_options.items() if k not in options})
    return options


def _join(base, name):
    if files.is_local(base):
        return os.path.join(base, name)
    return base.rstrip("/") + "/" + name


def versions(base):
    """The numbered entries of `base` (TensorFlow Serving's versions), as ints."""
    import tensorflow as tf

    if not tf.io.gfile.isdir(base):
        return []
    names = (name.rstrip("/") for name in tf.io.gfile.listdir(base))
    return sorted(int(name) for name in names if name.isascii() and name.isdigit())


def _folders_up(path):
    """`path` and every folder above it (for a local path, its real path and the folders above
    that first, then those of the path as given)."""
    if not files.is_local(path):
        scheme, rest = path.split("://", 1)
        parts = rest.rstrip("/").split("/")
        return [f"{scheme}://{'/'.join(parts[:n])}" for n in range(len(parts), 0, -1)]
    found = []
    for start in dict.fromkeys([os.path.realpath(path), os.path.abspath(path)]):
        folder = start
        while True:
            found.append(folder)
            if os.path.dirname(folder) == folder:
                break
            folder = os.path.dirname(folder)
    return list(dict.fromkeys(found))


def saved_model_around(path):
    """The SavedModel folder that `path` is, or lies inside (None when there is none)."""
    import tensorflow as tf

    for folder in _folders_up(path):
        if any(tf.io.gfile.exists(_join(folder, name)) for name in SAVED_MODEL_FILES):
            return folder
    return None


def version_dir(base, version=None):
    """<base>/<version> for a version not written yet: `version`, or one more than the highest
    in `base` (1 when it has none). FileExistsError if that version exists; ExportError if
    `base` is a SavedModel or lies inside one (a version, not the base path)."""
    import tensorflow as tf

    base = os.fspath(base)
    if files.is_local(base):
        base = os.path.abspath(base)
    if tf.io.gfile.exists(base) and not tf.io.gfile.isdir(base):
        raise NotADirectoryError(f"--export_dir={base} is a file; it must be a folder (the model "
                                 "base path, holding one numbered folder per version)")
    inside = saved_model_around(base)
    if inside is not None:
        parent = os.path.dirname(inside) if files.is_local(inside) else inside.rsplit("/", 1)[0]
        raise ExportError(f"--export_dir={base} lies inside the SavedModel {inside}: it must be "
                          "the model base path, which holds one numbered folder per version "
                          f"(such as --export_dir={parent})")
    existing = versions(base)
    if version is None:
        version = max(existing, default=0) + 1
    target = _join(base, str(version))
    if tf.io.gfile.exists(target):
        raise FileExistsError(f"{target} exists; a version is never replaced: pass another "
                              f"--version, or none for {max(existing, default=0) + 1}")
    return target


def _copy_tree(source, target):
    """Copies the local folder `source` to the tf.io.gfile path `target`, saved_model.pb last, so
    that a server watching the base path never finds a SavedModel whose variables are missing."""
    import tensorflow as tf

    last = []
    for folder, _, names in os.walk(source):
        relative = os.path.relpath(folder, source)
        destination = target if relative == "." else _join(target, relative.replace(os.sep, "/"))
        tf.io.gfile.makedirs(destination)
        for name in names:
            pair = (os.path.join(folder, name), _join(destination, name))
            if relative == "." and name == "saved_model.pb":
                last.append(pair)
            else:
                tf.io.gfile.copy(*pair, overwrite=False)
    for pair in last:
        tf.io.gfile.copy(*pair, overwrite=False)


def write_version(target, write):
    """Has `write(folder)` write a SavedModel into `folder`, a new local folder, and puts it at
    `target`, a version folder that must not exist; returns `target`. The SavedModel is built
    beside the versions (on a local disk) or in a local temporary folder (elsewhere) and then
    renamed or copied into place, so a failed export leaves no version behind (a full disk: a
    DiskFullError naming `target`, or the local folder that stages a remote `target`), and a
    killed one a staging folder that the next removes."""
    import tensorflow as tf

    local = files.is_local(target)
    base = os.path.dirname(target) if local else target.rstrip("/").rsplit("/", 1)[0]
    made = []  # the folders of `base` that makedirs creates, innermost first
    folder = base
    while local and folder and not os.path.exists(folder) and folder != os.path.dirname(folder):
        made.append(folder)
        folder = os.path.dirname(folder)
    try:
        tf.io.gfile.makedirs(base)
    except tf.errors.OpError as error:
        raise OSError(f"--export_dir={base}: cannot create it ({error.message})") from None
    # Named as a temporary (a name TensorFlow Serving ignores: not a number) of its writer, so
    # that the next export removes one a killed export left; older versions named it
    # .export-XXXXXXXX, with no writer, removed once it is old.
    staging_parent = base if local else tempfile.gettempdir()
    files.remove_stale_legacy(staging_parent, LEGACY_STAGING)
    done = False
    try:
        with contextlib.ExitStack() as stack:
            # A full disk while it is staged names `target`, or the local folder staging it.
            with files.writing(target) if local else files.staging_for(target, staging_parent):
                staging = stack.enter_context(
                    files.temporary_folder(os.path.join(staging_parent, "export")))
                path = os.path.join(staging, "model")
                write(path)
            if local:
                try:
                    tf.io.gfile.rename(path, target, overwrite=False)
                except tf.errors.AlreadyExistsError:
                    raise FileExistsError(f"{target} appeared during the export; not replacing "
                                          "it") from None
                done = True
                return target
            if tf.io.gfile.exists(target):
                raise FileExistsError(f"{target} appeared during the export; not replacing it")
            try:
                with files.writing(target):
                    _copy_tree(path, target)
            except BaseException:
                if tf.io.gfile.exists(target):
                    tf.io.gfile.rmtree(target)
                raise
            done = True
            return target
    finally:
        if not done:  # a failed export into a new base path leaves no folder behind
            with contextlib.suppress(OSError):
                for folder in made:
                    os.rmdir(folder)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    target = version_dir(FLAGS.export_dir, FLAGS.version)  # refused before the model is loaded
    model = tool_support.load_model(FLAGS.model_dir, FLAGS.zoo, FLAGS.zoo_dir)
    family = task_family.of_model(model)
    for name in export_options():  # the options the families' exports take
        if FLAGS[name].value and name not in family.export_options:
            takers = " or ".join(f"a {f.description}" for f in task_family.all_families()
                                 if name in f.export_options)
            raise app.UsageError(f"--{name} applies to {takers}; "
                                 f"{tool_support.model_source(FLAGS.model_dir, FLAGS.zoo)} is a "
                                 f"{family.description}")
    options = {name: FLAGS[name].value for name in family.export_options}
    path = write_version(target, lambda folder: family.export_saved_model(model, folder,
                                                                          **options))
    print(f"SavedModel written to {path}")
    if options.get("tflite"):
        print(f"LiteRT model written to {_join(path, 'model.tflite')}")


def run():
    """`kasm-export`: this program on the command line (`python tools/export.py` runs it too)."""
    tool_support.run_program(sys.modules[__name__])


if __name__ == "__main__":
    run()
