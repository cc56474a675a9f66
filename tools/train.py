"""`python tools/train.py`: the program `kasm-train` (kasm_keras/cli/train.py), from a checkout."""

import launch

if __name__ == "__main__":
    launch.run("kasm_keras.cli.train")
