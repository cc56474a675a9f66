"""The zoo's entries as keras-hub presets of a model family.

keras-hub resolves built-in preset names through Kaggle handles; the zoo's files live elsewhere
(a local zoo directory or the registry's download address) and are verified against the
registry's sha256 digests before anything is deserialised. So `from_preset` on a family's classes
accepts a zoo name of the family's task (`"ag_news/rkm_cifg_1gram"` for the classifier,
`"ptb/rkm_lstm"` for the language model, `"japanese_vowels/rkm_lstm_3gram"` for the time-series
classifier), resolves it with `kasm_keras.zoo.entry_dir` (fetch,
verify) and hands keras-hub the verified directory; any other preset (a directory, a `gs://` or
`hf://` handle) goes to keras-hub unchanged. `presets` lists the published entries of the task.
"""


DESCRIPTIONS = {"classification": "document classifier", "language_model": "language model",
                "time_series": "time-series classifier"}


class classproperty(property):  # noqa: N801 (keras-hub's `presets` is a class property too)
    def __get__(self, _, owner):
        return self.fget(owner)


class ZooPresets:
    """Mixin for a family's keras-hub classes: zoo names of `zoo_task` as presets."""

    zoo_task = None  # "classification" or "language_model"

    @classproperty
    def presets(cls):
        from kasm_keras import zoo

        return {name: zoo.info(name) for name in zoo.names(task=cls.zoo_task)}

    @classmethod
    def from_preset(cls, preset, **kwargs):
        from kasm_keras import zoo

        if isinstance(preset, str):
            entries = zoo.registry()
            task = (zoo.entry_task(entries[preset]) if preset in entries
                    else zoo.name_task(preset))
            if task is not None and task != cls.zoo_task:
                raise zoo.ZooError(f"zoo entry {preset!r} is a {DESCRIPTIONS[task]}, not a "
                                   f"{DESCRIPTIONS[cls.zoo_task]}: load it with "
                                   "kasm_keras.zoo.load or its own family's from_preset")
            if task is not None:
                # A name without an entry raises the zoo's error, which says how to make it.
                preset = zoo.entry_dir(preset)
        return super().from_preset(preset, **kwargs)


class LanguageModelPresets(ZooPresets):
    """The language model family's mixin (`KernelCausalLM`, its backbone, preprocessor and
    tokenizer): Table 3's zoo names."""

    zoo_task = "language_model"
