"""Data files shipped with pairforge (a package so that wheels carry its *.json, see pyproject package-data)."""

from pathlib import Path

DATA = Path(__file__).parent
