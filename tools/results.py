"""Prints the measured accuracies beside the paper's Table 2 and the PyTorch reproduction's, and
the paper's claims judged on them, from the zoo's registry (and finished runs); then the language
models' perplexities beside Table 3's, and whether the paper's ordering of the cells holds; then
the time-series classifiers' accuracies beside their goals and Table 4's (another data set).

python tools/results.py [--runs_dir=runs]
python tools/results.py --seed_runs='runs/zoo/*/*_seed*' --update_readme

--seed_runs records finished runs of the zoo's cells with other seeds than the published
entries' in seed_runs.json beside the registry (kasm_keras/zoo/seed_runs.json), which the tables'
seed noise comes from; unfinished runs among them are skipped. The documentation's pages show
these tables, built from the registry and seed_runs.json when the site is built (mkdocs build);
--update_readme replaces the README's "zoo" summary, one line per dataset.
"""

import launch

if __name__ == "__main__":
    launch.run("benchmarks.results")
