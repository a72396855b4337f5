from __future__ import annotations

from pairforge.tasks.privacy.recognizers.secrets import SecretRecognizer


def values(text):
    return sorted(text[r.start : r.end] for r in SecretRecognizer().analyze(text, ["SECRET"]))


def test_secret_values_go_and_keys_stay():
    assert values("DB_PASSWORD=hunter2!x") == ["hunter2!x"]
    assert values("use AKIAIOSFODNN7EXAMPLE") == ["AKIAIOSFODNN7EXAMPLE"]
    assert values("https://deploy:s3cr3tPass@git.example.com") == ["s3cr3tPass"]
    assert values("password: please choose one") == [] and values("password=changeme") == []
