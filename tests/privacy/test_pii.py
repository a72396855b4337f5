"""Unit tests of the PII step's plain functions (no Prefect)."""

from __future__ import annotations

import hashlib
import socket
import threading
from collections import Counter

import polars as pl
import pytest

from pairforge.tasks.core.recipe import PIIOptions
from pairforge.tasks.core.schema import MESSAGE
from pairforge.tasks.privacy import pii, pii_stage
from pairforge.tasks.privacy.pii import Scrubber, get_scrubber, scrub_frame

NAME, EMAIL, PHONE, CARD = "John Smith", "john.smith@example.com", "415-555-2671", "4111 1111 1111 1111"
TEXT = f"Please ring {NAME}, phone {PHONE}, or email {EMAIL}. My card is {CARD}."
PLANTED = {"PERSON": NAME, "PHONE_NUMBER": PHONE, "EMAIL_ADDRESS": EMAIL, "CREDIT_CARD": CARD}


def scrub_one(text: str, **opts) -> tuple[str, Counter]:
    out, counts = get_scrubber(PIIOptions(**opts)).scrub([text])
    return out[0], counts


def test_replace_puts_entity_type_tags():
    out, counts = scrub_one(TEXT)
    assert out == "Please ring <PERSON>, phone <PHONE_NUMBER>, or email <EMAIL_ADDRESS>. My card is <CREDIT_CARD>."
    assert counts == Counter({"PERSON": 1, "PHONE_NUMBER": 1, "EMAIL_ADDRESS": 1, "CREDIT_CARD": 1})


@pytest.mark.parametrize("operator", ["replace", "mask", "hash", "redact"])
def test_planted_values_disappear_under_every_operator(operator):
    out, counts = scrub_one(TEXT, operator=operator)
    for value in PLANTED.values():
        assert value not in out
    assert "Smith" not in out and "example.com" not in out and "1111" not in out
    assert set(counts) == set(PLANTED)
    assert out.startswith("Please ring ") and out.endswith(".")  # text around the values is kept


def test_mask_keeps_lengths():
    out, _ = scrub_one(TEXT, operator="mask")
    expected = TEXT
    for value in PLANTED.values():
        expected = expected.replace(value, "*" * len(value))
    assert out == expected


def test_redact_removes_values():
    out, _ = scrub_one(TEXT, operator="redact")
    assert out == "Please ring , phone , or email . My card is ."


def test_hash_uses_salt_from_env(monkeypatch):
    monkeypatch.setenv("PII_TEST_SALT", "pepper")
    out, _ = scrub_one(TEXT, operator="hash", hash_salt_env="PII_TEST_SALT")
    digest = hashlib.sha256(("pepper" + EMAIL).encode()).hexdigest()[:12]
    assert f"<EMAIL_ADDRESS:{digest}>" in out
    monkeypatch.setenv("PII_TEST_SALT", "other")
    again, _ = scrub_one(TEXT, operator="hash", hash_salt_env="PII_TEST_SALT")
    assert f"<EMAIL_ADDRESS:{digest}>" not in again  # another salt, another digest
    assert again.count("<PERSON:") == 1


def test_hash_without_salt_env_is_unsalted_and_stable(monkeypatch):
    monkeypatch.delenv("PII_UNSET_SALT", raising=False)
    opts = {"operator": "hash", "hash_salt_env": "PII_UNSET_SALT"}
    out, _ = scrub_one(TEXT, **opts)
    assert f"<PERSON:{hashlib.sha256(NAME.encode()).hexdigest()[:12]}>" in out
    assert scrub_one(TEXT, **opts)[0] == out


def test_allow_list_keeps_value():
    out, counts = scrub_one(TEXT, allow_list=[NAME])
    assert NAME in out
    assert EMAIL not in out and "PERSON" not in counts


def test_deny_list_removes_value_case_insensitively():
    text = "The codename is Project Falcon, see project falcon notes."
    out, counts = scrub_one(text, deny_list=["Project Falcon"])
    assert out == "The codename is <CUSTOM_DENY>, see <CUSTOM_DENY> notes."
    assert counts["CUSTOM_DENY"] == 2


def test_deny_list_beats_allow_list():
    out, _ = scrub_one("Ask Acme Labs.", deny_list=["Acme Labs"], allow_list=["Acme Labs"])
    assert "Acme Labs" not in out


