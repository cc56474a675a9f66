"""The zoo's classification entries as this family's presets (see `kasm_keras.zoo.presets`):
`KernelTextClassifier.from_preset("ag_news/rkm_cifg_1gram")` fetches and verifies the entry and
hands keras-hub its directory; `presets` lists the published classifiers. keras-hub's own base
classes load the same entries from their directory:
`keras_hub.models.TextClassifier.from_preset(kasm_keras.zoo.entry_dir(name))`.
"""

from kasm_keras.zoo.presets import ZooPresets as _ZooPresets


class ZooPresets(_ZooPresets):
    """Mixin for the family's keras-hub classes: Table 2's zoo names as presets (accuracies in
    percent, as `kasm_keras.zoo.info` gives them)."""

    zoo_task = "classification"
