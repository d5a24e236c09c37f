"""YAML from users, parsed with bounded nesting.

PyYAML composes nodes recursively, so a document nested thousands of levels deep raises
RecursionError (a 500 in the role editor, a traceback from `create -f`). This loader refuses
nesting past MAX_DEPTH with an ordinary YAMLError that carries a line number, and turns a
RecursionError from anywhere in the loader into one too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml
from yaml.composer import ComposerError

MAX_DEPTH = 64


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that counts nesting while composing."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise ComposerError(
                    None,
                    None,
                    f"nested deeper than {MAX_DEPTH} levels",
                    self.peek_event().start_mark,  # type: ignore[no-untyped-call]
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _too_deep() -> yaml.YAMLError:
    return ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels", None)


def safe_load(text: str) -> Any:
    """`yaml.safe_load` with bounded nesting; raises yaml.YAMLError for any bad input."""
    try:
        return yaml.load(text, Loader=_BoundedLoader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        raise _too_deep() from None


def safe_load_all(text: str) -> Iterator[Any]:
    """`yaml.safe_load_all` with bounded nesting (the documents are read eagerly)."""
    try:
        documents = list(yaml.load_all(text, Loader=_BoundedLoader))
    except RecursionError:
        raise _too_deep() from None
    return iter(documents)
