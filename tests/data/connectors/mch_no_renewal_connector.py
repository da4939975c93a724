"""A defective maternal-child connector planted for hih's own runner tests: it never logs in again when the platform
says the session has expired."""

from __future__ import annotations

from typing import Any

from connectors.mch_platform import MchPlatformConnector
from harness.ports.mch_platform import MchSettings, Refused


class NoRenewal(MchPlatformConnector):
    def _renew_session(self) -> None:
        raise Refused("Client.Auth", "session expired")


def make(settings: MchSettings) -> Any:
    return NoRenewal(settings)
