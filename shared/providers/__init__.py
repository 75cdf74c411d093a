"""Delivery providers, one per channel, behind the `Provider` interface."""

from shared.providers.base import Provider, Receipt
from shared.providers.mock import MockProvider, mock_providers

__all__ = ["MockProvider", "Provider", "Receipt", "mock_providers"]
