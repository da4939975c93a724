"""A defective blood-centre connector planted for hih's own runner tests: it asks to return bags without checking
that the hospital ever received them."""

from __future__ import annotations

from typing import Any

from connectors.blood_center import BloodCenterConnector
from harness.ports.blood_center import BloodCenterSettings, ReturnAck


class ReturnUnreceived(BloodCenterConnector):
    def submit_return(self, return_no: str, dins: list[str], reason: str, remark: str | None = None) -> ReturnAck:
        reply = self._call("SubmitReturn", returnNo=return_no, din=list(dins), reason=reason)
        return ReturnAck(reply.returnNo, reply.status)


def make(settings: BloodCenterSettings) -> Any:
    return ReturnUnreceived(settings)
