"""The stack's one-replica load rule (its one historical cannot hold Druid's default of 2),
set against a coordinator that answers like a fresh one: not leader yet at first."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from ingest_pipeline.stack import base
from ingest_pipeline.stack import druid as druid_module
from ingest_pipeline.stack.druid import SINGLE_REPLICA_RULES, DruidService, keep_one_replica
from ingest_pipeline.stack.settings import StackSettings

DEFAULT_RULES = [{"type": "loadForever", "tieredReplicants": {"_default_tier": 2}}]


def coordinator(tmp_path: Path) -> DruidService:
    settings = StackSettings(stack_dir=tmp_path / "stack", postgres_port=1, s3_port=2)
    return DruidService(settings, "coordinator-overlord")


def fake_coordinator(
    monkeypatch: pytest.MonkeyPatch, answers_before_leader: int, rules: list[dict]
) -> list[object]:
    """httpx.get/post as a coordinator would answer; the POSTed rule bodies, returned."""
    posted: list[object] = []
    asked = [0]

    def get(url: str, **kwargs: object) -> httpx.Response:
        asked[0] += 1
        request = httpx.Request("GET", url)
        if asked[0] <= answers_before_leader:
            return httpx.Response(503, text="No valid leader", request=request)
        return httpx.Response(200, json={"_default": rules}, request=request)

    def post(url: str, json: list[dict], **kwargs: object) -> httpx.Response:
        assert url.endswith("/druid/coordinator/v1/rules/_default")
        posted.append(json)
        rules[:] = json
        return httpx.Response(200, request=httpx.Request("POST", url))

    monkeypatch.setattr(druid_module.httpx, "get", get)
    monkeypatch.setattr(druid_module.httpx, "post", post)
    monkeypatch.setattr(base.time, "sleep", lambda seconds: None)
    return posted


def test_the_rule_is_set_once_the_coordinator_leads_and_read_back(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    posted = fake_coordinator(monkeypatch, answers_before_leader=2, rules=list(DEFAULT_RULES))
    assert keep_one_replica(coordinator(tmp_path), timeout=30) is True
    assert posted == [SINGLE_REPLICA_RULES]


def test_a_rule_already_set_is_left_alone(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    posted = fake_coordinator(monkeypatch, answers_before_leader=0, rules=SINGLE_REPLICA_RULES)
    assert keep_one_replica(coordinator(tmp_path), timeout=30) is False
    assert posted == []
