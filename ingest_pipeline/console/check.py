"""`ingest-pipeline check FILE`: what the pipeline would do with a local file, without a stack.

The file goes through `validate_local_file`, the code `validated_frame` runs on a download,
with the dataset's settings from the same datasets.yaml; the WARN checks are the asset's own
(`checks.validation_check_results`). Only the datasource's columns need Druid: with a stack
reachable they are read as the asset reads them and the dataset's schema contract holds the
file to them; without one that is skipped and said so, everything else is decided here.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ingest_pipeline.console.check_report import (
    CheckedFile,
    CheckLine,
    check_json,
    check_lines,
    contract_lines,
)
from ingest_pipeline.console.failures import CommandError, one_line
from ingest_pipeline.console.paths import PathError
from ingest_pipeline.naming import InvalidDatasetName, validate_dataset_name

if TYPE_CHECKING:  # dagster loads in a second: imported when the command runs
    from ingest_pipeline.datasets import DatasetConfig
    from ingest_pipeline.records import UploadedObject, ValidatedUpload

#: The datasource's columns (name -> SQL type), or why they could not be read.
DatasourceColumns = Mapping[str, str] | str


def add_check_command(commands: argparse._SubParsersAction) -> None:
    check = commands.add_parser(
        "check",
        help="validate a local file as the pipeline would, without a stack: format, rows, "
        "time column and why, schema, checks; exit 1 if it would be rejected",
    )
    check.add_argument("file", type=Path)
    check.add_argument(
        "--dataset", help="dataset = Druid datasource name (default: the file's folder name)"
    )
    check.add_argument(
        "--datasets-config",
        type=Path,
        metavar="YAML",
        help="per-dataset settings (default: $INGEST_DATASETS_CONFIG, which the stack's env sets)",
    )
    check.add_argument("--json", action="store_true", help="the same facts as one JSON object")
    check.add_argument("--stack-dir", type=Path, default=None)
    check.set_defaults(func=cmd_check)


def cmd_check(args: argparse.Namespace) -> int:
    local = checked_path(args.file)
    dataset, dataset_from = checked_dataset(local, args.dataset)
    columns = datasource_columns(dataset, args.stack_dir)  # (reads the stack's env first)
    config, settings_from = dataset_settings(dataset, args.datasets_config)
    checked = check_file(local, str(args.file), dataset, config, columns)
    checked = replace(checked, dataset_from=dataset_from, settings_from=settings_from)
    if args.json:
        print(json.dumps(check_json(checked), indent=2, default=str))
    else:
        print("\n".join(check_lines(checked)))
    return 1 if checked.rejected else 0


def checked_path(given: Path) -> Path:
    if given.is_dir():
        raise PathError(f"{given}: a folder; `check` takes one file (a loop checks many)")
    if not given.is_file():
        raise PathError(f"{given}: no such file")
    return given


def checked_dataset(local: Path, given: str | None) -> tuple[str, str]:
    """The dataset named, else the folder's name (as `upload FOLDER` and the sensor see it)."""
    dataset, source = (given, "--dataset") if given else (local.resolve().parent.name, "")
    source = source or "the folder's name; --dataset names another"
    try:
        return validate_dataset_name(dataset), source
    except InvalidDatasetName as error:
        raise PathError(f"{local}: {error}" + ("" if given else "; pass --dataset NAME")) from None


def datasource_columns(datasource: str, stack_dir: Path | None) -> DatasourceColumns:
    """The datasource's columns as Druid's broker knows them ({} for a new datasource), or
    why they could not be read (no stack, Druid down)."""
    from ingest_pipeline.stack.settings import StackNotFound, use_stack_env

    try:
        use_stack_env(stack_dir)
    except StackNotFound as error:
        return one_line(str(error))
    import httpx

    from ingest_pipeline.console.clients import druid_client
    from ingest_pipeline.resources import SettingMissing
    from ingest_pipeline.resources.druid_wire import DruidError

    try:
        return druid_client().known_columns(datasource)
    except (SettingMissing, DruidError, httpx.HTTPError) as error:
        return one_line(str(error))


