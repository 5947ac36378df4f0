"""The local stack's S3 server: SeaweedFS."""

SEAWEEDFS_VERSION = "v0.0.0-20261109003541-7506e5f91cd6"
