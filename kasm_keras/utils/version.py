"""The package's version, in a module of its own so that code inside the package can name it
without importing the package's face (`kasm_keras/__init__.py`, which imports every family)."""

__version__ = "0.2.0"
