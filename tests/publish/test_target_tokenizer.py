"""The target model's tokenizer (issue 17 item 6): a user's tokenizer.json (the fixture, built offline from the
bundled GGUF's vocabulary) behind the GGUF tokenizer's interface, the recipe's `tokenizer` section, the
sequence_length stage's limit (reject / truncate), the pairs' `tokens`, the card's token statistics and the
`tokenized` export. Expected values are computed another way: with `tokenizers` itself on hand-written ChatML, and
with transformers' `apply_chat_template`."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import polars as pl
import pytest
from tokenizers import AddedToken, Tokenizer

from pairforge.tasks.core.recipe import RecipeError, load_recipe
from pairforge.tasks.core.schema import PAIRS, conform
from pairforge.tasks.core.shards import Shard, apply_row_stage
from pairforge.tasks.pairs.sequence_length import ROWS, Limit, Options, fit
from pairforge.tasks.publish.export import token_stats, write_version
from pairforge.tasks.publish.tokenizer import (
    IGNORE_INDEX,
    HFTokenizer,
    TokenizerOptions,
    get_tokenizer,
    tokenizer_for,
)
from tests.conftest import CORPORA, REPO
from tests.pairs.test_sequence_length import instruction_pairs

CHAT_FILE = CORPORA / "chat" / "toy_chat_fine_tuning.jsonl"


def chatml(msgs: list[dict]) -> str:
    """ChatML written by hand (what the built-in `chatml` template must render)."""
    return "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in msgs)


def real_texts() -> dict[str, list[str]]:
    """Real text by language: the gold main-text snippets and titles of trafilatura's test pages (en, de, fr, es),
    the ABC news articles and the messages of OpenAI's chat example file."""
    lang = {Path(e["file"]).name: e["lang"] for e in json.loads((CORPORA / "html" / "manifest.json").read_text())}
    by: dict[str, list[str]] = defaultdict(list)
    for entry in json.loads((CORPORA / "html" / "evaldata.json").read_text()).values():
        if entry["file"] in lang:
            by[lang[entry["file"]]] += [t for t in [entry.get("title"), entry.get("description"),
                                                    *entry.get("with", [])] if t]
    by["en"] += (CORPORA / "text" / "lee_background.cor").read_text(encoding="utf-8").splitlines()[:80]
    by["en"] += [m["content"] for line in CHAT_FILE.read_text().splitlines()
                 for m in json.loads(line)["messages"] if m.get("content")]
    return by


@pytest.fixture(scope="module")
def hf(tokenizer_json) -> HFTokenizer:
    return tokenizer_for(TokenizerOptions(path=str(tokenizer_json.path), chat_template="chatml"))


@pytest.fixture(scope="module")
def raw(tokenizer_json) -> Tokenizer:
    return Tokenizer.from_file(str(tokenizer_json.path))


def conversations() -> list[list[dict]]:
    """Real conversations: the instruction pairs and the chat file's records (multi-turn, with system prompts)."""
    chats = [list(m) for m in instruction_pairs()["messages"].to_list()]
    for line in CHAT_FILE.read_text().splitlines():
        msgs = [{"role": m["role"], "content": m["content"]} for m in json.loads(line)["messages"]]
        if msgs[-1]["role"] == "assistant":
            chats.append(msgs)
    return [[{"role": m["role"], "content": m["content"]} for m in c] for c in chats]


# ---- the fixture and the interface -------------------------------------------------------------


def test_the_fixture_tokenizes_as_the_gguf_vocabulary_does(raw, tokenizer_json):
    gguf = get_tokenizer()
    texts = [t for ts in real_texts().values() for t in ts]
    assert len(texts) > 300
    assert [raw.encode(t, add_special_tokens=False).ids for t in texts] == [gguf.encode(t, special=True)
                                                                           for t in texts]
    assert raw.get_vocab_size() == gguf.vocab_size and (tokenizer_json.bos, tokenizer_json.eos) == (
        "<|im_start|>", "<|im_end|>")


