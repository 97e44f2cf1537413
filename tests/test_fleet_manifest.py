"""The Kubernetes Indexed Job manifest of docs/fleets.md is a valid Job (kubernetes-validate, strict) and
sets what the guide says: Indexed completions, per-index retries, a failure bound, the shard count."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from support.projects import REPO_ROOT

MANIFEST = REPO_ROOT / "docs" / "fleet-indexed-job.yaml"


def _job() -> dict[str, Any]:
    loaded = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_the_manifest_is_a_valid_job_for_kubernetes() -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    version = kubernetes_validate.latest_version()
    kubernetes_validate.validate(_job(), version, strict=True)  # raises ValidationError when wrong


def test_the_manifest_shards_as_the_guide_says() -> None:
    spec = _job()["spec"]
    assert spec["completionMode"] == "Indexed"
    assert spec["backoffLimitPerIndex"] >= 1 and spec["maxFailedIndexes"] >= 1
    assert 1 <= spec["parallelism"] <= spec["completions"]
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"  # backoffLimitPerIndex requires it
    container = pod["containers"][0]
    env = {item["name"]: item for item in container["env"]}
    assert env["MEMSTACK_SHARD_COUNT"]["value"] == str(spec["completions"])
    assert "migrate" in container["command"] and "--shard" not in container["command"]  # from the index


def test_the_manifest_is_linked_from_the_guide() -> None:
    assert MANIFEST.name in (REPO_ROOT / "docs" / "fleets.md").read_text(encoding="utf-8")
