"""The variant table (README and the cells page): the paper's Table 1 as `kasm_keras.layers.variants` holds it."""

from kasm_keras.layers.variants import VARIANT_TABLE, equations


def markdown_table(input_dim=300, units=300, ngrams=(1, 3)):
    """Table 1 with each variant's weight entries for the given sizes, as Markdown.

    Args:
        input_dim: m, the size of each input vector.
        units: d, the hidden size.
        ngrams: the window widths n to count weights for, one column part each.

    Returns:
        The table's text, one row per variant, e.g. `markdown_table(20, 10, [2])` counts
        (2 * 20 + 10) * 3 * 10 = 1,500 weights for `rkm_cifg`.
    """
    counts = " / ".join(f"{n}-gram" for n in ngrams)
    lines = [
        f"| variant | paper's name | input z'_t | cell c_t | output h'_t | k | weights "
        f"(m={input_dim}, d={units}) {counts} |",
        "|---|---|---|---|---|---|---|",
    ]
    for v in VARIANT_TABLE.values():
        z, cell, output = equations(v)
        entries = " / ".join(f"{v.weight_entries(input_dim, units, n):,}" for n in ngrams)
        lines.append(f"| `{v.name}` | {v.title} | `{z}` | `{cell}` | `{output}` | {v.k} | "
                     f"{entries} |")
    return "\n".join(lines)
