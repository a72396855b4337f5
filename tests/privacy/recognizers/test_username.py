from __future__ import annotations

from pairforge.tasks.privacy.recognizers.username import UsernameRecognizer


def values(text):
    return [text[r.start : r.end] for r in UsernameRecognizer().analyze(text)]


def test_login_names_but_not_system_accounts():
    assert values("user=robert; username: jane.doe") == ["robert", "jane.doe"]
    assert values("login: root, uid=postgres") == []
    assert UsernameRecognizer.AFTER_ANALYZER and UsernameRecognizer.ENTITY == "PERSON"
