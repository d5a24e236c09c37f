"""The one label matcher: role `app_labels` selectors against an app's labels.

A selector maps a label key to one value or a list of values. Every key must match (AND); a key
matches when any of its values matches (OR). A value is `*` (any value, but the key must exist),
a glob (`fnmatch` semantics, case-sensitive), a `^...$` regular expression (full match), or a
literal. The key `*` with the value `*` matches every app. An empty selector matches nothing, so
a rule without `app_labels` never grants or denies an app by accident.

Selectors are compiled once (regexes and globs included) so that matching 50 roles against
10,000 apps stays cheap.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "LABEL_PREFIX",
    "LEGACY_LABEL_PREFIX",
    "WILDCARD",
    "LabelSelector",
    "ValueMatcher",
    "compile_selector",
    "compile_value",
    "normalize_label_key",
    "normalize_selector",
]

WILDCARD = "*"
LABEL_PREFIX = "rolegate.dev/"
# Roles written for the reference system use its label namespace; they keep working here.
LEGACY_LABEL_PREFIX = "teleport.dev/"
_GLOB_CHARS = frozenset("*?[")

ValueKind = Literal["any", "literal", "glob", "regex"]


def normalize_label_key(key: str) -> str:
    """Map a `teleport.dev/` label key to its `rolegate.dev/` equivalent; others unchanged."""
    if key.startswith(LEGACY_LABEL_PREFIX):
        return LABEL_PREFIX + key[len(LEGACY_LABEL_PREFIX) :]
    return key


def normalize_selector(selector: Mapping[str, str | Sequence[str]]) -> dict[str, list[str]]:
    """Return a selector with normalized keys and every value as a list (merging aliased keys)."""
    result: dict[str, list[str]] = {}
    for key, values in selector.items():
        items = [values] if isinstance(values, str) else list(values)
        bucket = result.setdefault(normalize_label_key(key), [])
        for item in items:
            if item not in bucket:
                bucket.append(item)
    return result


@dataclass(frozen=True, slots=True)
class ValueMatcher:
    """One compiled selector value: `*`, a literal, a glob or a `^...$` regex."""

    source: str
    kind: ValueKind
    pattern: re.Pattern[str] | None = field(default=None, compare=False)

    def matches(self, value: str) -> bool:
        """Return True if the label value matches this selector value."""
        if self.kind == "any":
            return True
        if self.kind == "literal":
            return value == self.source
        assert self.pattern is not None
        return self.pattern.fullmatch(value) is not None


def compile_value(value: str) -> ValueMatcher:
    """Compile one selector value; an invalid `^...$` regex raises ValueError quoting it."""
    if not isinstance(value, str):
        raise ValueError(f"label value {value!r} must be a string")
    if value == WILDCARD:
        return ValueMatcher(value, "any")
    if len(value) >= 2 and value.startswith("^") and value.endswith("$"):
        try:
            return ValueMatcher(value, "regex", re.compile(value))
        except re.error as exc:
            raise ValueError(f"invalid regular expression {value!r}: {exc}") from None
    if _GLOB_CHARS.intersection(value):
        # fnmatch.translate is exactly what fnmatchcase uses; compiling it ourselves keeps the
        # match case-sensitive on every OS and pays the translation once.
        return ValueMatcher(value, "glob", re.compile(fnmatch.translate(value)))
    return ValueMatcher(value, "literal")


@dataclass(frozen=True, slots=True)
class KeyMatcher:
    """One selector key with its compiled values (OR over the values)."""

    key: str
    values: tuple[ValueMatcher, ...]
    literals: frozenset[str]
    patterns: tuple[ValueMatcher, ...]
    any_value: bool

    def matches_value(self, value: str) -> bool:
        """Return True if one of the key's values matches the label value."""
        if self.any_value or value in self.literals:
            return True
        return any(p.matches(value) for p in self.patterns)

    def matching_value(self, value: str) -> ValueMatcher | None:
        """Return the first selector value that matches the label value (for explanations)."""
        for matcher in self.values:
            if matcher.matches(value):
                return matcher
        return None


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """A compiled `app_labels` selector; `matches(labels)` is the whole decision."""

    keys: tuple[KeyMatcher, ...]
    match_all: bool

    @property
    def empty(self) -> bool:
        """True if the selector matches nothing (no keys)."""
        return not self.match_all and not self.keys

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Return True if every key of the selector matches the labels."""
        if self.match_all:
            return True
        if not self.keys:
            return False
        for key_matcher in self.keys:
            value = labels.get(key_matcher.key)
            if value is None or not key_matcher.matches_value(value):
                return False
        return True

    def explain(self, labels: Mapping[str, str]) -> list[tuple[str, bool, str]]:
        """Return (key, matched, reason) for every key, in selector order."""
        if self.match_all:
            return [("*", True, "'*': '*' matches every app")]
        if not self.keys:
            return [("", False, "no app_labels: the rule matches no app")]
        result: list[tuple[str, bool, str]] = []
        for key_matcher in self.keys:
            wanted = ", ".join(repr(v.source) for v in key_matcher.values)
            value = labels.get(key_matcher.key)
            if value is None:
                result.append((key_matcher.key, False, f"the app has no label {key_matcher.key!r}"))
                continue
            hit = key_matcher.matching_value(value)
            if hit is None:
                result.append((key_matcher.key, False, f"{value!r} matches none of {wanted}"))
            else:
                result.append(
                    (key_matcher.key, True, f"{value!r} matches {hit.kind} {hit.source!r}")
                )
        return result


def compile_selector(selector: Mapping[str, str | Sequence[str]]) -> LabelSelector:
    """Compile an `app_labels` mapping; raises ValueError for bad regexes or a bad `*` key."""
    normalized = normalize_selector(selector)
    keys: list[KeyMatcher] = []
    match_all = False
    for key, values in normalized.items():
        if not isinstance(key, str) or not key:
            raise ValueError(f"label key {key!r} must be a non-empty string")
        if key == WILDCARD:
            if values != [WILDCARD]:
                raise ValueError(
                    f"label key '*' only supports the value '*' (got {_show_values(values)})"
                )
            match_all = True
            continue
        if not values:
            raise ValueError(f"label {key!r} has an empty list of values")
        compiled = tuple(compile_value(v) for v in values)
        keys.append(
            KeyMatcher(
                key=key,
                values=compiled,
                literals=frozenset(m.source for m in compiled if m.kind == "literal"),
                patterns=tuple(m for m in compiled if m.kind in ("glob", "regex")),
                any_value=any(m.kind == "any" for m in compiled),
            )
        )
    # `'*': '*'` alongside other keys is always satisfied, so only the other keys decide (AND).
    return LabelSelector(keys=tuple(keys), match_all=match_all and not keys)


def _show_values(values: Iterable[str]) -> str:
    return ", ".join(repr(v) for v in values)
