"""The zoo's names as the families' keras-hub presets: the `Resolver` that
`kasm_keras.models.presets` asks (the families do not import the zoo), registered when the zoo
is imported."""

from kasm_keras.models import presets, task_family
from kasm_keras.models.task_family import ZooError
from kasm_keras.zoo.records import names, registry
from kasm_keras.zoo.store import entry_dir, info


class ZooPresets(presets.Resolver):
    """The zoo's entries as keras-hub presets of their families (`from_preset("ptb/rkm_lstm")`).

    Examples:
        >>> from kasm_keras.zoo.presets import ZooPresets
        >>> "ag_news/rkm_cifg_1gram" in ZooPresets().presets("classification")
        True
    """

    def presets(self, task):
        """The published entries of a family, as keras-hub lists presets.

        Args:
            task: The family's name, e.g. "classification".

        Returns:
            {name: info} of the family's published entries.
        """
        return {name: info(name) for name in names(task=task)}

    def resolve(self, preset, task):
        """The folder of a zoo entry given as a preset, or the preset itself when it is no
        zoo name.

        Args:
            preset: A zoo name or a keras-hub preset handle.
            task: The family asked, e.g. "language_model".

        Returns:
            The entry's folder (str), or `preset` unchanged.

        Raises:
            ZooError: The entry is another family's, or a name without an entry (the message
                says how to make it).
        """
        entries = registry()
        family = (task_family.of_entry(entries[preset]) if preset in entries
                  else task_family.of_name(preset))
        if family is None:
            return preset
        if family.name != task:
            raise ZooError(f"zoo entry {preset!r} is a {family.description}, not a "
                           f"{task_family.get(task).description}: load it with "
                           "kasm_keras.zoo.load or its own family's from_preset")
        # A name without an entry raises the zoo's error, which says how to make it.
        return entry_dir(preset)


presets.register_resolver(ZooPresets())
