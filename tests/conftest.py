"""Shared fixtures: a real instance on disk with the mini map, a CLI runner."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
MINI_MAP = DATA / "mini_map.yaml"
SAMPLE_MAP = ROOT / "indicator_map.yaml"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def instance_dir(tmp_path) -> Path:
    return tmp_path / "instance"


@pytest.fixture
def instance(instance_dir):
    """An initialised instance with tests/data/mini_map.yaml loaded."""
    from archive.core.instance import Instance
    from archive.maps.loading import load_map_into

    inst = Instance(instance_dir)
    inst.create()
    load_map_into(inst, MINI_MAP, user="test")
    yield inst
    inst.close()
