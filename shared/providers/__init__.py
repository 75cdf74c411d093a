"""Delivery providers, one per channel, behind the `Provider` interface: mock, SES and SNS."""

from shared.providers.base import Provider, Receipt
from shared.providers.mock import MockProvider, MockSettings, mock_provider
from shared.providers.ses import SesEmailProvider
from shared.providers.sns import SnsPushProvider, SnsSmsProvider

__all__ = [
    "MockProvider", "MockSettings", "Provider", "Receipt", "SesEmailProvider", "SnsPushProvider", "SnsSmsProvider",
    "mock_provider",
]
