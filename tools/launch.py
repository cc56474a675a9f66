"""Runs a program from a checkout: `python tools/NAME.py` is the console script `kasm-NAME`
(`kasm_keras.cli.NAME`), or a program of benchmarks/ beside the package.

The checkout's root goes first on sys.path, so the programs run the checkout's code whether or
not the package is installed. `kasm_keras.cli.startup` (standard library only) runs before the
package is imported, loaded from its file under its own module name (the package's later
imports find it there): the package's import takes TensorFlow's seconds, and a stopping signal
in them must end the program as one later does.
"""

import importlib
import importlib.util
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _start():
    name = "kasm_keras.cli.startup"
    spec = importlib.util.spec_from_file_location(
        name, os.path.join(ROOT, "kasm_keras", "cli", "startup.py"))
    startup = importlib.util.module_from_spec(spec)
    sys.modules[name] = startup
    spec.loader.exec_module(startup)
    startup.start_program()


def run(module_name):
    """Runs the program `module_name` (a module with `define_flags`, `main` and `ERRORS`)."""
    sys.path.insert(0, ROOT)
    _start()
    from kasm_keras.cli import tool_support

    tool_support.run_program(importlib.import_module(module_name))
