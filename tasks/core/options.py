"""The base of every recipe section: unknown keys are errors, and assignments (overrides) are validated.

It lives apart from `recipe.py` so a stage module can define its own recipe section (see `tasks.core.stages`)
without importing the recipe, which imports the registered stages' options."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)