def dataset_settings(dataset: str, given: Path | None) -> tuple[DatasetConfig, str]:
    """The dataset's settings as the pipeline reads them (`PipelineSettings.dataset_config`),
    and where they come from."""
    from ingest_pipeline.datasets import load_dataset_configs
    from ingest_pipeline.resources import PIPELINE_FIELDS, resolved_env
    from ingest_pipeline.resources.environment import fields
    from ingest_pipeline.resources.settings import PipelineSettings

    settings = PipelineSettings(**fields(resolved_env, PIPELINE_FIELDS))
    if given is not None:
        settings = settings.model_copy(update={"datasets_config_path": str(given)})
    path = settings.datasets_config_path
    if not path:
        return settings.dataset_config(dataset), (
            "the defaults (no datasets.yaml: INGEST_DATASETS_CONFIG is unset; "
            "--datasets-config names one)"
        )
    try:
        config = settings.dataset_config(dataset)
        listed = dataset in load_dataset_configs(path)
    except (OSError, ValueError) as error:
        raise CommandError(f"{path}: {error}", "correct the datasets config") from None
    return config, f"{path} ({'its entry' if listed else 'not listed: the defaults'})"


def check_file(
    local: Path, shown: str, dataset: str, config: DatasetConfig, columns: DatasourceColumns
) -> CheckedFile:
    """Validate `local` as an upload to `dataset` would be; the checks on what it found."""
    from ingest_pipeline.file_validation import validate_local_file, validated_upload
    from ingest_pipeline.reading import detect_format
    from ingest_pipeline.records import ValidatedArtifacts
    from ingest_pipeline.validation.contract import dataset_schema_of
    from ingest_pipeline.vocabulary import FileRejected

    upload = local_upload(local, dataset)
    # as the asset does: the datasource's current columns, which the contract holds it to
    schema = dataset_schema_of(columns) if isinstance(columns, Mapping) else None
    checked = CheckedFile(shown, upload.key, dataset, "", "", None, None, None)
    with tempfile.TemporaryDirectory(prefix="check-") as workdir:
        try:
            validated = validate_local_file(
                local, upload.key, dataset, config, workdir, dataset_schema=schema
            )
        except FileRejected as rejection:
            try:
                file_format = detect_format(local, upload.key)
            except FileRejected:
                file_format = None
            problem, rows = rejection.as_problem(), rejection.rejected_rows
            contract = contract_lines(config, dataset, columns, None)
            return replace(checked, file_format=file_format, problem=problem,
                           rejected_rows=rows, contract=contract)  # fmt: skip
    not_stored = ValidatedArtifacts("(check: not stored)", "(check: not stored)", "")
    outcome = validated_upload(upload, validated.summary, not_stored)
    checks = file_checks(outcome, columns, config)
    contract = contract_lines(config, dataset, columns, outcome)
    return replace(checked, file_format=validated.format, outcome=outcome, checks=checks,
                   contract=contract)  # fmt: skip


def file_checks(
    outcome: ValidatedUpload, columns: DatasourceColumns, config: DatasetConfig
) -> tuple[CheckLine, ...]:
    """The asset's own WARN check results for the file (the schema check only with the
    datasource's columns to compare with)."""
    from ingest_pipeline.checks import (
        INGESTIBLE,
        SCHEMA_MATCHES_DATASOURCE,
        TIME_LIKE_COLUMNS_USED,
        validation_check_results,
    )

    reached = isinstance(columns, Mapping)
    skipped = {INGESTIBLE} | (set() if reached else {SCHEMA_MATCHES_DATASOURCE})
    # the check's description joins a sentence per unused column: each is listed on its own
    unused = tuple(u.message(outcome.upload.dataset) for u in outcome.time_facts.unused)
    lines = []
    existing = columns if isinstance(columns, Mapping) else {}
    for result in validation_check_results(outcome, existing, config.null_ratio_warn):
        name = result.check_name or ""
        if name not in skipped:
            details = unused if name == TIME_LIKE_COLUMNS_USED else ()
            lines.append(CheckLine(name, result.passed, result.description, details))
    return tuple(lines)


def local_upload(local: Path, dataset: str) -> UploadedObject:
    """The upload `upload FILE --dataset DATASET` would make of the file (no S3 is touched)."""
    from ingest_pipeline.file_kinds import guess_format
    from ingest_pipeline.records import ObjectInfo, UploadedObject
    from ingest_pipeline.resources import S3_FIELDS, resolved_env
    from ingest_pipeline.resources.environment import fields
    from ingest_pipeline.resources.s3 import S3Storage

    s3 = S3Storage(**fields(resolved_env, S3_FIELDS))
    key = s3.upload_key(f"{dataset}/{local.name}")
    stat = local.stat()
    modified = datetime.fromtimestamp(stat.st_mtime, UTC)
    info = ObjectInfo(s3.uploads_bucket, key, stat.st_size, "(local file)", modified)
    with local.open("rb") as handle:
        file_format, compression = guess_format(handle.read(8), key)
    return UploadedObject(dataset, local.name, info, file_format, compression)