def test_none_and_empty_are_kept_in_order():
    texts = [None, "", "nothing personal here", None, f"mail {EMAIL}", "  "]
    out, counts = get_scrubber(PIIOptions()).scrub(texts)
    assert out == [None, "", "nothing personal here", None, "mail <EMAIL_ADDRESS>", "  "]
    assert counts == Counter({"EMAIL_ADDRESS": 1})
    assert get_scrubber(PIIOptions()).scrub([]) == ([], Counter())


def test_counts_for_known_batch():
    texts = [
        "Contact jane.doe@example.com or bob@example.org.",
        f"Card {CARD}, SSN 536-22-8726, IP 10.0.0.12",
        "I met Sarah Connor and Kyle Reese.",
    ]
    out, counts = get_scrubber(PIIOptions()).scrub(texts)
    assert counts == Counter({"EMAIL_ADDRESS": 2, "CREDIT_CARD": 1, "US_SSN": 1, "IP_ADDRESS": 1, "PERSON": 2})
    assert out[1] == "Card <CREDIT_CARD>, SSN <US_SSN>, IP <IP_ADDRESS>"


def test_only_chosen_entities_are_scrubbed():
    out, counts = scrub_one(TEXT, entities=["EMAIL_ADDRESS"])
    assert NAME in out and CARD in out and EMAIL not in out
    assert counts == Counter({"EMAIL_ADDRESS": 1})
    assert (
        get_scrubber(PIIOptions(entities=["EMAIL_ADDRESS"])).disabled["en"]
        == get_scrubber(PIIOptions(entities=["EMAIL_ADDRESS"])).nlp.pipe_names
    )  # no NER entity wanted: tokenizer only


def test_unknown_entity_is_an_error():
    with pytest.raises(ValueError, match="NOT_AN_ENTITY"):
        Scrubber(PIIOptions(entities=["PERSON", "NOT_AN_ENTITY"]))


def test_get_scrubber_is_cached_per_options():
    a = get_scrubber(PIIOptions())
    assert get_scrubber(PIIOptions()) is a
    assert get_scrubber(PIIOptions(operator="mask")) is not a


def test_scrub_from_threads_matches_serial():
    texts = [f"{TEXT} Case {c}." for c in "abcdefgh"]
    expected, _ = get_scrubber(PIIOptions()).scrub(texts)
    results: list = [None] * 4

    def work(k):
        results[k] = get_scrubber(PIIOptions()).scrub(texts)[0]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [expected] * 4


def test_email_check_makes_no_network_attempt(monkeypatch):
    attempts = []
    monkeypatch.setattr(socket.socket, "connect", lambda self, addr: attempts.append(addr))
    out, _ = scrub_one(f"write to {EMAIL}", entities=["EMAIL_ADDRESS"], threshold=0.4)
    assert out == "write to <EMAIL_ADDRESS>"
    assert attempts == []


def test_long_text_is_chunked_with_right_offsets(monkeypatch):
    monkeypatch.setattr(pii, "MAX_CHUNK_CHARS", 40)
    text = "filler words here " * 5 + f"then {EMAIL} and more text " + "tail " * 10
    assert all(len(p) <= 40 for _, p in pii._chunks(text))
    assert "".join(p for _, p in pii._chunks(text)) == text
    out, counts = Scrubber(PIIOptions(entities=["EMAIL_ADDRESS"])).scrub([text])
    assert out == [text.replace(EMAIL, "<EMAIL_ADDRESS>")]
    assert counts == Counter({"EMAIL_ADDRESS": 1})


def test_overlaps_merge_and_the_longer_entity_names_the_span():
    found = [(0, 10, "PERSON", 0.85), (5, 20, "EMAIL_ADDRESS", 1.0), (20, 25, "A", 0.5), (20, 28, "B", 0.5)]
    # nothing that was found is left uncovered; the longest finding of each overlapping group gives the type
    assert pii._resolve_overlaps(found) == [(0, 20, "EMAIL_ADDRESS", 1.0), (20, 28, "B", 0.5)]
    assert pii._resolve_overlaps([(0, 4, "PERSON", 0.9), (0, 14, "STREET_ADDRESS", 0.6)]) == [
        (0, 14, "STREET_ADDRESS", 0.9)
    ]