def test_counts_equal_tokenizers_encode_on_real_text_in_four_languages(hf, raw):
    texts = real_texts()
    assert {"en", "de", "fr", "es"} <= set(texts)
    for lang, items in texts.items():
        assert hf.count(items) == [len(raw.encode(t).ids) for t in items], lang
    assert hf.count(["", "<|im_end|>"]) == [0, 1]  # special-token text is the special token, as encode reads it
    assert len(hf.encode("<|im_end|>")) > 1 and hf.encode("<|im_end|>", special=True) == [2]
    text = "Ünïcödé — 日本語のテキスト 🎉\n\ttabs"
    assert hf.decode(hf.encode(text)) == text


def test_chat_lengths_and_ids_are_the_rendered_text_encoded(hf, raw):
    chats = conversations()
    assert len(chats) > 250 and max(len(c) for c in chats) > 3
    rendered = [chatml(c) for c in chats]
    assert [hf.render_chat(c) for c in chats] == rendered
    assert hf.chat_lengths(chats) == [len(raw.encode(t).ids) for t in rendered]
    for chat, text in zip(chats[::25], rendered[::25], strict=True):
        assert hf.apply_chat(chat)[0] == raw.encode(text).ids


def test_labels_are_the_assistant_turns_and_their_end_of_turn_token(hf):
    for chat in conversations()[::20] + [[{"role": "system", "content": "Be brief."},
                                          {"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4."},
                                          {"role": "user", "content": "Sure?"},
                                          {"role": "assistant", "content": "Yes: 4  "}]]:
        ids, labels = hf.apply_chat(chat)
        assert len(ids) == len(labels)
        trained = [i for i, y in zip(ids, labels, strict=True) if y != IGNORE_INDEX]
        assert all(y in (IGNORE_INDEX, i) for i, y in zip(ids, labels, strict=True))
        want = "".join(m["content"] + "<|im_end|>" for m in chat if m["role"] == "assistant")
        assert hf.decode(trained, special=True) == want
        assert hf.decode([i for i, y in zip(ids, labels, strict=True) if y == IGNORE_INDEX], special=True) == \
            "".join(f"<|im_start|>{m['role']}\n" + ("" if m["role"] == "assistant" else m["content"] + "<|im_end|>")
                    + "\n" for m in chat)


def test_chunks_round_trip_and_fit(hf):
    text = (CORPORA / "text" / "lee_background.cor").read_text(encoding="utf-8")
    chunks = hf.chunk(text, max_tokens=200)
    assert len(chunks) > 10 and "".join(chunks) == text
    assert max(len(hf.encode(c)) for c in chunks) <= 200
    assert sum(c[0].isspace() for c in chunks[1:]) >= len(chunks) - 3  # cut before a word, where one is near
    german = " ".join(real_texts()["de"])
    overlapping = hf.chunk(german, max_tokens=64, overlap=16)
    assert len(overlapping) > 3 and max(len(hf.encode(c)) for c in overlapping) <= 64
    assert all(german.find(c) >= 0 for c in overlapping)


def test_a_template_file_that_strips_contents_and_names_no_eos(tmp_path, tokenizer_json, raw):
    """Llama-3's templates `| trim` the contents; without eos_token the end-of-turn token is found in the
    template's text after an assistant turn."""
    template = tmp_path / "trim.jinja"
    template.write_text("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] | trim }}<|im_end|>\n"
                        "{% endfor %}", encoding="utf-8")
    tok = tokenizer_for(TokenizerOptions(path=str(tokenizer_json.path), chat_template=str(template)))
    chat = [{"role": "user", "content": "  Hi there \n"}, {"role": "assistant", "content": "\n Hello! "}]
    ids, labels = tok.apply_chat(chat)
    assert tok.turn_end == "<|im_end|>" and ids == raw.encode(chatml([{"role": "user", "content": "Hi there"},
                                                                      {"role": "assistant", "content": "Hello!"}])).ids
    assert tok.decode([i for i, y in zip(ids, labels, strict=True) if y != IGNORE_INDEX], special=True) == \
        "Hello!<|im_end|>"


