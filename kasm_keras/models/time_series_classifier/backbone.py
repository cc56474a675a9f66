"""The time-series encoder: per-channel standardisation -> KernelRNN -> mean over the unmasked
steps. The same cells as the document classifier's, on real-valued channels instead of word
vectors (the paper's Table 4 task)."""

import keras
import keras_hub
from keras import ops

from kasm_keras.layers import KernelRNN, MaskedMean
from kasm_keras.models.presets import ZooPresets


@keras.saving.register_keras_serializable(package="kasm_keras")
class ChannelStandardization(keras.layers.Layer):
    """(x - mean) / std per channel, with `mean` and `std` fitted on the training split and
    kept as non-trainable weights, so a saved or exported model standardises raw input itself
    and fine-tuning never moves them. Padded steps (mask False) come out as zeros, so the
    values a caller pads with never matter. Always computed in float32: a real-valued input
    rounded to bfloat16 before centring would lose its small differences.

    Args:
        channels: the input's last dimension.
        **kwargs: `keras.layers.Layer` arguments (`name`); the dtype is always float32.

    Call arguments:
        - `inputs`: `(batch, time, channels)` raw values.
        - `mask`: a boolean `(batch, time)` tensor, True at real steps, or None.

    Returns:
        The standardised values, float32 `(batch, time, channels)`, zeros at masked steps.

    Examples:
        >>> import numpy as np, kasm_keras
        >>> standardization = kasm_keras.ChannelStandardization(3)
        >>> standardization.set_statistics(mean=[1.0, 2.0, 3.0], std=[2.0, 2.0, 2.0])
        >>> standardization(np.array([[[3.0, 2.0, 1.0]]])).numpy()
        array([[[ 1.,  0., -1.]]], dtype=float32)
    """

    def __init__(self, channels, **kwargs):
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        self.channels = channels
        self.mean = self.add_weight(shape=(channels,), initializer="zeros", trainable=False,
                                    name="mean")
        self.std = self.add_weight(shape=(channels,), initializer="ones", trainable=False,
                                   name="std")
        self.supports_masking = True

    def set_statistics(self, mean, std):
        """Assigns the statistics fitted on the training data (`channel_statistics`).

        Args:
            mean: `(channels,)`, each channel's mean.
            std: `(channels,)`, each channel's standard deviation (positive).
        """
        self.mean.assign(ops.convert_to_tensor(mean, "float32"))
        self.std.assign(ops.convert_to_tensor(std, "float32"))

    def call(self, inputs, mask=None):
        outputs = (ops.cast(inputs, "float32") - self.mean) / self.std
        if mask is not None:
            outputs = ops.where(ops.cast(mask, "bool")[:, :, None], outputs,
                                ops.zeros_like(outputs))
        return outputs

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        config = super().get_config()
        config.pop("dtype", None)  # always float32
        return {**config, "channels": self.channels}


@keras.saving.register_keras_serializable(package="kasm_keras")
class TimeSeriesBackbone(ZooPresets, keras_hub.models.Backbone):
    """Multichannel series -> one vector per series.

    Args:
        channels: channels per step (12 for JapaneseVowels).
        variant: one of `kasm_keras.VARIANTS`.
        units: the cell's hidden size d.
        ngram: input window width n: x_t becomes [x_t, ..., x_{t-n+1}] of the standardised
            steps.
        ngram_padding: as for `kasm_keras.KernelRNN`, as are `layer_norm`, `learn_sigmas`,
            `sigma_i`, `sigma_f`, `dropout`, `recurrent_dropout` and `implementation`.
        seed: seed of the RNN's dropout.
        dtype: the dtype policy of the recurrent layer (the standardisation is float32).
        **kwargs: `keras_hub.models.Backbone` arguments (`name`, `trainable`).

    Call arguments:
        - `inputs`: a dict: "series", float `[batch, time, channels]`, raw values (standardised
            inside); "padding_mask", bool `[batch, time]`, True at real steps. Series of
            different lengths are padded at the end (with anything: padded steps are zeroed
            and masked).

    Returns:
        The series' vectors, `(batch, units)`.

    Examples:
        >>> import numpy as np, kasm_keras
        >>> backbone = kasm_keras.TimeSeriesBackbone(channels=12, variant="rkm_lstm",
        ...                                          units=16, ngram=3)
        >>> backbone.standardization.set_statistics(np.zeros(12), np.ones(12))
        >>> backbone({"series": np.zeros((2, 20, 12), "float32"),
        ...           "padding_mask": np.ones((2, 20), bool)}).shape
        TensorShape([2, 16])
    """

    zoo_task = "time_series"  # its zoo names are presets (kasm_keras.models.presets)

    def __init__(self, channels, variant, units=64, ngram=1, ngram_padding="causal",
                 layer_norm=True, learn_sigmas=False, sigma_i=0.5, sigma_f=0.5, dropout=0.0,
                 recurrent_dropout=0.0, implementation="auto", seed=None, dtype=None, **kwargs):
        # The recurrent layer's settings, which are this backbone's config too.
        cell = dict(units=units, variant=variant, ngram=ngram, ngram_padding=ngram_padding,
                    layer_norm=layer_norm, learn_sigmas=learn_sigmas, sigma_i=sigma_i,
                    sigma_f=sigma_f, dropout=dropout, recurrent_dropout=recurrent_dropout,
                    implementation=implementation, seed=seed)
        # === Layers ===
        self.standardization = ChannelStandardization(channels, name="standardization")
        self.kernel_rnn = KernelRNN(return_sequences=True, dtype=dtype, name="kernel_rnn", **cell)
        self.pooling = MaskedMean(dtype=dtype, name="pooling")

        # === Functional model ===
        series = keras.Input(shape=(None, channels), dtype="float32", name="series")
        padding_mask = keras.Input(shape=(None,), dtype="bool", name="padding_mask")
        standardized = self.standardization(series, mask=padding_mask)
        pooled = self.pooling(self.kernel_rnn(standardized, mask=padding_mask),
                              mask=padding_mask)
        super().__init__(inputs={"series": series, "padding_mask": padding_mask},
                         outputs=pooled, dtype=dtype, **kwargs)

        # === Config ===
        self.channels = channels
        self.cell_config = cell
        for name, value in cell.items():
            setattr(self, name, value)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, **self.cell_config}
