"""Trait templates in role `aws_role_arns`: parse once at role-create time, expand per user.

Supported forms (one expression per entry, with optional literal text around it):

    {{internal.NAME}}   {{external.NAME}}   {{external["any name"]}}
    {{email.local(external.email)}}
    {{regexp.replace(internal.NAME, "regex", "replacement")}}

A trait with several values yields several entries; a missing trait yields none. For
`regexp.replace` a value the regex does not match is dropped, and `$1`, `${1}` and `${name}` in the
replacement refer to groups (Go's `Expand` rules, as in the reference system). Expanded IAM role
ARNs must satisfy the strict ASCII pattern of `awsra.arn`; anything else is dropped and logged
without the trait value, so a trait can never smuggle in a wildcard or a foreign string.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from awsra.arn import is_valid_role_arn

__all__ = [
    "Expression",
    "Template",
    "TemplateError",
    "TraitRef",
    "Traits",
    "expand_role_arns",
    "parse_template",
]

logger = logging.getLogger("rbac")

Namespace = Literal["internal", "external"]
ExpressionKind = Literal["trait", "email_local", "regexp_replace"]
# A replacement part is literal text (str) or a group reference (int index or group name).
ReplacementPart = tuple[Literal["text", "group"], str | int]


class TemplateError(ValueError):
    """A role template that does not parse; the message quotes the offending text."""


@dataclass(frozen=True)
class Traits:
    """A user's traits: internal (set in Rolegate) and external (from the identity provider)."""

    internal: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    external: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_mappings(
        cls, internal: Mapping[str, object] | None, external: Mapping[str, object] | None
    ) -> Traits:
        """Build traits from stored JSON: a value is a string or a list of strings; rest ignored."""
        return cls(internal=_normalize_traits(internal), external=_normalize_traits(external))

    def values(self, ref: TraitRef) -> tuple[str, ...]:
        """Return the values of a trait, or () when the user does not have it."""
        source = self.internal if ref.namespace == "internal" else self.external
        return source.get(ref.name, ())


def _normalize_traits(raw: Mapping[str, object] | None) -> dict[str, tuple[str, ...]]:
    result: dict[str, tuple[str, ...]] = {}
    if not raw:
        return result
    for name, value in raw.items():
        if not isinstance(name, str):
            continue
        if isinstance(value, str):
            result[name] = (value,)
        elif isinstance(value, list | tuple):
            result[name] = tuple(v for v in value if isinstance(v, str))
    return result


@dataclass(frozen=True)
class TraitRef:
    """A reference to one trait, e.g. `external.aws_role_arns`."""

    namespace: Namespace
    name: str

    def __str__(self) -> str:
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", self.name, re.ASCII):
            return f"{self.namespace}.{self.name}"
        return f"{self.namespace}[{_quote(self.name)}]"


@dataclass(frozen=True)
class Expression:
    """A parsed `{{...}}` expression: a trait, optionally passed through one function."""

    kind: ExpressionKind
    trait: TraitRef
    pattern: re.Pattern[str] | None = None
    replacement: tuple[ReplacementPart, ...] = ()

    def evaluate(self, traits: Traits) -> list[str]:
        """Return the expression's values for these traits (possibly none)."""
        values = traits.values(self.trait)
        if self.kind == "trait":
            return list(values)
        if self.kind == "email_local":
            return [local for local in (_email_local(v) for v in values) if local]
        assert self.pattern is not None
        pattern = self.pattern
        result = []
        for value in values:
            if pattern.search(value) is None:
                continue
            result.append(pattern.sub(lambda m: _expand_replacement(m, self.replacement), value))
        return result


@dataclass(frozen=True)
class Template:
    """One `aws_role_arns` entry: literal text, or prefix + expression + suffix."""

    source: str
    prefix: str = ""
    expression: Expression | None = None
    suffix: str = ""

    @property
    def is_literal(self) -> bool:
        """True if the entry has no `{{...}}` expression."""
        return self.expression is None

    def expand(self, traits: Traits) -> list[str]:
        """Return the raw (unvalidated) values of the entry for these traits."""
        if self.expression is None:
            return [self.source]
        return [self.prefix + value + self.suffix for value in self.expression.evaluate(traits)]


