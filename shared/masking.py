"""Masking of recipients for logs: personal data never leaves the job document whole."""

from __future__ import annotations


def mask_recipient(recipient: str) -> str:
    """`alice@example.com` -> `a***@example.com`; `+2348012345678` -> `+234******678`."""
    if "@" in recipient:
        local, _, domain = recipient.rpartition("@")
        return f"{local[:1]}***@{domain}"
    if recipient.startswith("+") and len(recipient) > 7:
        return recipient[:4] + "*" * (len(recipient) - 7) + recipient[-3:]
    if len(recipient) > 8:
        return recipient[:4] + "***" + recipient[-2:]
    return "***"
