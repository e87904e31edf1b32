"""Errors raised by the AWS half of AMI mirroring.

Every message is written for the person reading CI output: it names the account, region and image
involved and says how to fix the problem. No message ever contains credentials.
"""

from __future__ import annotations


class AwsMirrorError(Exception):
    """Base class for all errors of `artifact_mirrors.aws`."""


class InvalidRegionError(AwsMirrorError, ValueError):
    """A region, partition, account id or organization ARN is not valid here."""


class AmiResolveError(AwsMirrorError):
    """A release's AMI cannot be resolved unambiguously from the first-party account."""


class AmiNotFoundError(AmiResolveError):
    """No AMI carries the release's tags."""


class AmbiguousAmiError(AmiResolveError):
    """More than one AMI carries the release's tags."""


class WrongArchitectureError(AmiResolveError):
    """The Architecture tag disagrees with the image's real Architecture attribute."""


class PublicSharingBlockedError(AwsMirrorError):
    """Image block public access forbids making an AMI public in a region."""


class TransferError(AwsMirrorError):
    """A cross-partition transfer step failed."""


class StoreRestoreLimitError(TransferError):
    """An AMI cannot go through CreateStoreImageTask / CreateRestoreImageTask (documented limit)."""


class TransferTimeoutError(TransferError):
    """A store task, restore or copy did not finish within the configured timeout."""


class ChecksumMismatchError(TransferError):
    """Bytes written to the destination do not match the bytes read from the source."""