def test_scrub_frame_documents_keeps_order_and_other_columns():
    df = pl.DataFrame(
        {
            "id": ["a", "b", "c", "d"],
            "text": [f"mail {EMAIL} now", None, "", f"card {CARD}"],
            "n": [1, 2, 3, 4],
        }
    )
    out, counts = scrub_frame(df, ["text"], PIIOptions())
    assert out.columns == df.columns and out.schema == df.schema
    assert out["id"].to_list() == ["a", "b", "c", "d"] and out["n"].to_list() == [1, 2, 3, 4]
    assert out["text"].to_list() == ["mail <EMAIL_ADDRESS> now", None, "", "card <CREDIT_CARD>"]
    assert counts == Counter({"EMAIL_ADDRESS": 1, "CREDIT_CARD": 1})


def with_tool_fields(rows: list) -> list:
    """Messages as the MESSAGE struct gives them back: the tool-use fields null on plain turns."""
    return [None if r is None else [None if m is None else {"tool_calls": None, "tool_call_id": None, **m} for m in r]
            for r in rows]


def test_scrub_frame_pairs_scrubs_message_contents():
    messages = [
        [{"role": "user", "content": f"my email is {EMAIL}"}, {"role": "assistant", "content": "noted"}],
        [],
        None,
        [{"role": "system", "content": None}, None, {"role": "user", "content": f"card {CARD}"}],
    ]
    df = pl.DataFrame(
        {
            "id": ["p1", "p2", "p3", "p4"],
            "prompt": [f"my email is {EMAIL}", "hi", None, f"card {CARD}"],
            "messages": pl.Series(messages, dtype=pl.List(MESSAGE)),
            "lang": ["en"] * 4,
        }
    )
    out, counts = scrub_frame(df, ["prompt", "messages"], PIIOptions())
    assert out.schema == df.schema and out["id"].to_list() == ["p1", "p2", "p3", "p4"]
    assert out["prompt"].to_list() == ["my email is <EMAIL_ADDRESS>", "hi", None, "card <CREDIT_CARD>"]
    assert out["messages"].to_list() == with_tool_fields([
        [{"role": "user", "content": "my email is <EMAIL_ADDRESS>"}, {"role": "assistant", "content": "noted"}],
        [],
        None,
        [{"role": "system", "content": None}, None, {"role": "user", "content": "card <CREDIT_CARD>"}],
    ])
    assert counts == Counter({"EMAIL_ADDRESS": 2, "CREDIT_CARD": 2})


def test_scrub_frame_sends_all_columns_in_one_batch(monkeypatch):
    calls = []
    scrubber = get_scrubber(PIIOptions())
    real = scrubber.scrub
    monkeypatch.setattr(scrubber, "scrub", lambda texts, **kw: calls.append(len(texts)) or real(texts, **kw))
    df = pl.DataFrame(
        {
            "prompt": ["a", "b"],
            "response": ["c", "d"],
            "messages": pl.Series([[{"role": "user", "content": "a"}], []], dtype=pl.List(MESSAGE)),
        }
    )
    scrub_frame(df, ["prompt", "response", "messages"], PIIOptions())
    assert calls == [5]


def test_scrub_frame_rejects_non_text_column():
    with pytest.raises(TypeError, match="n"):
        scrub_frame(pl.DataFrame({"n": [1]}), ["n"], PIIOptions())


def test_scrub_frame_many_rows_round_trip():
    # ragged lists, empties, nulls and null contents over many rows: every message stays in its row and slot
    rows = []
    for i in range(2000):
        k = i % 6
        rows.append(
            None
            if k == 5
            else [{"role": "user", "content": None if j == 2 else f"r{i} m{j} u{i}.{j}@example.com"} for j in range(k)]
        )
    df = pl.DataFrame({"i": range(2000), "messages": pl.Series(rows, dtype=pl.List(MESSAGE))})
    out, counts = scrub_frame(df, ["messages"], PIIOptions(entities=["EMAIL_ADDRESS"]))
    expected = [
        None
        if r is None
        else [{**m, "content": m["content"] and m["content"].split(" u")[0] + " <EMAIL_ADDRESS>"} for m in r]
        for r in rows
    ]
    assert out["i"].to_list() == list(range(2000))
    assert out["messages"].to_list() == with_tool_fields(expected)
    assert counts["EMAIL_ADDRESS"] == sum(1 for r in rows if r for m in r if m["content"])


