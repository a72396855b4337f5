"""What every pairforge recognizer shares: the `Recognizer` base class and two small helpers.

A recognizer declares the entity it finds (`ENTITY`), its name in Presidio's results (`NAME`), the Presidio
predefined recognizers it stands in for (`REPLACES`, class names) and whether its findings join the analyzer's after
Presidio's own duplicate removal (`AFTER_ANALYZER`); it implements `analyze(text, entities, nlp_artifacts)`.
Every recognizer is built the same way, `cls(lexicon, language)`, so the scrubber needs to know nothing about it.

Context is judged by each recognizer itself (words on the same line, before or after the value), so results are
marked as already context-enhanced and Presidio's generic enhancer leaves them alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from presidio_analyzer import EntityRecognizer, RecognizerResult

if TYPE_CHECKING:
    from pairforge.tasks.privacy.recognizers.lexicon import Lexicon

ENHANCED = RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY


class Recognizer(EntityRecognizer):
    """A Presidio `EntityRecognizer` for one entity type, usable in any AnalyzerEngine."""

    ENTITY: ClassVar[str]  # the entity type it finds; the scrubber builds it only when that entity is wanted
    NAME: ClassVar[str]  # recognizer name in Presidio's results
    REPLACES: ClassVar[tuple[str, ...]] = ()  # Presidio predefined recognizers (class names) left out for this one
    AFTER_ANALYZER: ClassVar[bool] = False  # run on each text after the AnalyzerEngine (its results skip Presidio's
    # duplicate removal and go straight to pairforge's overlap resolution)

    def __init__(self, lexicon: Lexicon | None = None, supported_language: str = "en"):
        super().__init__(supported_entities=[self.ENTITY], name=self.NAME, supported_language=supported_language)
        self.lex = lexicon  # census names and the English dictionary (recognizers that need words read it)

    def load(self) -> None:
        pass

    def result(self, start: int, end: int, score: float) -> RecognizerResult:
        return result(self.ENTITY, start, end, score, self.name)


def result(entity: str, start: int, end: int, score: float, name: str) -> RecognizerResult:
    return RecognizerResult(entity, start, end, score, recognition_metadata={
        ENHANCED: True, RecognizerResult.RECOGNIZER_NAME_KEY: name})  # fmt: skip


def line_around(text: str, start: int, end: int, before: int = 40, after: int = 25) -> tuple[str, str]:
    """(text before, text after) the span, within its line(s) and a few characters; lower case."""
    a = text.rfind("\n", 0, max(0, start - 1))
    lo = max(a + 1 if a >= 0 else 0, start - before)
    if start - lo < 8 and a > 0:  # the value opens a line: the label may be on the line above ("Phone:\n...")
        lo = max(0, start - before)
    b = text.find("\n", end)
    hi = min(b if b >= 0 else len(text), end + after)
    return text[lo:start].lower(), text[end:hi].lower()
