"""SECRET: private key blocks, well-known API key/token formats, bearer tokens, credentials in URLs, and the value of
`password=...` / `api_key: ...` style pairs."""

from __future__ import annotations

import re

from pairforge.tasks.privacy.recognizers.base import Recognizer

SECRET_PATTERNS = [
    re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY"
               r"(?: BLOCK)?-----"),
    re.compile(r"(?<![A-Za-z0-9])(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA)[A-Z0-9]{16}(?![A-Za-z0-9])"),
    re.compile(r"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})"),
    re.compile(r"(?<![A-Za-z0-9_-])glpat-[A-Za-z0-9_-]{20,}"),
    re.compile(r"(?<![A-Za-z0-9_-])xox[abprse]-[A-Za-z0-9-]{10,}"),
    re.compile(r"(?<![A-Za-z0-9_])(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}"),
    re.compile(r"(?<![A-Za-z0-9_-])sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}"),
    re.compile(r"(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35}"),
    re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    re.compile(r"(?<![A-Za-z0-9_-])(?:hf_[A-Za-z0-9]{30,}|npm_[A-Za-z0-9]{36}|SG\.[\w-]{20,}\.[\w-]{20,}|"
               r"SK[0-9a-f]{32}|AC[0-9a-f]{32}|ya29\.[0-9A-Za-z_-]{20,})"),
]  # fmt: skip
# the value after a credential-ish key: password=..., "api_key": "...", DB_PASSWORD: ..., Passwort: ...
SECRET_KV = re.compile(
    r"(?i)(?<![A-Za-z0-9])(?:[A-Za-z0-9]+[_.-])*(?:password|passwd|pwd|pass|passphrase|passcode|secret|"
    r"client[_-]?secret|api[_-]?key|apikey|access[_-]?key(?:[_-]?id)?|secret[_-]?key|private[_-]?key|auth[_-]?token|"
    r"access[_-]?token|refresh[_-]?token|token|bearer|credentials?|passwort|kennwort|contrase(?:ñ|n)a|clave|"
    r"mot[ _]de[ _]passe)(?:[_.-][A-Za-z0-9]+)*"
    r"[\"']?\s*(?:=>|:=|=|:)\s*(?:\"([^\"\n]{4,200})\"|'([^'\n]{4,200})'|([^\s\"',;}{)(]{4,200}))"
)
BEARER = re.compile(r"(?i)\b(?:bearer|token|basic)\s+([A-Za-z0-9._~+/-]{16,}=*)")
URL_CREDENTIALS = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s:/@]+:([^\s:/@]{3,})@")
_SECRET_VALUE_STOP = frozenset(
    """none null true false required optional string yes no changeme example xxx xxxx xxxxx redacted hidden
    secret password token your_password your_token""".split()
)


class SecretRecognizer(Recognizer):
    """API keys, tokens, private key blocks, and the values of credential keys. Key names stay; values go."""

    ENTITY = "SECRET"
    NAME = "PairforgeSecretRecognizer"

    def analyze(self, text, entities, nlp_artifacts=None):
        out = []
        if "-----BEGIN" in text or any(c.isdigit() for c in text) or "=" in text or ":" in text:
            for p in SECRET_PATTERNS:
                out += [self.result(m.start(), m.end(), 0.95) for m in p.finditer(text)]
        for m in SECRET_KV.finditer(text):
            g = next(i for i in (1, 2, 3) if m.group(i) is not None)
            value = m.group(g)
            if value.lower() in _SECRET_VALUE_STOP or value.startswith(("<", "$", "{", "%", "*")):
                continue
            if g == 3 and not re.search(r"[\d\W_]", value) and len(value) < 8:
                continue  # "password: please" - a plain short word is prose, not a value
            out.append(self.result(m.start(g), m.end(g), 0.85))
        for p in (BEARER, URL_CREDENTIALS):
            out += [self.result(m.start(1), m.end(1), 0.85) for m in p.finditer(text)]
        return out