def test_the_stage_scrubs_page_titles_too(tmp_path):
    from pairforge.tasks.core.schema import conform
    from pairforge.tasks.core.shards import Shard, write_stage

    df = conform(pl.DataFrame({"id": ["d1"], "doc_id": ["d1"], "source": ["web"], "license": ["MIT"], "lang": ["en"],
                               "text": ["Margaret Okonkwo opened the bakery in 2019."],
                               "title": ["An interview with Margaret Okonkwo"]}), "documents")
    shard = write_stage(df, str(tmp_path), "normalize", Shard("documents", "web-00000-00000", "", 0))
    res = pii_stage.scrub_shard.fn(shard, PIIOptions(), str(tmp_path))
    row, found = res.shard.read().row(0, named=True), res.pii
    assert "Okonkwo" not in row["text"] and "Okonkwo" not in row["title"]
    assert row["title"].startswith("An interview with <PERSON>") and found["PERSON"] >= 2


def _pii_corpus_shard(tmp_path, n: int):
    """Documents of the shared PII-labelled sentences, three per document (so several share a document)."""
    import json

    from pairforge.tasks.core.schema import conform
    from pairforge.tasks.core.shards import Shard, write_stage
    from tests.conftest import CORPORA

    sentences = [r["full_text"] for r in json.loads((CORPORA / "pii" / "generated_small.json").read_text())]
    texts = [" ".join(sentences[i:i + 3]) for i in range(0, 3 * n, 3)]
    df = conform(pl.DataFrame({"id": [f"d{i}" for i in range(n)], "doc_id": [f"d{i}" for i in range(n)],
                               "source": ["pii"] * n, "license": ["MIT"] * n, "lang": ["en"] * n, "text": texts,
                               "title": [None] * n}), "documents")
    return write_stage(df, str(tmp_path / "in"), "normalize", Shard("documents", "pii-00000-00000", "", 0))


def test_a_stage_stopped_mid_shard_resumes_after_its_last_finished_batch(tmp_path, monkeypatch):
    shard = _pii_corpus_shard(tmp_path, 60)
    opts = PIIOptions(operator="pseudonym", checkpoint_rows=25)
    whole = pii.scrub_frame(shard.read(), ["text", "title"], opts)  # the shard in one go, for comparison
    real, calls = pii.scrub_frame, []

    def dies_on_the_third_batch(df, columns, options):
        calls.append(len(df))
        if len(calls) == 3:
            raise KeyboardInterrupt  # the run is stopped in the middle of the shard
        return real(df, columns, options)

    monkeypatch.setattr(pii_stage, "scrub_frame", dies_on_the_third_batch)
    work = str(tmp_path / "work")
    with pytest.raises(KeyboardInterrupt):
        pii_stage.scrub_shard.fn(shard, opts, work)
    calls.clear()
    res = pii_stage.scrub_shard.fn(shard, opts, work)  # the rerun
    assert calls == [10]  # only the unfinished batch (rows 50-59) is scrubbed again
    assert res.reused == 50 and res.shard.read().equals(whole[0]) and res.pii == dict(whole[1])
    assert not (tmp_path / "work" / "pii-batches" / "documents").exists() or not any(
        (tmp_path / "work" / "pii-batches" / "documents").iterdir())  # the batches go once the shard is written
    from pairforge.tasks.core.report import RunReport, StageRun

    report = RunReport("d", "v")
    report.add(StageRun("pii", [res.shard], results=[res]))
    assert report.reused == {"pii": 50} and "| pii | 50 |" in report.markdown()


def test_batches_give_the_same_result_as_the_whole_shard(tmp_path):
    """Scrubbing is per document (pseudonym numbering, the second pass), so checkpoint batches change nothing."""
    shard = _pii_corpus_shard(tmp_path, 120)
    for operator in ("replace", "pseudonym"):
        scrub = pii_stage.scrub_shard.fn
        whole = scrub(shard, PIIOptions(operator=operator, checkpoint_rows=1000), str(tmp_path / "a"))
        batched = scrub(shard, PIIOptions(operator=operator, checkpoint_rows=7), str(tmp_path / "b"))
        assert batched.shard.read().equals(whole.shard.read()) and batched.pii == whole.pii and whole.pii
        assert whole.reused == batched.reused == 0


