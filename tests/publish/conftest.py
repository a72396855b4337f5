"""Fixtures of tests/publish: a user's own tokenizer.json, built offline from the bundled GGUF's vocabulary."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class TokenizerFiles:
    path: Path  # tokenizer.json
    template: Path  # the GGUF's chat template as a .jinja file
    bos: str
    eos: str


@pytest.fixture(scope="session")
def tokenizer_json(tmp_path_factory) -> TokenizerFiles:
    """`tokenizer.json` (a byte-level BPE of the SmolLM2 GGUF's tokens, merges and special tokens, written with
    `tokenizers`) and `chat_template.jinja` (the GGUF's own template) in a session folder."""
    from pairforge.tasks.pairs.llm_server import model_path
    from tests.publish.gguf_tokenizer import tokenizer_from_gguf

    tok, template, bos, eos = tokenizer_from_gguf(model_path())
    folder = tmp_path_factory.mktemp("target-tokenizer")
    tok.save(str(folder / "tokenizer.json"))
    (folder / "chat_template.jinja").write_text(template, encoding="utf-8")
    return TokenizerFiles(folder / "tokenizer.json", folder / "chat_template.jinja", bos, eos)
