"""The programs: `kasm_keras.cli.NAME` is the console script `kasm-NAME` (setup.py), and
`python tools/NAME.py` runs it from a checkout. Importing them changes nothing in the process
(no signal handler, no environment variable): their `run()` does, when a program starts.
"""
