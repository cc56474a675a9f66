"""The zoo's time-series entries as this family's presets (see `kasm_keras.zoo.presets`):
`TimeSeriesClassifier.from_preset("japanese_vowels/rkm_lstm_3gram")` fetches and verifies the
entry and hands keras-hub its directory; `presets` lists the published ones. keras-hub's
preset loader reads an entry's directory itself too:
`TimeSeriesClassifier.from_preset(kasm_keras.zoo.entry_dir(name))` (keras-hub has no base class
for time-series tasks, and refuses `keras_hub.models.Task.from_preset`).
"""

from kasm_keras.zoo.presets import ZooPresets


class TimeSeriesPresets(ZooPresets):
    """Mixin for the family's keras-hub classes: the zoo's time-series names as presets."""

    zoo_task = "time_series"
