"""A measurement in a fresh Python process, so that the peak memory it reports is its own."""

import json
import os
import subprocess
import sys

# The checkout's root, which holds benchmarks/: the child imports the measuring module from it.
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MARK = "ROWS"  # the child's line holding the result


def in_child(module, call, what):
    """The JSON value of `call`, an expression over `module` (imported as `m`, e.g.
    "m.measure_one(...)"), evaluated in a fresh Python process. A child that fails raises a
    RuntimeError naming `what`, with the end of its stderr."""
    code = (f"import json, sys; sys.path.insert(0, {ROOT!r}); import {module} as m; "
            f"print({MARK!r} + json.dumps({call}))")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    lines = [line for line in result.stdout.splitlines() if line.startswith(MARK)]
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"benchmark of {what} failed:\n{result.stderr[-3000:]}")
    return json.loads(lines[-1][len(MARK):])
