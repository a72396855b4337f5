"""pairforge's steps, by family: core (recipe, storage, shards, stages), ingest, curate, privacy, pairs, publish."""

from pathlib import Path

# The folder holding tasks/ and flows/: the checkout (with expectations/ and the lock files) in a source or
# editable install.
SOURCE_ROOT = Path(__file__).resolve().parents[1]
