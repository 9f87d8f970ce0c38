"""The errors the OTLP edge can answer with.

Each carries its HTTP status and a message written for the person who has to fix the
exporter, so the HTTP layer maps them to responses in one place and never invents wording.
"""

from __future__ import annotations


class IngestError(Exception):
    """Base of every error the ingest path reports to the sender."""

    status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DecodeError(IngestError):
    """The body is not a valid OTLP message in the declared format; retrying will not help."""

    status = 400


class Unauthorized(IngestError):
    """No usable ingest key; the exporter must send one in its headers."""

    status = 401


class ForeignOrigin(IngestError):
    """A browser page of another origin posted to the open (loopback) collector."""

    status = 403


class MisdirectedHost(IngestError):
    """Bound to loopback, a Host that is no local name: a DNS-rebinding page, not an exporter."""

    status = 421


class PayloadTooLarge(IngestError):
    """The (decompressed) body exceeds the configured limit; the exporter must send smaller batches."""

    status = 413


class UnsupportedMediaType(IngestError):
    """A Content-Type or Content-Encoding we cannot read."""

    status = 415


class Retryable(IngestError):
    """Nothing of the request was kept, for now; OTLP exporters retry 503 after `retry_after` seconds."""

    status = 503

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Overloaded(Retryable):
    """The ingest queue is full."""


class SpoolUnavailable(Retryable):
    """The request could not be made durable: the spool's disk is full or failing."""
