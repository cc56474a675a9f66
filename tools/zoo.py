"""`python tools/zoo.py`: the program `kasm-zoo` (kasm_keras/cli/zoo.py), from a checkout."""

import launch

if __name__ == "__main__":
    launch.run("kasm_keras.cli.zoo")
