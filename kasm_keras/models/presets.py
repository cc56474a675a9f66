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
    """What the zoo gives the families' presets: the base the zoo's resolver extends.

    The families do not import the zoo; this default knows no zoo names, so without the zoo a
    family's `from_preset` is keras-hub's own.

    Examples:
        >>> from kasm_keras.models import presets
        >>> class NoZoo(presets.Resolver):
        ...     pass
        >>> NoZoo().resolve("ptb/rkm_lstm", "language_model")
        'ptb/rkm_lstm'
    """

    def presets(self, task):
        """The published entries of one family, as its keras-hub `presets`.

        Args:
            task: a family's name ("classification", "language_model", "time_series").

        Returns:
            {name: metadata (`kasm_keras.zoo.info`)}; empty here.
        """
        return {}

    def resolve(self, preset, task):
        """What keras-hub should load for a preset asked of a family.

        Args:
            preset: the preset asked for: a zoo name, a directory or a handle.
            task: the asking family's name.

        Returns:
            The verified entry directory when `preset` is a zoo name of `task`, else `preset`
                unchanged (here, always).

        Raises:
            ZooError: (the zoo's resolver) `preset` is a zoo name of another task, or one
                without an entry.
        """
        return preset


_resolver = Resolver()


def register_resolver(resolver):
    """Makes `resolver` the one the families' presets ask.

    The zoo calls this when it is imported, so the families need not import the zoo.

    Args:
        resolver: a `Resolver`.

    Examples:
        >>> from kasm_keras.models import presets
        >>> class Mirror(presets.Resolver):
        ...     def resolve(self, preset, task):
        ...         return preset.replace("mirror:", "/srv/presets/")
        >>> presets.register_resolver(Mirror())  # from now on, instead of the zoo's
    """
    global _resolver
    _resolver = resolver


class ZooPresets:
    """Mixin for a family's keras-hub classes: zoo names of `zoo_task` (the family's name) as
    presets.

    It comes before the keras-hub base among the class's bases.

    Examples:
        >>> import kasm_keras
        >>> sorted(kasm_keras.KernelCausalLM.presets)[:2]
        ['ptb/linear_kernel_ot', 'ptb/lstm']
    """

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
