"""Measurement and README generation for kasm-keras, outside the library.

Nothing here is installed with the package (setup.py packages `kasm_keras` alone): these modules
measure the library and write the README's generated tables from the zoo's registry and
`benchmarks/latest.json`. They run from a checkout, through the programs in tools/:

- `python tools/benchmark.py ...` runs `benchmarks.benchmark` (speed, memory, serving, goals);
- `python tools/results.py ...` runs `benchmarks.results` (the results, claims, language-model
  and time-series tables);
- `python tools/variants.py ...` runs `benchmarks.variants` (the paper's Table 1).

`benchmarks.reporting` holds what they share: the measurements, the tables and the README's
generated blocks.
"""
