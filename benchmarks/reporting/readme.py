"""Generated blocks of the README, between `<!-- name:begin -->` and `<!-- name:end -->` lines
(each on a line of its own, with the block's content, never empty, between them)."""

import os

from kasm_keras.utils.files import write_text

README = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "README.md")


def _markers(name):
    return f"<!-- {name}:begin -->\n", f"\n<!-- {name}:end -->"


def _split(text, name, path):
    """(before the block's content, its content, after it)."""
    begin, end = _markers(name)
    if begin not in text or end not in text.split(begin, 1)[1]:
        raise ValueError(f"{path} has no {begin.strip()} ... {end.strip()} block")
    head, rest = text.split(begin, 1)
    content, tail = rest.split(end, 1)
    return head + begin, content, end + tail


def read_block(name, path=README):
    with open(path) as f:
        return _split(f.read(), name, path)[1]


def replace_blocks(contents, path=README):
    """Replaces each block `name` of `contents` ({name: content}) in one write; nothing is
    written unless every block is there."""
    with open(path) as f:
        text = f.read()
    for name in contents:
        _split(text, name, path)  # checks every block's markers before anything changes
    for name, content in contents.items():
        head, _, tail = _split(text, name, path)
        text = head + content + tail
    write_text(path, text)


def replace_block(name, content, path=README):
    replace_blocks({name: content}, path)
