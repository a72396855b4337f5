"""Data files shipped with pairforge (a package so that wheels carry its *.json, see pyproject package-data)."""
