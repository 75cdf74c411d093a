"""Delivery providers, one per channel, behind the `Provider` interface: mock, SES and SNS."""

from shared.providers.base import Provider, Receipt
from shared.providers.mock import MockProvider, mock_providers
from shared.providers.ses import SesEmailProvider
from shared.providers.sns import SnsPushProvider, SnsSmsProvider

__all__ = [
    "MockProvider", "Provider", "Receipt", "SesEmailProvider", "SnsPushProvider", "SnsSmsProvider",
    "mock_providers",
]
