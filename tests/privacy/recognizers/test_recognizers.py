"""The recognizer registry (tasks/privacy/recognizers/__init__.py): every recognizer file is registered, the
scrubber builds exactly the registered ones for the wanted entities, and a new recognizer needs one file and one
registry line."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

from pairforge.tasks.core.recipe import PIIOptions
from pairforge.tasks.privacy import recognizers
from pairforge.tasks.privacy.pii import Scrubber
from pairforge.tasks.privacy.recognizers.base import Recognizer

HELPERS = {"base", "lexicon", "casing", "cues"}


def test_every_recognizer_module_is_registered_once_with_its_own_name():
    found = []
    for info in pkgutil.iter_modules(recognizers.__path__):
        module = importlib.import_module(f"{recognizers.__name__}.{info.name}")
        classes = [c for _, c in inspect.getmembers(module, inspect.isclass)
                   if issubclass(c, Recognizer) and c is not Recognizer and c.__module__ == module.__name__]
        assert bool(classes) != (info.name in HELPERS), info.name  # a recognizer file holds one; helpers none
        found += classes
    assert sorted(found, key=str) == sorted(recognizers.RECOGNIZERS, key=str)
    assert len({c.NAME for c in found}) == len(found)
    replaced = {"UsLicenseRecognizer", "PhoneRecognizer", "CreditCardRecognizer", "IbanRecognizer"}
    assert recognizers.replaced() == replaced


def test_build_picks_by_entity_in_registry_order():
    built = recognizers.build({"PERSON", "SECRET"}, None, "en")
    assert [type(r).__name__ for r in built] == ["SecretRecognizer", "PersonRulesRecognizer", "UsernameRecognizer"]
    assert all(r.supported_entities == [r.ENTITY] and r.supported_language == "en" for r in built)


def test_the_scrubber_runs_the_registered_recognizers_and_no_replaced_one():
    s = Scrubber(PIIOptions(entities=["PERSON", "US_DRIVER_LICENSE", "PHONE_NUMBER"]))
    names = {type(r).__name__ for r in s.analyzer.registry.recognizers}
    assert {"MultiRegionPhoneRecognizer", "DriverLicenseRecognizer"} <= names
    assert "UsLicenseRecognizer" not in names and "SecretRecognizer" not in names
    assert not names & {"PhoneRecognizer", "CreditCardRecognizer", "IbanRecognizer"}
    # the person rules join the NER model's names in pairforge's overlap resolution, after the analyzer
    assert [type(r).__name__ for r in s.after] == ["PersonRulesRecognizer", "UsernameRecognizer"]


class ShoeSizeRecognizer(Recognizer):
    ENTITY = "US_SSN"  # an entity the recipe accepts, so the test needs no recipe change
    NAME = "TestShoeSize"

    def analyze(self, text, entities, nlp_artifacts=None):
        i = text.find("size 44")
        return [self.result(i + 5, i + 7, 0.9)] if i >= 0 else []


def test_a_new_recognizer_is_one_class_and_one_registry_line(monkeypatch):
    monkeypatch.setattr(recognizers, "RECOGNIZERS", [*recognizers.RECOGNIZERS, ShoeSizeRecognizer])
    out, counts = Scrubber(PIIOptions(entities=["US_SSN"])).scrub(["shoes in size 44 please"])
    assert out == ["shoes in size <US_SSN> please"] and counts["US_SSN"] == 1
