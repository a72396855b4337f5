"""The source formats: one registry of readers, one module per format family.

A reader implements only reading one file (`base.Reader`: `name`, `table`, `extensions`, `read(c, stream)`);
opening files, limits, chunking, provenance and quarantining are shared (`base.py`, `streams.py`,
`tasks/ingest/sources.py`). Everything that lists formats derives from FORMATS below: the recipe's
`format` choices and tables (DOCUMENT_FORMATS, PAIR_FORMATS, TABLE_FORMATS), the file endings a folder
source keeps, and the reader ingest calls.

Adding a format is one new module here with a `Reader` subclass, plus one line in FORMATS (and the module's
name in the import line below); its tests go to tests/ingest/readers/test_<module>.py.
"""

from __future__ import annotations

from pairforge.tasks.ingest.readers import pairs, pdf, preference, records, tables, text, web, wiki
from pairforge.tasks.ingest.readers.base import Reader

FORMATS: dict[str, Reader] = {r.name: r for r in (
    text.Text(),
    text.TextLines(),
    records.Jsonl(),
    tables.Csv(),
    tables.Parquet(),
    web.Html(),
    web.UrlList(),
    wiki.Wikipedia(),
    pdf.Pdf(),
    pairs.Alpaca(),
    pairs.Dolly(),
    pairs.ShareGPT(),
    pairs.OpenAI(),
    pairs.PromptCompletion(),
    pairs.SelfInstruct(),
    preference.Preference(),
)}

DOCUMENT_FORMATS = tuple(name for name, r in FORMATS.items() if r.table == "documents")
PAIR_FORMATS = tuple(name for name, r in FORMATS.items() if r.table == "pairs")
SOURCE_FORMATS = DOCUMENT_FORMATS + PAIR_FORMATS
# formats whose rows become pairs when `fields` maps prompt and response (annotator deliveries)
TABLE_FORMATS = tuple(name for name, r in FORMATS.items() if r.pairs_from_fields)
