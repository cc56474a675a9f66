"""`python tools/generate.py`: the program `kasm-generate` (kasm_keras/cli/generate.py), from a checkout."""

import launch

if __name__ == "__main__":
    launch.run("kasm_keras.cli.generate")