def test_batches_are_bounded_by_rows_and_characters():
    df = pl.DataFrame({"text": ["a" * 10, "b" * 10, "c" * 50, "d" * 5, "e" * 5, "f" * 5],
                       "messages": [[{"role": "user", "content": "x" * 3}]] * 6},
                      schema={"text": pl.String, "messages": pl.List(MESSAGE)})
    # 13 characters per row but row 2 (53): a row longer than the bound is a batch of its own
    assert pii_stage.batches(df, ["text", "messages"], max_rows=10, max_chars=30) == [(0, 2), (2, 1), (3, 3)]
    assert pii_stage.batches(df, ["text", "messages"], max_rows=2, max_chars=1000) == [(0, 2), (2, 2), (4, 2)]
    assert pii_stage.batches(df.head(0), ["text"], 10, 10) == []


def test_character_bounded_batches_give_the_same_result(tmp_path):
    shard = _pii_corpus_shard(tmp_path, 40)
    whole = pii_stage.scrub_shard.fn(shard, PIIOptions(operator="pseudonym"), str(tmp_path / "a"))
    small = pii_stage.scrub_shard.fn(shard, PIIOptions(operator="pseudonym", checkpoint_chars=1000),
                                     str(tmp_path / "b"))
    assert small.shard.read().equals(whole.shard.read()) and small.pii == whole.pii


def test_worker_processes_give_the_same_result_and_end_with_the_stage(tmp_path):
    """The PII stage's process pool (tasks/core/pool.py): batches scrubbed in two spawned workers, each with its own
    scrubber, equal the in-process result; the workers run elsewhere and are gone when the stage ends."""
    import os

    from pairforge.tasks.core import pool

    shard = _pii_corpus_shard(tmp_path, 90)
    opts = PIIOptions(operator="pseudonym", checkpoint_rows=10)
    alone = pii_stage.scrub_shard.fn(shard, opts, str(tmp_path / "a"))
    with pool.cpu_pool(2, warm=(pii.get_scrubber, (opts,))) as workers:
        assert pool.current() is workers
        pids = {workers.submit(os.getpid).result() for _ in range(8)}
        processes = list(workers._processes.values())
        pooled = pii_stage.scrub_shard.fn(shard, opts, str(tmp_path / "b"))
    assert pool.current() is None and os.getpid() not in pids and len(pids) <= 2
    assert all(_exits(p.pid) for p in processes)
    assert pooled.shard.read().equals(alone.shard.read()) and pooled.pii == alone.pii and alone.pii


def _exits(pid: int, timeout_s: float = 20.0) -> bool:
    """Has the process ended (gone, or a zombie not reaped yet) within the timeout? Read from /proc, not from
    multiprocessing's handle: another waitpid in the test process can reap it first, and then the handle never
    learns that it ended."""
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            stat = open(f"/proc/{pid}/stat").read()
        except FileNotFoundError:
            return True
        if stat[stat.rindex(")") + 2] in "ZX":
            return True
        time.sleep(0.1)
    return False


def test_processes_follow_the_options_the_rows_and_the_runner():
    from pairforge.tasks.core.pool import usable_cores

    auto = PIIOptions()
    assert pii_stage.scrub_processes(auto, 10_000, "threads") == usable_cores()
    assert pii_stage.scrub_processes(auto, auto.processes_from_rows - 1, "threads") == 1  # a small stage: in-process
    assert pii_stage.scrub_processes(auto, 10_000, "dask") == 1  # Dask's workers are processes already
    assert pii_stage.scrub_processes(PIIOptions(processes=3), 5, "threads") == 3
    with pytest.raises(ValueError):
        PIIOptions(processes=0)


def test_workers_never_run_the_callers_script_again(tmp_path):
    """Spawned workers import pairforge only: a user's script without a `__main__` guard runs once."""
    import subprocess
    import sys

    script = tmp_path / "no_guard.py"
    script.write_text(
        "import os\n"
        "from pairforge.tasks.core.pool import cpu_pool\n"
        "print('top level ran', flush=True)\n"
        "with cpu_pool(2) as workers:\n"
        "    pids = {workers.submit(os.getpid).result() for _ in range(4)}\n"
        "print('workers', len(pids), os.getpid() in pids)\n")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("top level ran") == 1 and "workers" in out.stdout and "True" not in out.stdout