def test_the_gguf_template_renders_as_transformers_renders_it(tokenizer_json, tmp_path):
    """The same ids as transformers' `PreTrainedTokenizerFast(...).apply_chat_template` (in the TRL virtualenv,
    .venv-trl: transformers stays out of the main one) for real conversations, in the GGUF's own template (which
    adds SmolLM's default system prompt) and in the built-in ChatML."""
    python = REPO / ".venv-trl" / "bin" / "python"
    assert python.exists(), "make trl builds the TRL virtualenv the tests use"
    chats = conversations()[:6] + conversations()[-4:]
    script = tmp_path / "render.py"
    script.write_text(
        "import json, sys\n"
        "from tokenizers import Tokenizer\n"
        "from transformers import PreTrainedTokenizerFast\n"
        "path, template, bos, eos, chats = json.load(sys.stdin)\n"
        "tok = PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_file(path), bos_token=bos, eos_token=eos)\n"
        "tok.chat_template = template\n"
        "out = []\n"
        "for chat in chats:\n"
        "    ids = tok.apply_chat_template(chat, tokenize=True)\n"
        "    ids = ids['input_ids'] if not isinstance(ids, list) else ids\n"
        "    out.append([list(ids), tok.apply_chat_template(chat, tokenize=False)])\n"
        "print(json.dumps(out))\n")
    from pairforge.tasks.publish.tokenizer import CHAT_TEMPLATES

    # the built-in llama-3 template (it trims contents and writes the BOS) on the vocabulary with Llama-3's tokens
    llama = Tokenizer.from_file(str(tokenizer_json.path))
    llama.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in CHAT_TEMPLATES["llama-3"].tokens])
    llama.save(str(tmp_path / "llama.json"))
    chats[1][-1]["content"] = "  " + chats[1][-1]["content"] + " \n"  # for the trim
    cases = [(tokenizer_json.path, str(tokenizer_json.template), tokenizer_json.template.read_text(),
              tokenizer_json.bos, tokenizer_json.eos),
             (tokenizer_json.path, "chatml", CHAT_TEMPLATES["chatml"].source, tokenizer_json.bos, tokenizer_json.eos),
             (tmp_path / "llama.json", "llama-3", CHAT_TEMPLATES["llama-3"].source, "<|begin_of_text|>", "<|eot_id|>")]
    for path, name, template, bos, eos in cases:
        done = subprocess.run([str(python), str(script)], input=json.dumps([str(path), template, bos, eos, chats]),
                              capture_output=True, text=True, timeout=300, check=True)
        theirs = json.loads(done.stdout)
        ours = tokenizer_for(TokenizerOptions(path=str(path), chat_template=name))
        assert [ours.render_chat(c) for c in chats] == [t for _, t in theirs], name
        assert [ours.apply_chat(c)[0] for c in chats] == [ids for ids, _ in theirs], name
        # SmolLM's template adds its default system prompt to a conversation without one; the others do not
        assert ("You are a helpful AI assistant named SmolLM" in theirs[0][1]) == (name.endswith(".jinja"))
    ids, labels = ours.apply_chat(chats[1])  # llama-3: trained on the trimmed response and its <|eot_id|>
    assert ids[0] == ours.bos_id and ours.decode([i for i, y in zip(ids, labels, strict=True) if y != IGNORE_INDEX],
                                                 special=True) == chats[1][-1]["content"].strip() + "<|eot_id|>"


def test_a_gguf_path_is_the_gguf_backend_with_its_own_or_a_named_template():
    gguf = get_tokenizer()
    assert tokenizer_for(None) is gguf and tokenizer_for(TokenizerOptions(path=gguf.path)) is gguf
    chat = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]
    assert gguf.render_chat(chat).startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")
    plain = tokenizer_for({"path": gguf.path, "chat_template": "chatml"})  # as the manifest's recipe records it
    assert plain is not gguf and plain.chat_template_source == "chatml" and plain.render_chat(chat) == chatml(chat)
    ids, labels = plain.apply_chat(chat)
    assert plain.decode([i for i, y in zip(ids, labels, strict=True) if y != IGNORE_INDEX], special=True) == \
        "Hello.<|im_end|>"


# ---- the recipe section --------------------------------------------------------------------------


