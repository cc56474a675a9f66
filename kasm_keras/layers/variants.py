"""The paper's Table 1 as data.

Every other part of the library (the cell's equations, the weight layout, the parameter
counter, the docs and the zoo) reads this table; nothing else names a variant.
"""

import dataclasses

# How the candidate c~_t enters the cell:
#   "gate":    eta_t * c~_t           (an input gate of its own)
#   "coupled": (1 - f_t) * c~_t       (coupled to the forget gate, CIFG)
#   "sigma":   s_i * c~_t             (a fixed or learned scalar, sigma_i^2)
INPUT_SCALES = ("gate", "coupled", "sigma")
# How c_{t-1} enters the cell: "gate" (f_t * c_{t-1}), "sigma" (s_f * c_{t-1}) or None (no memory).
MEMORIES = ("gate", "sigma", None)
ACTIVATIONS = ("tanh", "linear")

# Weight blocks, in the order they are laid out in the kernels (Keras' LSTM order: i, f, c, o).
BLOCK_ORDER = ("input", "forget", "candidate", "output")


@dataclasses.dataclass(frozen=True)
class Variant:
    """One row of the paper's Table 1: how a variant's cell computes c_t and h'_t.

    Get one with `get_variant`; the seven rows are `kasm_keras.VARIANT_TABLE`.

    Args:
        name: the name layers take, e.g. "rkm_cifg".
        title: the paper's name, e.g. "RKM-CIFG".
        recurrent: whether `z'_t` includes `h'_{t-1}` (a recurrent kernel U).
        input_scale: what multiplies the candidate c~_t: "gate" (an input gate eta_t),
            "coupled" (1 - f_t) or "sigma" (the scalar s_i).
        memory: what multiplies c_{t-1}: "gate" (f_t), "sigma" (s_f) or None (no memory).
        candidate_activation: "tanh" or "linear", applied to c~_t.
        output_gate: whether h'_t is multiplied by an output gate o_t.
        output_activation: "tanh" or "linear", applied to c_t in h'_t.

    Examples:
        >>> import kasm_keras
        >>> v = kasm_keras.get_variant("rkm_cifg")
        >>> v.title, v.blocks, v.sequential
        ('RKM-CIFG', ('forget', 'candidate', 'output'), True)
        >>> v.weight_entries(input_dim=8, units=16)
        1152
    """

    name: str
    title: str
    recurrent: bool  # z'_t includes h'_{t-1}
    input_scale: str
    memory: str | None
    candidate_activation: str
    output_gate: bool
    output_activation: str

    def __post_init__(self):
        if self.input_scale not in INPUT_SCALES:
            raise ValueError(f"{self.name}: input_scale {self.input_scale!r} not in {INPUT_SCALES}")
        if self.memory not in MEMORIES:
            raise ValueError(f"{self.name}: memory {self.memory!r} not in {MEMORIES}")
        for act in (self.candidate_activation, self.output_activation):
            if act not in ACTIVATIONS:
                raise ValueError(f"{self.name}: activation {act!r} not in {ACTIVATIONS}")

    @property
    def gates(self):
        """The sigmoid gates the variant has, in kernel order."""
        return tuple(b for b in self.blocks if b != "candidate")

    @property
    def blocks(self):
        """The d-wide affine blocks of z'_t, in the order they sit in the kernels."""
        present = {
            "input": self.input_scale == "gate",
            "forget": self.memory == "gate" or self.input_scale == "coupled",
            "candidate": True,
            "output": self.output_gate,
        }
        return tuple(b for b in BLOCK_ORDER if present[b])

    @property
    def k(self):
        """Number of weight blocks (the paper's k in (nm + d) k d)."""
        return len(self.blocks)

    @property
    def sequential(self):
        """Whether step t depends on step t-1 (otherwise every step can run at once)."""
        return self.recurrent or self.memory is not None

    @property
    def sigmas(self):
        """Which of sigma_i^2 (input) and sigma_f^2 (forget) the variant uses."""
        return tuple(
            s for s, used in (("input", self.input_scale == "sigma"), ("forget", self.memory == "sigma"))
            if used
        )

    def weight_entries(self, input_dim, units, ngram=1):
        """Weight entries without biases, norms or sigmas: (n m + d) k d, or n m k d.

        Args:
            input_dim: m, the size of x_t.
            units: d, the size of h'_t.
            ngram: n, the width of the input window.

        Returns:
            The number of entries of W and U, an int.
        """
        rows = ngram * input_dim + (units if self.recurrent else 0)
        return rows * self.k * units


_TABLE = (
    Variant("lstm", "LSTM", True, "gate", "gate", "tanh", True, "tanh"),
    Variant("rkm_lstm", "RKM-LSTM", True, "gate", "gate", "linear", True, "linear"),
    Variant("rkm_cifg", "RKM-CIFG", True, "coupled", "gate", "linear", True, "linear"),
    Variant("linear_kernel_ot", "Linear Kernel w/ o_t", True, "sigma", "sigma", "linear", True, "linear"),
    Variant("linear_kernel", "Linear Kernel", True, "sigma", "sigma", "linear", False, "tanh"),
    Variant("gated_cnn", "Gated CNN", False, "sigma", None, "linear", True, "linear"),
    Variant("cnn", "CNN", False, "sigma", None, "linear", False, "tanh"),
)

VARIANT_TABLE = {v.name: v for v in _TABLE}
VARIANTS = tuple(VARIANT_TABLE)


def get_variant(name):
    """The `Variant` (row of Table 1) for a variant's name.

    Args:
        name: one of `kasm_keras.VARIANTS`, or a `Variant` (returned as it is).

    Returns:
        The `Variant`.

    Raises:
        ValueError: `name` is not a variant; the message lists the valid names.

    Examples:
        >>> import kasm_keras
        >>> kasm_keras.get_variant("gated_cnn").recurrent
        False
    """
    if isinstance(name, Variant):
        return name
    try:
        return VARIANT_TABLE[name]
    except (KeyError, TypeError):
        raise ValueError(f"Unknown variant {name!r}; expected one of {VARIANTS}") from None


def equations(variant):
    """Table 1's row for a variant, as text, as the paper writes it.

    Args:
        variant: a name from `kasm_keras.VARIANTS`, or a `Variant`.

    Returns:
        `(z'_t, c_t, h'_t)`: three strings, what z'_t is computed from, c_t and h'_t.

    Raises:
        ValueError: `variant` is not a variant.

    Examples:
        >>> from kasm_keras.layers.variants import equations
        >>> equations("rkm_cifg")
        ("[x_t, h'_{t-1}]", '(1 - f_t) * c~_t + f_t * c_{t-1}', 'o_t * c_t')
    """
    v = get_variant(variant)
    candidate = "tanh(c~_t)" if v.candidate_activation == "tanh" else "c~_t"
    scale = {"gate": "eta_t", "coupled": "(1 - f_t)", "sigma": "s_i"}[v.input_scale]
    cell = f"{scale} * {candidate}"
    if v.memory is not None:
        cell += f" + {'f_t' if v.memory == 'gate' else 's_f'} * c_{{t-1}}"
    output = "tanh(c_t)" if v.output_activation == "tanh" else "c_t"
    if v.output_gate:
        output = f"o_t * {output}"
    return ("[x_t, h'_{t-1}]" if v.recurrent else "x_t"), cell, output