def test_pii_inside_tool_call_arguments_and_tool_results_is_scrubbed(tmp_path):
    import json

    import orjson

    from pairforge.tasks.core.recipe import Source
    from pairforge.tasks.ingest.sources import read_source_file
    from pairforge.tasks.publish.training_formats import to_openai
    from tests.ingest.helpers import TOOL_RECORDS

    f = tmp_path / "tools.jsonl"
    f.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in TOOL_RECORDS))
    pairs = read_source_file(Source(name="t", uri=str(f), format="openai", license="MIT"), str(f), "en").rows
    pairs = pairs.with_columns(pl.col("messages").list.eval(pl.element().struct.with_fields(  # a name in a result
        pl.field("content").str.replace('"cloudy"', '"cloudy, ask Jane Doe"'))))
    out, counts = scrub_frame(pairs, ["prompt", "messages"], PIIOptions(entities=["EMAIL_ADDRESS", "PERSON"]))
    assert out.schema == pairs.schema and out["id"].to_list() == pairs["id"].to_list()
    text = to_openai(out).decode()
    assert "jane.doe@example.com" not in text and "Jane Doe" not in text
    first = json.loads(text.splitlines()[0])
    args = json.loads(first["messages"][2]["tool_calls"][0]["function"]["arguments"])
    assert args == {"city": "Paris", "notify": "<EMAIL_ADDRESS>"}  # keys and other values kept, still JSON
    assert first["messages"][3]["content"] == '{"temp_c": 18, "sky": "cloudy, ask <PERSON>"}'
    assert counts["EMAIL_ADDRESS"] == 3 and counts["PERSON"] >= 3  # prompt column, user turn, call / result
    # calls without personal data keep their exact text
    assert text.splitlines()[1:] == to_openai(pairs).decode().splitlines()[1:]

    # `pairforge scrub` on a JSONL file of OpenAI records does the same
    data, counts = pii.scrub_jsonl(f.read_bytes(), ["messages"], PIIOptions(entities=["EMAIL_ADDRESS"]))
    record = json.loads(data.splitlines()[0])
    assert json.loads(record["messages"][2]["tool_calls"][0]["function"]["arguments"])["notify"] == "<EMAIL_ADDRESS>"
    assert counts["EMAIL_ADDRESS"] == 2 and record["tools"] == TOOL_RECORDS[0]["tools"]


def test_the_scrubbing_module_imports_no_prefect():
    """The PII stage's worker processes import pii.py: keeping Prefect out of it saves each worker ~65 MB and its
    import time (the stage's task lives in pii_stage.py)."""
    import subprocess
    import sys

    code = "import sys, pairforge.tasks.privacy.pii; print(sorted(m for m in sys.modules if m.startswith('prefect')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_flow_imports_no_presidio_or_spacy_until_a_scrubber_is_built():
    """The run's process imports the flow, the stage and the scrubbing module; when the stage scrubs in worker
    processes, it never builds a scrubber, so it should not carry Presidio and spaCy (~80 MB, ~0.9 s of imports)."""
    import subprocess
    import sys

    code = ("import sys, pairforge.flows.build, pairforge.flows.cli, pairforge.tasks.privacy.pii_stage; "
            "from pairforge.tasks.privacy.recognizers import casing, lexicon; "
            "print(sorted(m for m in ('spacy', 'presidio_analyzer', 'thinc') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_scrubbers_models_multiply_with_openblas_and_find_the_same_entities():
    """The scrubber builds its spaCy models with numpy (OpenBLAS, one thread) instead of thinc's BLIS (portable C on
    CPUs BLIS does not know): every layer of the English NER uses those ops, the process's BLAS runs one thread, the
    caller's thinc ops are left as they were, and the model finds the same entities on real news articles as the one
    spaCy builds by default."""
    import spacy
    from thinc.api import get_current_ops
    from threadpoolctl import threadpool_info

    from tests.conftest import DEMO

    nlp = get_scrubber(PIIOptions())._ner("en")
    # (but the output layer, made when the weights load: the parser's own Cython loop multiplies through BLIS)
    assert all(not node.ops.use_blis for node in nlp.get_pipe("ner").model.walk() if node.name != "linear")
    assert {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"} == {1}
    assert get_current_ops().use_blis  # the ops outside the scrubber's models
    default = spacy.load(pii.MODEL_NAME, disable=pii.Scrubber._unneeded_pipes(nlp, True))
    assert any(node.ops.use_blis for node in default.get_pipe("ner").model.walk())
    articles = (DEMO / "data" / "news.txt").read_text().splitlines()
    ents = [[(e.start_char, e.end_char, e.label_) for e in d.ents] for d in nlp.pipe(articles)]
    assert ents == [[(e.start_char, e.end_char, e.label_) for e in d.ents] for d in default.pipe(articles)]
    assert sum(map(len, ents)) > 500
