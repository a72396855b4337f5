"""The SFT, DPO and KTO exports through TRL's own dataset helpers (`trl.data_utils.is_conversational`,
`maybe_apply_chat_template`) with a target tokenizer, as a trainer would use them (issue 17). TRL runs in
.venv-trl (`make trl`, part of `make test`): see tests/publish/trl_check.py."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import polars as pl
import pytest

from pairforge.tasks.publish.training_formats import render
from tests.publish.test_formats import chat_pairs, tool_pairs  # noqa: F401 - fixtures
from tests.publish.test_preference_formats import frame as preference_frame

ROOT = Path(__file__).resolve().parents[2]
TRL_PYTHON = ROOT / ".venv-trl" / "bin" / "python"
# the target model's chat template: ChatML with tool turns (the GGUF's own template has none)
TOOLS_TEMPLATE = ROOT / "tests" / "data" / "chat_templates" / "chatml_tools.jinja"


def trl_check(tmp_path: Path, files: dict[str, list[Path]], tokenizer, template: Path = TOOLS_TEMPLATE) -> dict:
    """TRL's helpers on exported files (format -> its files, loaded together as one dataset); see trl_check.py."""
    assert TRL_PYTHON.exists(), f"{TRL_PYTHON} is missing: `make trl` (or `make test`) installs it"
    spec = {"files": {fmt: [str(p) for p in paths] for fmt, paths in files.items()}, "tokenizer": str(tokenizer.path),
            "template": str(template), "cache": str(tmp_path / "hf-cache")}
    done = subprocess.run([str(TRL_PYTHON), str(ROOT / "tests" / "publish" / "trl_check.py"), json.dumps(spec)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


def run_trl(tmp_path: Path, frames: dict[str, pl.DataFrame], tokenizer) -> dict:
    files = {}
    for fmt, df in frames.items():
        path = tmp_path / f"{fmt}.jsonl"
        path.write_bytes(render(fmt, df))
        files[fmt] = [path]
    return trl_check(tmp_path, files, tokenizer)


@pytest.fixture(scope="module")
def trl_results(tmp_path_factory, tool_pairs, chat_pairs, tokenizer_json) -> dict:  # noqa: F811
    sft = pl.concat([tool_pairs, chat_pairs], how="diagonal_relaxed")
    prefs = preference_frame()
    return run_trl(tmp_path_factory.mktemp("trl"), {"trl-sft": sft, "trl-dpo": prefs, "trl-kto": prefs},
                   tokenizer_json)


def test_trl_sft_rows_are_conversational_and_render_every_turn(trl_results, tool_pairs, chat_pairs):  # noqa: F811
    got = trl_results["trl-sft"]
    assert got["rows"] == tool_pairs.height + chat_pairs.height and "messages" in got["columns"]
    for example, messages in zip(got["examples"], [*tool_pairs["messages"], *chat_pairs["messages"]], strict=True):
        assert example["conversational"]
        text = example["applied"]["text"]
        # maybe_apply_chat_template renders the conversation exactly as the tokenizer's template does
        assert text == example["rendered"][0]
        at = 0
        for m in messages:
            if m["content"]:
                at = text.index(m["content"], at)  # every turn's content, in order
            for call in json.loads(m["tool_calls"] or "[]"):  # and every call, with its arguments as an object
                at = text.index(f'{{"name": "{call["function"]["name"]}", "arguments": {{', at)
    tool_texts = [e["applied"]["text"] for e in got["examples"][: tool_pairs.height]]
    assert sum("<tool_call>" in t for t in tool_texts) >= 2 and sum("<tools>" in t for t in tool_texts) >= 2


def test_trl_dpo_splits_prompt_and_completions_where_the_template_does(trl_results):
    got = trl_results["trl-dpo"]
    assert got["rows"] == 2 and set(got["columns"]) == {"prompt", "chosen", "rejected"}
    for example in got["examples"]:
        applied = example["applied"]
        assert example["conversational"] and set(applied) == {"prompt", "chosen", "rejected"}
        # TRL's invariant: prompt + completion is the whole conversation as the template renders it
        assert applied["prompt"] + applied["chosen"] == example["rendered"][0]
        assert applied["prompt"] + applied["rejected"] == example["rendered"][1]
        assert applied["chosen"] != applied["rejected"]
    assert "It is blue." in got["examples"][0]["applied"]["chosen"]
    assert "Green, obviously." in got["examples"][0]["applied"]["rejected"]


def test_trl_kto_keeps_labels_and_the_shared_prompt(trl_results):
    got = trl_results["trl-kto"]
    assert got["rows"] == 4 and set(got["columns"]) == {"prompt", "completion", "label"}
    labels = [e["applied"]["label"] for e in got["examples"]]
    assert labels == [True, False, True, False]
    for example in got["examples"]:
        applied = example["applied"]
        assert example["conversational"]
        assert applied["prompt"] + applied["completion"] == example["rendered"][0]
    # the desirable and undesirable completions of one prompt share its rendering
    assert got["examples"][0]["applied"]["prompt"] == got["examples"][1]["applied"]["prompt"]
