"""One real Label Studio server for the session (tasks/annotate/server.py): started from .venv-labelstudio
(`make test` installs it through `make labelstudio`) on a free loopback port, over a data dir of its own.

Start-up measured on this project's 2-core machines: 37-41 s for a new data dir (nearly all of it the database
migrations), 3.5-4.5 s for one that exists; the module's tests take about 100 s in all."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def label_studio_server(tmp_path_factory):
    """A running Label Studio (`Server`: url, token, data_dir, log_path, ...), stopped at the end of the session."""
    from pairforge.tasks.annotate.server import label_studio

    with label_studio(tmp_path_factory.mktemp("label-studio")) as server:
        yield server


@pytest.fixture(scope="session")
def label_studio_client(label_studio_server):
    """`tasks.annotate.client.LabelStudio` as the server's admin."""
    return label_studio_server.client()