def recipe_dir(tmp_path: Path, tokenizer_json, section: str) -> Path:
    (tmp_path / "model").mkdir(exist_ok=True)
    shutil.copy(tokenizer_json.path, tmp_path / "model" / "tokenizer.json")
    shutil.copy(tokenizer_json.template, tmp_path / "model" / "chat_template.jinja")
    (tmp_path / "recipe.yaml").write_text(
        "name: tok-test\n"
        f"sources: [{{name: chat, uri: {CHAT_FILE}, format: openai, license: MIT}}]\n"
        f"{section}\n"
        "export: {uri: out/}\n", encoding="utf-8")
    return tmp_path / "recipe.yaml"


def test_the_recipe_section_resolves_against_the_recipe(tmp_path, tokenizer_json):
    path = recipe_dir(tmp_path, tokenizer_json, "tokenizer: {path: model/tokenizer.json, "
                                                "chat_template: model/chat_template.jinja}")
    recipe = load_recipe(path)
    assert recipe.tokenizer.path == str(tmp_path / "model" / "tokenizer.json")
    assert recipe.tokenizer.chat_template == str(tmp_path / "model" / "chat_template.jinja")
    tok = tokenizer_for(recipe.tokenizer)
    assert isinstance(tok, HFTokenizer) and tok.name == "model/tokenizer.json (chat_template.jinja)"
    assert recipe.published()["tokenizer"]["path"] == recipe.tokenizer.path
    assert load_recipe(path, ["tokenizer.chat_template=chatml"]).tokenizer.chat_template == "chatml"
    assert tokenizer_for(load_recipe(REPO / "examples" / "demo" / "recipe.yaml", check_sources=False).tokenizer) \
        is get_tokenizer()  # the demo keeps the bundled GGUF


@pytest.mark.parametrize("override, message", [
    ("tokenizer.path=model/missing.json", "tokenizer.path: file not found: {tmp}/model/missing.json"),
    ("tokenizer.path=recipe.yaml", "tokenizer.path: {tmp}/recipe.yaml: not a Hugging Face tokenizer.json"),
    ("tokenizer.path=s3://bucket/tokenizer.json", "tokenizer.path: s3://bucket/tokenizer.json: a local file"),
    ("tokenizer.chat_template=null", "tokenizer.chat_template: required with a tokenizer.json: a .jinja file or "
                                     "one of: chatml, llama-3"),
    ("tokenizer.chat_template=model/none.jinja", "tokenizer.chat_template: file not found: {tmp}/model/none.jinja"),
    ("tokenizer.chat_template=model/broken.jinja", "tokenizer.chat_template: {tmp}/model/broken.jinja: chat "
                                                   "template does not compile"),
    ("tokenizer.chat_template=model/refuses.jinja", "tokenizer.chat_template: {tmp}/model/refuses.jinja: chat "
                                                    "template of model/tokenizer.json (refuses.jinja) rejects this "
                                                    "conversation: assistant turns are not supported"),
    ("tokenizer.chat_template=llama-3", "tokenizer.chat_template: llama-3 writes <|begin_of_text|>, "
                                        "<|start_header_id|>, <|end_header_id|>, <|eot_id|>, which "
                                        "{tmp}/model/tokenizer.json does not have as tokens"),
    ("tokenizer.eos_token=</s>", "tokenizer.eos_token: '</s>' is not a token of {tmp}/model/tokenizer.json"),
    ("tokenizer.vocab=x", "tokenizer.vocab: unknown key"),
])
def test_a_bad_tokenizer_is_a_recipe_error_naming_the_key_and_the_file(tmp_path, tokenizer_json, override, message):
    path = recipe_dir(tmp_path, tokenizer_json, "tokenizer: {path: model/tokenizer.json, chat_template: chatml}")
    (tmp_path / "model" / "broken.jinja").write_text("{% for m in messages %}{{ m.content }", encoding="utf-8")
    (tmp_path / "model" / "refuses.jinja").write_text(
        "{% for m in messages %}{% if m.role == 'assistant' %}{{ raise_exception('assistant turns are not "
        "supported') }}{% endif %}{{ m.content }}{% endfor %}", encoding="utf-8")
    with pytest.raises(RecipeError) as err:
        load_recipe(path, [override])
    assert str(err.value).startswith(f"{path}: {message.format(tmp=tmp_path)}"), str(err.value)


