"""A Hugging Face tokenizer.json built offline from a GGUF file's vocabulary (the test fixture of a user's own
tokenizer): a small GGUF metadata reader (the header only; no tensors are read) and a byte-level BPE built with
`tokenizers` from `tokenizer.ggml.tokens`, `.merges` and `.token_type`, with the GGUF's chat template.

GGUF layout (ggml's docs/gguf.md): magic `GGUF`, version (u32), tensor count (u64), metadata count (u64), then
each metadata pair: key (u64 length + UTF-8), value type (u32), value; strings are a u64 length + UTF-8, arrays an
item type (u32), a count (u64) and the items. Little-endian.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
STRING, ARRAY = 8, 9
CONTROL = 3  # llama.cpp's LLAMA_TOKEN_TYPE_CONTROL (special tokens such as <|im_start|>)
USER_DEFINED = 4


def _read(f: BinaryIO, fmt: str):
    size = struct.calcsize(fmt)
    data = f.read(size)
    if len(data) != size:
        raise ValueError("truncated GGUF header")
    return struct.unpack(fmt, data)[0]


def _string(f: BinaryIO) -> str:
    n = _read(f, "<Q")
    return f.read(n).decode("utf-8", "surrogateescape")


def _value(f: BinaryIO, kind: int):
    if kind in _SCALARS:
        return _read(f, _SCALARS[kind])
    if kind == STRING:
        return _string(f)
    if kind == ARRAY:
        item, count = _read(f, "<I"), _read(f, "<Q")
        return [_value(f, item) for _ in range(count)]
    raise ValueError(f"unknown GGUF value type {kind}")


def gguf_metadata(path: str | Path) -> dict:
    """Every metadata key of a GGUF file, arrays included (llama_cpp's `Llama.metadata` leaves arrays out)."""
    with open(path, "rb") as f:
        if f.read(4) != b"GGUF":
            raise ValueError(f"{path}: not a GGUF file")
        version = _read(f, "<I")
        if version < 2:
            raise ValueError(f"{path}: GGUF version {version} is not supported")
        _read(f, "<Q")  # tensors
        count = _read(f, "<Q")
        meta = {}
        for _ in range(count):
            key = _string(f)
            meta[key] = _value(f, _read(f, "<I"))
        return meta


def tokenizer_from_gguf(path: str | Path):
    """(a `tokenizers.Tokenizer`, the GGUF's chat template, its BOS and EOS token texts) for a GGUF whose vocabulary
    is a GPT-2 style byte-level BPE (`tokenizer.ggml.model` gpt2). The pre-tokenizer is SmolLM's (its
    tokenizer.json: digits one by one, then GPT-2's byte-level split), which llama.cpp's `smollm` pre-tokenizer
    also follows."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    meta = gguf_metadata(path)
    if meta.get("tokenizer.ggml.model") != "gpt2":
        raise ValueError(f"{path}: a {meta.get('tokenizer.ggml.model')} vocabulary, not byte-level BPE")
    tokens: list[str] = meta["tokenizer.ggml.tokens"]
    types: list[int] = meta.get("tokenizer.ggml.token_type") or [1] * len(tokens)
    merges = [tuple(m.split(" ", 1)) for m in meta["tokenizer.ggml.merges"]]
    vocab = {t: i for i, t in enumerate(tokens)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, fuse_unk=False, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel(add_prefix_space=True, trim_offsets=True, use_regex=True)
    special = [AddedToken(t, special=True, normalized=False) for t, k in zip(tokens, types, strict=True)
               if k in (CONTROL, USER_DEFINED)]
    tok.add_special_tokens(special)

    def text(key: str) -> str | None:
        i = meta.get(key)
        return tokens[i] if isinstance(i, int) and 0 <= i < len(tokens) else None

    return tok, meta.get("tokenizer.chat_template"), text("tokenizer.ggml.bos_token_id"), \
        text("tokenizer.ggml.eos_token_id")
