"""`python tools/explain.py`: the program `kasm-explain` (kasm_keras/cli/explain.py), from a checkout."""

import launch

if __name__ == "__main__":
    launch.run("kasm_keras.cli.explain")