# ---- sequence_length ------------------------------------------------------------------------------


def limit_of(tmp_path, tokenizer_json, max_tokens: int, on_long: str = "reject") -> Limit:
    path = recipe_dir(tmp_path, tokenizer_json, "tokenizer: {path: model/tokenizer.json, chat_template: chatml}\n"
                      f"sequence_length: {{enabled: true, max_tokens: {max_tokens}, on_long: {on_long}}}")
    return ROWS.options(load_recipe(path))


def test_the_limit_rejects_exactly_the_rows_over_it(tmp_path, tokenizer_json, raw):
    df = instruction_pairs()
    limit = limit_of(tmp_path, tokenizer_json, 128)
    assert isinstance(limit, Limit) and limit.tokenizer.chat_template == "chatml" and limit.files
    lengths = {r["id"]: len(raw.encode(chatml(r["messages"])).ids) for r in df.iter_rows(named=True)}
    over = {i for i, n in lengths.items() if n > 128}
    assert 20 < len(over) < len(df) - 50
    uri = str(tmp_path / "in.parquet")
    df.write_parquet(uri)
    res = apply_row_stage.fn("sequence_length", Shard("pairs", "p-00000", uri, len(df)), limit, str(tmp_path / "w"))
    rejected = pl.read_parquet(res.rejected_uri)
    assert set(rejected["id"]) == over and set(res.shard.read()["id"]) == set(lengths) - over
    assert dict(zip(rejected["id"], rejected["tokens"], strict=True)) == {i: lengths[i] for i in over}
    assert res.rejected == {"longer than 128 tokens": len(over)} and res.changed == {"rows truncated": 0}
    # the GGUF vocabulary with SmolLM's template (its default system prompt) counts otherwise: the tokenizer matters
    assert set(fit(df, Options(enabled=True, max_tokens=128))[1]["id"]) != over


def test_truncate_cuts_the_last_response_and_never_a_prompt(tmp_path, tokenizer_json, raw):
    df = instruction_pairs()
    long_prompt = "Summarise this text. " + " ".join(real_texts()["de"])
    df = pl.concat([df, conform(pl.DataFrame({
        "id": ["long-prompt"], "prompt": [long_prompt], "response": ["Kurz."],
        "messages": [[{"role": "user", "content": long_prompt}, {"role": "assistant", "content": "Kurz."}]]}),
        "pairs")])
    limit = limit_of(tmp_path, tokenizer_json, 96, "truncate")
    kept, rejected, changed = fit(df, limit)
    before = {r["id"]: r for r in df.iter_rows(named=True)}
    lengths = {i: len(raw.encode(chatml(r["messages"])).ids) for i, r in before.items()}
    # rejected: exactly the pairs whose turns before the last one fill the limit on their own
    prompts = {i: len(raw.encode(chatml([*r["messages"][:-1], {"role": "assistant", "content": ""}])).ids)
               for i, r in before.items()}
    assert set(rejected["id"]) == {i for i, n in prompts.items() if n >= 96} >= {"long-prompt"}
    assert set(rejected["reason"]) == {"longer than 96 tokens (the turns before the last one fill it)"}
    assert dict(zip(rejected["id"], rejected["tokens"], strict=True)) == {i: lengths[i] for i in rejected["id"]}
    cut = [r for r in kept.iter_rows(named=True) if lengths[r["id"]] > 96]
    assert len(cut) == changed["rows truncated"] > 20 and len(kept) == len(df) - len(rejected)
    for r in cut:
        original = before[r["id"]]
        assert len(raw.encode(chatml(r["messages"])).ids) <= 96  # it fits now
        assert r["prompt"] == original["prompt"] and r["messages"][:-1] == original["messages"][:-1]
        assert r["response"] == r["messages"][-1]["content"] and r["response"]
        assert original["response"].startswith(r["response"]) and len(r["response"]) < len(original["response"])
    untouched = kept.filter(~pl.col("id").is_in([r["id"] for r in cut]))
    assert untouched.to_dicts() == df.filter(pl.col("id").is_in(untouched["id"].implode())).to_dicts()


