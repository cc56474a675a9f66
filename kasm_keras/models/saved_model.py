"""Writing a SavedModel for TensorFlow Serving, the same way for every model family."""

import os

import keras

from kasm_keras.utils.files import atomic_directory


def write_saved_model(model, module, input_signature, export_dir, endpoints=None):
    """Writes a SavedModel for TensorFlow Serving, the same way for every model family.

    The SavedModel is built beside `export_dir` and renamed into place; an existing folder
    that is not a SavedModel is never replaced. It is written with Keras' ExportArchive, not
    `tf.saved_model.save`: only its variable tracking gives a SavedModel that the TF1 loader
    of saved_model_cli (and TF Serving) can restore.

    Args:
        model: the Keras model served.
        module: a `tf.Module` holding `model`, whose `serve` becomes `serving_default`.
        input_signature: the `tf.TensorSpec`s of `module.serve`'s inputs.
        export_dir: the SavedModel's folder.
        endpoints: more signatures, {name: (function, input signature)}, or None.

    Returns:
        `export_dir`, absolute.

    Raises:
        FileExistsError: `export_dir` holds files and no SavedModel.

    Examples:
        >>> import keras, os, tensorflow as tf
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
        >>> module = tf.Module()
        >>> module.model = model
        >>> module.serve = tf.function(lambda x: {"outputs": model(x)})
        >>> signature = [tf.TensorSpec([None, 4], tf.float32)]
        >>> path = write_saved_model(model, module, signature, "exported")
        >>> os.path.exists(os.path.join(path, "saved_model.pb"))
        True
    """
    export_dir = os.path.abspath(export_dir)
    if os.path.isdir(export_dir) and os.listdir(export_dir) and \
            not os.path.exists(os.path.join(export_dir, "saved_model.pb")):
        raise FileExistsError(f"{export_dir} exists and is not a SavedModel; not replacing it")
    with atomic_directory(export_dir) as tmp:
        archive = keras.export.ExportArchive()
        archive.track(model)
        archive.track(module)
        archive.add_endpoint("serving_default", module.serve, input_signature=input_signature)
        for name, (function, signature) in (endpoints or {}).items():
            archive.add_endpoint(name, function, input_signature=signature)
        archive.write_out(tmp, verbose=False)
    return export_dir
