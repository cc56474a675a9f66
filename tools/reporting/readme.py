"""Generated blocks of the README, between `<!-- name:begin -->` and `<!-- name:end -->` lines."""

import os

from kasm_keras.utils.atomic_files import atomic_write_text

README = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "README.md")


def _markers(name):
    return f"<!-- {name}:begin -->\n", f"\n<!-- {name}:end -->"


def read_block(name, path=README):
    begin, end = _markers(name)
    with open(path) as f:
        text = f.read()
    if begin not in text or end not in text:
        raise ValueError(f"{path} has no {begin.strip()} ... {end.strip()} block")
    return text.split(begin, 1)[1].split(end, 1)[0]


def replace_block(name, content, path=README):
    read_block(name, path)  # checks the markers
    begin, end = _markers(name)
    with open(path) as f:
        text = f.read()
    head, rest = text.split(begin, 1)
    atomic_write_text(path, head + begin + content + end + rest.split(end, 1)[1])
