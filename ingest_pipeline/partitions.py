"""One dynamic partition per uploaded object: "<dataset>/<file>" under the uploads prefix."""

from __future__ import annotations

import dagster as dg

upload_partitions = dg.DynamicPartitionsDefinition(name="uploads")


def split_partition_key(partition_key: str) -> tuple[str, str]:
    """ "<dataset>/<file>" -> (dataset, file); the dataset names the Druid datasource."""
    dataset, _, name = partition_key.partition("/")
    if not dataset or not name:
        raise ValueError(
            f"upload {partition_key!r} is not under a dataset folder: upload it as "
            "<uploads prefix>/<dataset>/<file>"
        )
    return dataset, name
