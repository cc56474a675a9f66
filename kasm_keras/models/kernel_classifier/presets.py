"""The zoo's entries as this family's presets.

keras-hub resolves built-in preset names through Kaggle handles; the zoo's files live elsewhere
(a local zoo directory or the registry's download address) and are verified against the
registry's sha256 digests before anything is deserialised. So `from_preset` on this family's
classes accepts a zoo name (`"ag_news/rkm_cifg_1gram"`), resolves it with
`kasm_keras.zoo.entry_dir` (fetch, verify) and hands keras-hub the verified directory; any other
preset (a directory, a `gs://` or `hf://` handle) goes to keras-hub unchanged. keras-hub's own
base classes load the same entries from their directory:
`keras_hub.models.TextClassifier.from_preset(kasm_keras.zoo.entry_dir(name))`.
"""

class classproperty(property):  # noqa: N801 (keras-hub's `presets` is a class property too)
    def __get__(self, _, owner):
        return self.fget(owner)


class ZooPresets:
    """Mixin for the family's keras-hub classes: zoo names as presets."""

    @classproperty
    def presets(cls):
        from kasm_keras import zoo

        return {name: zoo.info(name) for name in zoo.names()}  # accuracies in percent

    @classmethod
    def from_preset(cls, preset, **kwargs):
        from kasm_keras import zoo

        # A name of Table 2 without an entry raises the zoo's error, which says how to make it.
        if isinstance(preset, str) and (preset in zoo.registry() or zoo.parse_name(preset)):
            preset = zoo.entry_dir(preset)
        return super().from_preset(preset, **kwargs)
