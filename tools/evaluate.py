"""`python tools/evaluate.py`: the program `kasm-evaluate` (kasm_keras/cli/evaluate.py), from a checkout."""

import launch

if __name__ == "__main__":
    launch.run("kasm_keras.cli.evaluate")
