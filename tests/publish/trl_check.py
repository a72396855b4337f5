"""Runs in .venv-trl (`make trl`), not in the test process: TRL's own dataset helpers on exported files.

    .venv-trl/bin/python tests/publish/trl_check.py '{"files": {"trl-sft": ["...jsonl", ...], ...},
                                                      "tokenizer": "tokenizer.json", "template": "chat.jinja"}'

Each format's files are loaded together with `datasets.load_dataset("json", ...)` as a trainer loads them; every
example goes through `trl.data_utils.is_conversational` and `maybe_apply_chat_template` with the target tokenizer (a
`PreTrainedTokenizerFast` over the tokenizer.json, its chat template from the file). Prints one JSON object:
per format, the column names, the number of rows, and per example whether TRL calls it conversational, what
`maybe_apply_chat_template` made of it, and the whole conversation rendered by the tokenizer's own
`apply_chat_template` (so the test can check TRL's split of prompt and completion against it) with its token ids.
"""

from __future__ import annotations

import json
import sys


def main(spec: dict) -> dict:
    import datasets
    from transformers import PreTrainedTokenizerFast
    from trl.data_utils import is_conversational, maybe_apply_chat_template

    datasets.disable_progress_bars()
    with open(spec["template"], encoding="utf-8") as f:
        template = f.read()
    tok = PreTrainedTokenizerFast(tokenizer_file=spec["tokenizer"], chat_template=template)
    out = {}
    for fmt, path in spec["files"].items():
        ds = datasets.load_dataset("json", data_files=path, split="train", cache_dir=spec["cache"])
        examples = []
        for example in ds:
            tools = json.loads(example["tools"]) if example.get("tools") else None
            applied = maybe_apply_chat_template(example, tok, tools=tools)
            whole = None
            if "messages" in example:
                whole = [example["messages"]]
            elif "chosen" in example:
                whole = [example["prompt"] + example["chosen"], example["prompt"] + example["rejected"]]
            elif "completion" in example:
                whole = [example["prompt"] + example["completion"]]
            rendered = [tok.apply_chat_template(_clean(m), tokenize=False, tools=tools) for m in whole or []]
            examples.append({
                "conversational": is_conversational(example),
                "applied": {k: v for k, v in applied.items() if isinstance(v, (str, bool, int, float))},
                "rendered": rendered,
                "ids": [tok(r, add_special_tokens=False)["input_ids"] for r in rendered],
            })
        out[fmt] = {"columns": ds.column_names, "rows": ds.num_rows, "examples": examples}
    return out


def _clean(messages: list[dict]) -> list[dict]:
    """Messages without the keys `datasets` fills with None for other rows' fields."""
    return [{k: v for k, v in m.items() if v is not None} for m in messages]


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
