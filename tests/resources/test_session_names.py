"""The username -> role session name mapping is one-to-one and always valid for STS."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from apps.resources.services import role_session_name_for

SESSION_NAME_RE = re.compile(r"[A-Za-z0-9+_=,.@-]{2,64}\Z")
# Usernames from the session-name alphabet, lookalikes and anything else Unicode has.
_ALPHABET = st.sampled_from("abxy_+-=,.@0123456789") | st.characters()
USERNAMES = st.text(alphabet=_ALPHABET, min_size=1, max_size=80)


@settings(max_examples=1000)
@given(USERNAMES, USERNAMES)
def test_distinct_usernames_get_distinct_session_names(first: str, second: str) -> None:
    if first != second:
        assert role_session_name_for(first) != role_session_name_for(second)


@settings(max_examples=500)
@given(USERNAMES)
def test_session_names_are_valid_and_stable(username: str) -> None:
    name = role_session_name_for(username)
    assert SESSION_NAME_RE.match(name), name
    assert role_session_name_for(username) == name


@settings(max_examples=500)
@given(USERNAMES)
def test_a_name_and_its_image_never_collide(username: str) -> None:
    # The image of a name is itself a valid username: its own image must differ from it,
    # unless the mapping left it unchanged (then both are the same username).
    image = role_session_name_for(username)
    if image != username:
        assert role_session_name_for(image) != image
