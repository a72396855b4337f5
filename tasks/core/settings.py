"""Environment wiring in one place: `PAIRFORGE_*` variables (or a `.env` file) -> one settings object.

What belongs to a dataset lives in its recipe; what belongs to the machine or the deployment
(where runs execute, where failures are reported) lives here. Storage credentials and endpoints come
from the standard AWS variables and Prefect's own from `PREFECT_*`, so neither is repeated here.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAIRFORGE_", env_file=".env", extra="ignore")

    runner: Literal["threads", "dask"] = Field("threads", description="where mapped tasks run")
    dask_address: str | None = Field(None, description="an existing Dask scheduler; default: a local cluster")
    dask_workers: int = Field(2, ge=1, description="workers of the local Dask cluster")
    work_pool: str = Field("pairforge", description="Prefect work pool that `pairforge deploy` targets")
    webhook_url: str | None = Field(None, description="where failed, crashed or timed-out runs are reported")
    llm_concurrency_limit: int = Field(
        4, ge=1, description="global Prefect concurrency limit on LLM requests in flight, across runs"
    )


@lru_cache
def get_settings() -> Settings:
    return Settings()
