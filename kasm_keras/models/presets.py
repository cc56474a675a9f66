"""The zoo's entries as keras-hub presets of a model family.

keras-hub resolves built-in preset names through Kaggle handles; the zoo's files live elsewhere
(a local zoo directory or the registry's download address) and are verified against the
registry's sha256 digests before anything is deserialised. So `from_preset` on a family's
classes accepts a zoo name of the family's task (`"ag_news/rkm_cifg_1gram"` for the classifier,
`"ptb/rkm_lstm"` for the language model, `"japanese_vowels/rkm_lstm_3gram"` for the time-series
classifier), has the zoo fetch and verify it, and hands keras-hub the verified directory; any
other preset (a directory, a `hf://` or `kaggle://` handle) goes to keras-hub unchanged.
`presets` lists the published entries of the task.

The families do not import the zoo: the zoo registers its `Resolver` here when it is imported
(`kasm_keras` imports it), and the mixin asks for it.
"""

from keras_hub.src.utils.python_utils import classproperty


class Resolver:
    """What the zoo gives the families' presets."""

    def presets(self, task):
        """{name: info} of the published entries of `task` (a family's name)."""
        return {}

    def resolve(self, preset, task):
        """The verified directory of `preset` when it is a zoo name of `task` (a ZooError when
        it is another task's, or has no entry), else `preset` unchanged."""
        return preset


_resolver = Resolver()


def register_resolver(resolver):
    """Makes `resolver` (a Resolver) the one the families' presets ask."""
    global _resolver
    _resolver = resolver


class ZooPresets:
    """Mixin for a family's keras-hub classes: zoo names of `zoo_task` (the family's name) as
    presets."""

    zoo_task = None

    @classproperty
    def presets(cls):
        """{name: info} of the zoo's published entries of this family."""
        return _resolver.presets(cls.zoo_task)

    @classmethod
    def from_preset(cls, preset, **kwargs):
        """Loads a zoo entry of the family, or any other keras-hub preset.

        Args:
            preset: a zoo name of the family's task, a preset directory, or a `hf://` or
                `kaggle://` handle.
            **kwargs: keras-hub's `from_preset` arguments (e.g. `load_weights`).

        Returns:
            An instance of this class.

        Examples:
            >>> import kasm_keras
            >>> lm = kasm_keras.KernelCausalLM.from_preset("ptb/rkm_lstm")
        """
        if isinstance(preset, str):
            preset = _resolver.resolve(preset, cls.zoo_task)
        return super().from_preset(preset, **kwargs)
