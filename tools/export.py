"""`python tools/export.py`: the program `kasm-export` (kasm_keras/cli/export.py), from a checkout."""

import launch

if __name__ == "__main__":
    launch.run("kasm_keras.cli.export")
