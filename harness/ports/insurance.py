"""The insurance port: what a hospital's HIS does with the national medical-insurance platform.

A connector (the reference one, or a hospital's own adapter) implements `InsurancePort`; specs drive it and check
both what it returns and what reached the platform.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from harness.errors import HihError


@dataclass(frozen=True)
class InsuranceSettings:
    """What a connector needs to reach the platform; the runner fills it from the mock and the contract."""

    base_url: str
    paasid: str
    secret: str
    fixmedins_code: str = "H33010600001"
    fixmedins_name: str = "示例市第一人民医院"
    mdtrtarea_admvs: str = "330100"
    recer_sys_code: str = "YBXT"
    infver: str = "V1.0"
    opter: str = "100234"
    opter_name: str = "收费员王五"
    opter_type: str = "1"
    timeout_s: float = 5.0
    contract_version: str = ""
    contract_folder: str = ""
    transactions: tuple[str, ...] = ()
    """Variant transactions the region's platform uses instead of the ones they are a form of (`2207A` for 2207),
    from hih.toml `[insurance.regions]`."""

    def __repr__(self) -> str:  # never show the secret
        return f"InsuranceSettings(base_url={self.base_url!r}, paasid={self.paasid!r}, fixmedins_code={self.fixmedins_code!r})"


# -- results ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SignIn:
    sign_no: str
    sign_time: str


@dataclass(frozen=True)
class Person:
    psn_no: str
    psn_name: str
    certno: str
    gend: str
    brdy: str
    insutype: str
    insuplc_admdvs: str
    balance: Decimal
    insured: bool
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Visit:
    mdtrt_id: str
    psn_no: str
    ipt_otp_no: str
    insutype: str
    insuplc_admdvs: str


@dataclass(frozen=True)
class FeeItem:
    """One line of a prescription or bill, as the HIS knows it."""

    feedetl_sn: str
    med_list_codg: str
    medins_list_codg: str
    name: str
    cnt: Decimal
    pric: Decimal
    amount: Decimal | None = None
    """Defaults to cnt × pric; give it to upload a line whose total disagrees."""


@dataclass(frozen=True)
class FeeResult:
    feedetl_sn: str
    amount: Decimal
    chrgitm_lv: str
    selfpay_prop: Decimal
    inscp_scp_amt: Decimal


@dataclass(frozen=True)
class Settlement:
    mdtrt_id: str
    setl_id: str | None
    medins_setl_id: str
    medfee_sumamt: Decimal
    fund_pay_sumamt: Decimal
    psn_part_amt: Decimal
    acct_pay: Decimal
    psn_cash_pay: Decimal
    balance: Decimal
    msgid: str
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Certificate:
    """How the patient proves who they are at the counter: type 01 e-certificate, 02 ID card, 03 SSC."""

    cert_type: str
    cert_no: str
    card_sn: str | None = None


# -- errors -------------------------------------------------------------------------------------------------
class InsuranceError(HihError):
    """Base of the errors a connector reports to the HIS."""


class Refused(InsuranceError):
    """The platform answered infcode -1 (or a gateway error); `message` is its err_msg."""

    def __init__(self, infno: str, message: str) -> None:
        self.infno = infno
        self.message = message
        super().__init__(f"{infno} refused: {message}")


class InvalidInput(InsuranceError):
    """The connector refused to send: the input breaks the contract. Nothing reached the platform."""

    def __init__(self, field_name: str, message: str) -> None:
        self.field = field_name
        self.message = message
        super().__init__(f"invalid {field_name}: {message}")


class Unavailable(InsuranceError):
    """No usable answer (timeout, reset, HTTP error, malformed body, connection refused); `msgid` names the attempt
    whose reply was lost. `sent` is False when no attempt reached the platform (every connection was refused):
    nothing happened there, so there is nothing to reverse."""

    def __init__(self, infno: str, reason: str, msgid: str = "", sent: bool = True) -> None:
        self.infno = infno
        self.reason = reason
        self.msgid = msgid
        self.sent = sent
        super().__init__(f"{infno} unavailable: {reason}")


class SettlementNotCompleted(InsuranceError):
    """The settlement's reply was lost; the connector made sure the patient was not charged.

    `reversed` is True when the platform had settled and a 2601 reversal undid it, False when the platform had not
    processed the settlement at all (the reversal said so, or no connection to the platform could be made: then no
    2601 is sent). Either way the HIS may settle again with a new msgid.
    """

    def __init__(self, msgid: str, reason: str, reversed: bool) -> None:
        self.msgid = msgid
        self.reason = reason
        self.reversed = reversed
        super().__init__(f"settlement {msgid} not completed ({reason}); {'reversed' if reversed else 'never processed'}")


class SettlementUncertain(InsuranceError):
    """The settlement's outcome is unknown and could not be reversed: a human must check (5203/对账)."""

    def __init__(self, msgid: str, reason: str) -> None:
        self.msgid = msgid
        self.reason = reason
        super().__init__(f"settlement {msgid} uncertain: {reason}")


@runtime_checkable
class InsurancePort(Protocol):
    """The operations a hospital performs on the platform, in the order of an outpatient visit."""

    def sign_in(self) -> SignIn: ...

    def sign_out(self) -> None:
        """End the session (9002). When the platform refuses because it has no such session any more (its err_msg
        says the sign_no is invalid, expired, unknown or already signed out), the session is over all the same: the
        connector forgets its sign_no and returns normally, without signing in again just to sign out. Any other
        refusal is `Refused` with the platform's err_msg (the session may still be open: a later call may retry);
        a lost reply is `Unavailable`. The next business call signs in afresh."""
        ...

    def query_person(self, cert: Certificate) -> Person: ...

    def register_visit(self, person: Person, cert: Certificate, ipt_otp_no: str, dept_code: str = "A03",
                       dept_name: str = "内科", doctor_code: str = "D001", doctor_name: str = "李医生") -> Visit: ...

    def cancel_visit(self, visit: Visit) -> None: ...

    def upload_visit_info(self, visit: Visit, diag_code: str, diag_name: str, med_type: str = "11") -> None: ...

    def upload_fees(self, visit: Visit, batch: str, items: list[FeeItem]) -> list[FeeResult]: ...

    def cancel_fees(self, visit: Visit, batch: str) -> None: ...

    def pre_settle(self, visit: Visit, cert: Certificate, batch: str, total: Decimal, use_account: bool = True) -> Settlement: ...

    def settle(self, visit: Visit, cert: Certificate, batch: str, total: Decimal, use_account: bool = True) -> Settlement: ...

    def cancel_settlement(self, settlement: Settlement, visit: Visit) -> Settlement: ...

    def reverse(self, visit: Visit, msgid: str, infno: str) -> None: ...

    def close(self) -> None: ...


def settings_for(mock: Any, contract: Any, timeout_s: float, workdir: Any = None) -> InsuranceSettings:
    """The settings for a connector to the started insurance mock `mock` under `contract` (the interface
    descriptor's `settings`): its URL, a credential it accepts, its region and the variants hih.toml names for it."""
    from harness.insurance_regions import region_variants

    paasid, secret = next(iter(mock.credentials.items()))
    return InsuranceSettings(base_url=mock.endpoint.url, paasid=paasid, secret=secret, timeout_s=timeout_s,
                             contract_version=contract.version, contract_folder=str(contract.folder),
                             mdtrtarea_admvs=mock.admdvs, transactions=region_variants(contract, mock.admdvs))
