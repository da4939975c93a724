"""The regional blood centre's partner mock: rules, seeded inventory, SOAP operations and the trainer's console."""

from __future__ import annotations

from mocks.blood_center.centre import BloodCentre, CentreError
from mocks.blood_center.service import BloodCenterMock

__all__ = ["BloodCenterMock", "BloodCentre", "CentreError"]
