"""The variant table against the paper's Table 1, and the docs against the table."""

import pathlib
import subprocess
import sys

import pytest

import kasm_keras
from benchmarks.reporting import readme
from benchmarks.reporting.variants import markdown_table
from kasm_keras.layers.variants import equations

ROOT = pathlib.Path(__file__).resolve().parents[1]

# Table 1 of the paper as printed in ../shared/paper/README.md: z'_t, c_t, h'_t.
PAPER_TABLE_1 = {
    "lstm": ("[x_t, h'_{t-1}]", "eta_t * tanh(c~_t) + f_t * c_{t-1}", "o_t * tanh(c_t)"),
    "rkm_lstm": ("[x_t, h'_{t-1}]", "eta_t * c~_t + f_t * c_{t-1}", "o_t * c_t"),
    "rkm_cifg": ("[x_t, h'_{t-1}]", "(1 - f_t) * c~_t + f_t * c_{t-1}", "o_t * c_t"),
    "linear_kernel_ot": ("[x_t, h'_{t-1}]", "s_i * c~_t + s_f * c_{t-1}", "o_t * c_t"),
    "linear_kernel": ("[x_t, h'_{t-1}]", "s_i * c~_t + s_f * c_{t-1}", "tanh(c_t)"),
    "gated_cnn": ("x_t", "s_i * c~_t", "o_t * c_t"),
    "cnn": ("x_t", "s_i * c~_t", "tanh(c_t)"),
}


def test_variant_names():
    assert kasm_keras.VARIANTS == (
        "lstm", "rkm_lstm", "rkm_cifg", "linear_kernel_ot", "linear_kernel", "gated_cnn", "cnn")


@pytest.mark.parametrize("variant", kasm_keras.VARIANTS)
def test_table_reads_as_the_papers_equations(variant):
    assert equations(variant) == PAPER_TABLE_1[variant]


def test_only_feedback_free_variants_skip_the_loop():
    parallel = [v.name for v in kasm_keras.VARIANT_TABLE.values() if not v.sequential]
    assert parallel == ["gated_cnn", "cnn"]


def test_readme_shows_the_current_table():
    assert readme.read_block("variants") == markdown_table()


def test_variants_tool_prints_the_table():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "variants.py"), "--units=10",
                             "--input_dim=20", "--ngrams=2"],
                            capture_output=True, text=True, check=True)
    assert "| `rkm_cifg` | RKM-CIFG |" in result.stdout
    assert "| 3 | 1,500 |" in result.stdout  # (2*20 + 10) * 3 * 10
