"""tasks.core.names: a value that becomes part of a storage key is a name, never a path."""

from __future__ import annotations

import pytest

from pairforge.tasks.core.names import MAX_NAME, check_name, name_problem

HOSTILE = ["..", ".", "../x", "/abs", "a/../../b", "x/..", "a\\b", "", "v 1", "v\n1", "v\x001", "ü", "x" * 101]


@pytest.mark.parametrize("value", ["v1", "20261204T020000Z", "v1-erased-2", "my_set.v2", "..v", "v..", "-x",
                                   "x" * MAX_NAME])
def test_plain_names_pass(value):
    assert name_problem(value) is None and check_name(value, "version") == value


@pytest.mark.parametrize("value", HOSTILE)
def test_paths_and_odd_values_are_refused_naming_the_key(value):
    assert name_problem(value)
    with pytest.raises(ValueError, match=r"^--version: "):
        check_name(value, "--version")


def test_the_message_says_why():
    assert name_problem("..") == "'..' is a path, not a name"
    assert name_problem("../x") == "must match [A-Za-z0-9._-]+ (no '/')"
    assert name_problem("x" * 101) == f"at most {MAX_NAME} characters (got 101)"