def test_a_preference_row_counts_and_truncates_both_sides(tmp_path, tokenizer_json, raw):
    df = instruction_pairs().head(40)
    longest = max(df["response"].to_list(), key=len)
    df = df.with_columns(rejected=pl.lit(longest), chosen_score=pl.lit(4.0), rejected_score=pl.lit(2.0))
    chosen = {r["id"]: len(raw.encode(chatml(r["messages"])).ids) for r in df.iter_rows(named=True)}
    worse = {r["id"]: len(raw.encode(chatml([*r["messages"][:-1], {"role": "assistant", "content": longest}])).ids)
             for r in df.iter_rows(named=True)}
    limit = max(chosen.values()) + 1  # every chosen side fits, the long rejected one does not
    assert any(worse[i] > limit for i in worse)
    _, rejected, _ = fit(df, limit_of(tmp_path, tokenizer_json, limit))
    assert set(rejected["id"]) == {i for i in chosen if max(chosen[i], worse[i]) > limit} != set()
    kept, _, changed = fit(df, limit_of(tmp_path, tokenizer_json, 64, "truncate"))
    assert changed["rows truncated"] > 0
    for r in kept.iter_rows(named=True):
        assert len(raw.encode(chatml([*r["messages"][:-1], {"role": "assistant", "content": r["rejected"]}])).ids) <= 64
        assert len(raw.encode(chatml(r["messages"])).ids) <= 64 and longest.startswith(r["rejected"])


# ---- export: tokens, card statistics, the tokenized files ---------------------------------------------


