"""RecordsIOManager: the typed records the ingest graph's steps hand each other, as JSON in S3.

A step over a batch of files hands the next one a single record for all of them (RawFiles,
ValidationOutcomes, IngestionPlans). This IO manager stores it under
s3://<validated bucket>/handoff/<run id>/<step>/<output>.json, readable by a person, typed by
the output's annotation (pydantic), never a pickle; a re-execution of one step (the UI's
"re-execute from failure") loads its inputs from the run that produced them, as Dagster's own
IO managers do.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
from pydantic import TypeAdapter

from ingest_pipeline.resources.object_store import ObjectStore

HANDOFF_PREFIX = "handoff"


def handoff_key(run_id: str, step_key: str, output_name: str) -> str:
    return f"{HANDOFF_PREFIX}/{run_id}/{step_key}/{output_name}.json"


class RecordsIOManager(dg.ConfigurableIOManager):
    store: ObjectStore

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        adapter = _adapter(context.dagster_type.typing_type)
        key = handoff_key(context.run_id, context.step_key, context.name)
        uri = self.store.put_bytes(self.store.validated_bucket, key, adapter.dump_json(obj))
        context.add_output_metadata({"record": dg.MetadataValue.path(uri)})

    def load_input(self, context: dg.InputContext) -> Any:
        upstream = context.upstream_output
        assert upstream is not None and upstream.run_id is not None
        key = handoff_key(upstream.run_id, upstream.step_key, upstream.name)
        body = self.store.get_bytes(self.store.validated_bucket, key)
        if body is None:
            raise dg.Failure(
                description=f"the record s3://{self.store.validated_bucket}/{key} that step "
                f"{upstream.step_key} stored in run {upstream.run_id} is gone: re-run the whole "
                "ingest job for these files",
                allow_retries=False,  # it will not come back by itself
            )
        return _adapter(context.dagster_type.typing_type).validate_json(body)


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def _adapter(typing_type: Any) -> TypeAdapter[Any]:
    if typing_type not in _ADAPTERS:
        _ADAPTERS[typing_type] = TypeAdapter(typing_type)
    return _ADAPTERS[typing_type]
