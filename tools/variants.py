"""Prints the paper's Table 1 as the library holds it, with weight counts for given sizes."""

import launch

if __name__ == "__main__":
    launch.run("benchmarks.variants")
