"""Command-line paths (files, folders, globs) -> what to upload where. Pure: no S3, no Dagster."""

from __future__ import annotations

import glob
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


class PathError(ValueError):
    """A path the command line cannot upload, with what to do instead."""


@dataclass(frozen=True)
class UploadItem:
    """One local file and the upload it becomes: s3://<bucket>/<prefix><dataset>/<name>."""

    local: Path
    dataset: str
    name: str  # may hold '/' for files in subfolders of an uploaded folder

    @property
    def partition(self) -> str:
        """The Dagster partition key (and object key below the uploads prefix)."""
        return f"{self.dataset}/{self.name}"


def has_glob(text: str) -> bool:
    return any(char in text for char in "*?[")


def expand_upload_paths(
    paths: Sequence[str | Path], dataset: str | None = None, name: str | None = None
) -> list[UploadItem]:
    """Files as they are, folders recursively, globs expanded (`**` recurses).

    The dataset is `dataset` when given; a folder without it names the dataset after itself
    (its files keep their path below it: `sales/2024/jan.csv` -> dataset `sales`, name
    `2024/jan.csv`). A file or glob match outside an uploaded folder needs `dataset`.
    `name` renames a single file.
    """
    items: list[UploadItem] = []
    for raw in paths:
        text = str(raw)
        if has_glob(text):
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                raise PathError(f"{text}: no file matches this pattern")
            for match in matches:
                path = Path(match)
                if path.is_file():
                    items.append(file_item(path, dataset, None, text))
                elif path.is_dir() and "**" not in text:  # ** lists the files themselves
                    items.extend(folder_items(path, dataset))
            continue
        path = Path(text)
        if path.is_dir():
            items.extend(folder_items(path, dataset))
        elif path.is_file():
            items.append(file_item(path, dataset, None, text))
        else:
            raise PathError(f"{text}: no such file or folder")
    if name is not None:
        if len(items) != 1:
            raise PathError(f"--name renames one file, but {len(items)} files were given")
        items = [UploadItem(items[0].local, items[0].dataset, name)]
    seen: dict[str, Path] = {}
    unique = []
    for item in items:
        first = seen.setdefault(item.partition, item.local)
        if first.resolve() != item.local.resolve():
            raise PathError(
                f"{first} and {item.local} would both be uploaded as {item.partition}: "
                "upload them separately with different --dataset or --name"
            )
        if first is item.local:  # the same file named twice (a folder and a glob) goes once
            unique.append(item)
    if not unique:
        raise PathError("no files to upload (the folders given are empty)")
    return unique


def file_item(path: Path, dataset: str | None, name: str | None, given: str) -> UploadItem:
    if not dataset:
        raise PathError(
            f"{given}: a file needs --dataset (the Druid datasource), or upload its folder "
            "to name the dataset after the folder"
        )
    return UploadItem(path, check_dataset(dataset, given), name or path.name)


def folder_items(folder: Path, dataset: str | None) -> list[UploadItem]:
    folder_name = folder.resolve().name
    chosen = check_dataset(dataset or folder_name, str(folder))
    return [
        UploadItem(path, chosen, path.relative_to(folder).as_posix())
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    ]


def check_dataset(dataset: str, given: str) -> str:
    if "/" in dataset or not dataset.strip() or dataset in (".", ".."):
        raise PathError(f"{given}: {dataset!r} cannot be a dataset name; pass --dataset NAME")
    return dataset
