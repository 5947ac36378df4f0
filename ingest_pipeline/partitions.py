"""One dynamic partition per uploaded object: "<dataset>/<file>" under the uploads prefix."""

from __future__ import annotations

import dagster as dg

#: The dynamic partitions' name (their set is shared by name across code locations).
UPLOADS = "uploads"
upload_partitions = dg.DynamicPartitionsDefinition(name=UPLOADS)


def split_partition_key(partition_key: str) -> tuple[str, str]:
    """ "<dataset>/<file>" -> (dataset, file); the dataset names the Druid datasource."""
    dataset, _, name = partition_key.partition("/")
    if not dataset or not name:
        raise ValueError(
            f"upload {partition_key!r} is not under a dataset folder: upload it as "
            "<uploads prefix>/<dataset>/<file>"
        )
    return dataset, name
