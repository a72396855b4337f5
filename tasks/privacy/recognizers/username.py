"""PERSON from login names: `user=robert`, `username: jane.doe` (a login name identifies a person)."""

from __future__ import annotations

import re

from pairforge.tasks.privacy.recognizers.base import Recognizer

USERNAME = re.compile(r"(?i)\b(?:user(?:name)?|login|uid|user_id|handle)\s*[:=]\s*([\w.@-]{2,64})")
# shared system accounts: nobody's name
SYSTEM_ACCOUNTS = frozenset(
    "root admin administrator guest user test postgres ubuntu nobody none null anonymous".split()
)


class UsernameRecognizer(Recognizer):
    """The value after a user-name key, unless it is a system account."""

    ENTITY = "PERSON"
    NAME = "PairforgeUsernameRule"
    AFTER_ANALYZER = True  # as it always ran: its findings go to the overlap resolution as they are

    def analyze(self, text, entities=None, nlp_artifacts=None):
        return [self.result(m.start(1), m.end(1), 0.7) for m in USERNAME.finditer(text)
                if m.group(1).lower() not in SYSTEM_ACCOUNTS]  # fmt: skip