def test_export_counts_tokens_shows_them_on_the_card_and_tokenizes_with_the_recipe_tokenizer(tmp_path, tokenizer_json,
                                                                                             raw):
    pairs = instruction_pairs().with_columns(
        split=pl.when(pl.int_range(pl.len()) % 5 == 0).then(pl.lit("validation")).otherwise(pl.lit("train")))
    # preference rows: the first ten, each with another pair's response as the rejected one
    pairs = pairs.with_columns(rejected=pl.when(pl.int_range(pl.len()) < 10).then(
        pl.col("response").shift(-1)).otherwise(None))
    uri = str(tmp_path / "split.parquet")
    pairs.write_parquet(uri)
    recipe = {"tokenizer": {"path": str(tokenizer_json.path), "chat_template": "chatml", "bos_token": None,
                            "eos_token": None}}
    m = write_version({"pairs": [Shard("pairs", "p", uri, len(pairs))]}, str(tmp_path / "out"), "v1",
                      shard_rows=100, extra_files={}, manifest_fields={"dataset": "tok", "recipe": recipe},
                      formats=["parquet", "tokenized"])
    version = tmp_path / "out" / "v1"
    name = "target-tokenizer0/tokenizer.json (chatml)"
    assert m["tokenizer"] == m["tables"]["pairs"]["tokens"]["tokenizer"] == name
    out = pl.concat([pl.read_parquet(version / f["path"]) for f in m["files"] if f["table"] == "pairs"])
    assert out.schema == PAIRS
    want = {r["id"]: len(raw.encode(chatml(r["messages"])).ids) for r in pairs.iter_rows(named=True)}
    assert dict(zip(out["id"], out["tokens"], strict=True)) == want
    # the card: per split, the statistics of those counts
    split_of = dict(zip(pairs["id"], pairs["split"], strict=True))
    for split in ("train", "validation"):
        counts = sorted(n for i, n in want.items() if split_of[i] == split)
        stats = m["tables"]["pairs"]["tokens"]["splits"][split]
        assert stats == token_stats(counts) and stats["rows"] == len(counts) and stats["max"] == counts[-1]
        assert stats["p50"] == counts[(len(counts) + 1) // 2 - 1] and stats["total"] == sum(counts)
    card = (version / "README.md").read_text()
    assert f"counted with `{name}`" in card
    train = m["tables"]["pairs"]["tokens"]["splits"]["train"]
    assert f"| train | {train['rows']} | {train['total']} | {train['mean']} | {train['p50']} | {train['p95']} | " \
           f"{train['max']} |" in card
    assert "| test | 0 | 0 | 0.0 | 0 | 0 | 0 |" in card
    # tokenized: the recipe tokenizer's ids, labels -100 outside the assistant turns, preference sides on their own
    tokenized = pl.concat([pl.read_parquet(version / f["path"]) for f in m["files"] if f["table"] == "tokenized"])
    rows = {r["id"]: r for r in pairs.iter_rows(named=True)}
    assert len(tokenized) == len(pairs)
    for t in tokenized.iter_rows(named=True):
        r = rows[t["id"]]
        assert t["input_ids"] == raw.encode(chatml(r["messages"])).ids and t["length"] == want[t["id"]]
        trained = [i for i, y in zip(t["input_ids"], t["labels"], strict=True) if y != IGNORE_INDEX]
        assert raw.decode(trained, skip_special_tokens=False) == r["response"] + "<|im_end|>"
        if r["rejected"] is None:
            assert t["chosen_input_ids"] is None and t["rejected_input_ids"] is None
            continue
        assert t["chosen_input_ids"] == t["input_ids"] and t["chosen_labels"] == t["labels"]
        worse = [*r["messages"][:-1], {"role": "assistant", "content": r["rejected"]}]
        assert t["rejected_input_ids"] == raw.encode(chatml(worse)).ids
        trained = [i for i, y in zip(t["rejected_input_ids"], t["rejected_labels"], strict=True) if y != IGNORE_INDEX]
        assert raw.decode(trained, skip_special_tokens=False) == r["rejected"] + "<|im_end|>"
    assert tokenized["rejected_input_ids"].is_not_null().sum() == 10


# ---- through the build flow ----------------------------------------------------------------------------------


def test_the_build_flow_counts_limits_and_tokenizes_with_the_recipe_tokenizer(prefect_server, tmp_path, tokenizer_json,
                                                                                raw):
    """The demo's sources through the real build flow with a recipe tokenizer: sequence_length truncates in it, the
    export counts in it, and the tokenized files and the card come from it."""
    from pairforge.flows.build import build_dataset
    from tests.flows.test_flow import DEMO_SOURCES, check_version, read_table, write_recipe

    (tmp_path / "model").mkdir()
    shutil.copy(tokenizer_json.path, tmp_path / "model" / "tokenizer.json")
    recipe = write_recipe(tmp_path, DEMO_SOURCES, str(tmp_path / "out") + "/",
                          export={"uri": str(tmp_path / "out") + "/", "formats": ["parquet", "tokenized"]},
                          tokenizer={"path": "model/tokenizer.json", "chat_template": "chatml"},
                          sequence_length={"enabled": True, "max_tokens": 80, "on_long": "truncate"},
                          bounds={"stages": {"sequence_length": 1.0}})
    version_uri = build_dataset(str(recipe), version="v1")
    manifest = check_version(version_uri)
    name = "model/tokenizer.json (chatml)"
    assert manifest["tokenizer"] == name and manifest["recipe"]["tokenizer"]["chat_template"] == "chatml"
    pairs = read_table(version_uri, manifest, "pairs")
    want = [len(raw.encode(chatml([{"role": m["role"], "content": m["content"] or ""} for m in msgs])).ids)
            for msgs in pairs["messages"].to_list()]
    assert pairs["tokens"].to_list() == want and max(want) <= 80 and pairs.height > 10
    # some pairs were cut to fit, the pairs whose prompts alone fill the limit were rejected with the reason
    assert manifest["stats"]["changed"]["sequence_length: rows truncated"] > 0
    assert pairs.filter(pl.col("tokens") > 70).height > 0
    assert manifest["stats"]["rejected"]["sequence_length: longer than 80 tokens (the turns before the last one "
                                         "fill it)"] > 0
    tokenized = pl.concat([pl.read_parquet(Path(version_uri) / f["path"]) for f in manifest["files"]
                           if f["table"] == "tokenized"])
    assert sorted(tokenized["length"].to_list()) == sorted(want)
    card = (Path(version_uri) / "README.md").read_text()
    assert f"counted with `{name}`" in card and "on_long=truncate" in card
