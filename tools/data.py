"""`python tools/data.py`: the program `kasm-data` (kasm_keras/cli/data.py), from a checkout."""

import launch

if __name__ == "__main__":
    launch.run("kasm_keras.cli.data")