def parse_template(text: str) -> Template:
    """Parse one entry; raises TemplateError for anything but the supported forms."""
    if not isinstance(text, str):
        raise TemplateError(f"expected a string, got {type(text).__name__} {text!r}")
    start = text.find("{{")
    if start < 0:
        if "{" in text or "}" in text:
            raise TemplateError(
                f"{text!r}: stray brace; templates are written {{{{internal.NAME}}}}"
            )
        return Template(source=text)
    end = text.find("}}", start + 2)
    if end < 0:
        raise TemplateError(f"{text!r}: '{{{{' without a closing '}}}}'")
    prefix, body, suffix = text[:start], text[start + 2 : end], text[end + 2 :]
    if any(c in prefix or c in suffix for c in "{}"):
        raise TemplateError(f"{text!r}: only one {{{{...}}}} expression is allowed per entry")
    return Template(
        source=text, prefix=prefix, expression=_parse_expression(body, text), suffix=suffix
    )


def expand_role_arns(
    templates: Sequence[Template], traits: Traits, *, role_name: str
) -> tuple[list[str], list[str]]:
    """Expand templates into valid role ARNs; return (arns, notes about dropped entries)."""
    arns: list[str] = []
    notes: list[str] = []
    seen: set[str] = set()
    for template in templates:
        values = template.expand(traits)
        if not values and template.expression is not None:
            notes.append(f"{template.source!r}: trait {template.expression.trait} gave no value")
            continue
        invalid = 0
        for value in values:
            if not is_valid_role_arn(value):
                invalid += 1
                continue
            if value not in seen:
                seen.add(value)
                arns.append(value)
        if invalid:
            # The trait value itself is not logged: it comes from outside and may be anything.
            logger.warning(
                "role %r: dropped %d value(s) of %r that are not valid IAM role ARNs",
                role_name,
                invalid,
                template.source,
            )
            notes.append(f"{template.source!r}: dropped {invalid} value(s) that are not role ARNs")
    return arns, notes


# --- expression parser -----------------------------------------------------------------------

_TOKEN_RE = re.compile(
    r"""\s*(?:
        (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<punct>[.(),\[\]])
    )""",
    re.VERBOSE | re.ASCII | re.DOTALL,
)

Token = tuple[str, str]


def _tokenize(body: str, source: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(body):
        if body[position:].strip() == "":
            break
        match = _TOKEN_RE.match(body, position)
        if match is None or match.end() == position:
            raise TemplateError(f"{source!r}: unexpected {body[position:].strip()[:20]!r}")
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, body: str, source: str) -> None:
        self.source = source
        self.tokens = _tokenize(body, source)
        self.position = 0

    def error(self, message: str) -> TemplateError:
        supported = (
            "{{internal.NAME}}, {{external.NAME}}, {{email.local(external.NAME)}}, "
            '{{regexp.replace(internal.NAME, "regex", "replacement")}}'
        )
        return TemplateError(f"{self.source!r}: {message} (supported: {supported})")

    def peek(self) -> Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, kind: str, value: str | None = None) -> str:
        token = self.peek()
        if token is None or token[0] != kind or (value is not None and token[1] != value):
            wanted = repr(value) if value is not None else kind
            found = "the end" if token is None else repr(token[1])
            raise self.error(f"expected {wanted}, found {found}")
        self.position += 1
        return token[1]

    def done(self) -> None:
        token = self.peek()
        if token is not None:
            raise self.error(f"unexpected {token[1]!r}")

    def trait(self) -> TraitRef:
        namespace = self.take("ident")
        if namespace not in ("internal", "external"):
            raise self.error(f"unknown namespace {namespace!r}")
        token = self.peek()
        if token == ("punct", "["):
            self.take("punct", "[")
            name = _unquote(self.take("string"))
            self.take("punct", "]")
        else:
            self.take("punct", ".")
            name = self.take("ident")
        if not name:
            raise self.error("empty trait name")
        return TraitRef(namespace, name)  # type: ignore[arg-type]

    def expression(self) -> Expression:
        token = self.peek()
        if token is None:
            raise self.error("empty expression")
        head = self.tokens[self.position][1]
        if head in ("internal", "external"):
            result = Expression("trait", self.trait())
        elif head == "email":
            self.take("ident")
            self.take("punct", ".")
            function = self.take("ident")
            if function != "local":
                raise self.error(f"unknown function email.{function}")
            self.take("punct", "(")
            result = Expression("email_local", self.trait())
            self.take("punct", ")")
        elif head == "regexp":
            self.take("ident")
            self.take("punct", ".")
            function = self.take("ident")
            if function != "replace":
                raise self.error(f"unknown function regexp.{function}")
            self.take("punct", "(")
            trait = self.trait()
            self.take("punct", ",")
            regex_text = _unquote(self.take("string"))
            self.take("punct", ",")
            replacement_text = _unquote(self.take("string"))
            self.take("punct", ")")
            try:
                pattern = re.compile(regex_text)
            except re.error as exc:
                raise self.error(f"invalid regular expression {regex_text!r}: {exc}") from None
            replacement = _parse_replacement(replacement_text, pattern, self)
            result = Expression("regexp_replace", trait, pattern, replacement)
        else:
            raise self.error(f"unknown expression starting with {head!r}")
        self.done()
        return result


def _parse_expression(body: str, source: str) -> Expression:
    return _Parser(body, source).expression()


def _unquote(token: str) -> str:
    # Only \" and \\ are escapes; any other backslash is kept so regexes like "\d" read naturally.
    inner = token[1:-1]
    out: list[str] = []
    index = 0
    while index < len(inner):
        char = inner[index]
        if char == "\\" and index + 1 < len(inner) and inner[index + 1] in '"\\':
            out.append(inner[index + 1])
            index += 2
            continue
        out.append(char)
        index += 1
    return "".join(out)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


_GROUP_NAME_RE = re.compile(r"[A-Za-z0-9_]+", re.ASCII)


def _parse_replacement(
    text: str, pattern: re.Pattern[str], parser: _Parser
) -> tuple[ReplacementPart, ...]:
    """Split a Go-style replacement (`$1`, `${1}`, `${name}`, `$$`) into parts."""
    parts: list[ReplacementPart] = []
    literal: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char != "$":
            literal.append(char)
            index += 1
            continue
        reference: str | None = None
        if text.startswith("$$", index):
            literal.append("$")
            index += 2
            continue
        if text.startswith("${", index):
            close = text.find("}", index + 2)
            candidate = text[index + 2 : close] if close >= 0 else ""
            if close >= 0 and _GROUP_NAME_RE.fullmatch(candidate):
                reference, index = candidate, close + 1
        else:
            match = _GROUP_NAME_RE.match(text, index + 1)
            if match is not None:
                reference, index = match.group(0), match.end()
        if reference is None:
            # Go treats a malformed reference as a literal "$".
            literal.append("$")
            index += 1
            continue
        if literal:
            parts.append(("text", "".join(literal)))
            literal = []
        if reference.isdigit():
            number = int(reference)
            if number > pattern.groups:
                raise parser.error(
                    f"replacement refers to group ${number} but the regex has {pattern.groups}"
                )
            parts.append(("group", number))
        else:
            if reference not in pattern.groupindex:
                raise parser.error(f"replacement refers to unknown group {reference!r}")
            parts.append(("group", reference))
    if literal:
        parts.append(("text", "".join(literal)))
    return tuple(parts)


def _expand_replacement(match: re.Match[str], parts: Sequence[ReplacementPart]) -> str:
    return "".join(_replacement_pieces(match, parts))


def _replacement_pieces(match: re.Match[str], parts: Sequence[ReplacementPart]) -> Iterator[str]:
    for kind, value in parts:
        if kind == "text":
            assert isinstance(value, str)
            yield value
        else:
            yield match.group(value) or ""


def _email_local(value: str) -> str:
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain:
        return ""
    return local
