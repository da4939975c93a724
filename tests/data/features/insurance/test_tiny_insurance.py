"""Step definitions of the tiny feature folder (a fixture of hih's own runner tests)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pytest_bdd import given, parsers, scenarios, then, when

from harness.ports.insurance import Certificate, FeeItem, InsuranceError, InvalidInput

scenarios("tiny.feature")


def attempt(ctx: dict[str, Any], action: Any) -> None:
    try:
        ctx["result"] = action()
    except InsuranceError as exc:
        ctx["error"] = exc


@given("the insured person is the employee")
def employee(ctx: dict[str, Any], insurance_mock: Any) -> None:
    ctx["seeded"] = insurance_mock.person("employee")


@when("the hospital looks the person up by ID card")
def look_up_by_id_card(ctx: dict[str, Any], insurance: Any) -> None:
    attempt(ctx, lambda: insurance.query_person(Certificate("02", ctx["seeded"].certno)))


@when("the hospital looks the person up by social security card without card_sn")
def look_up_by_card(ctx: dict[str, Any], insurance: Any) -> None:
    attempt(ctx, lambda: insurance.query_person(Certificate("03", ctx["seeded"].card_no)))


@when("the hospital settles a visit of 2 x 12.50 and 1 x 20.00")
def settle_visit(ctx: dict[str, Any], insurance: Any) -> None:
    def flow() -> Any:
        cert = Certificate("02", ctx["seeded"].certno)
        person = insurance.query_person(cert)
        visit = insurance.register_visit(person, cert, "OTP0001")
        insurance.upload_fees(visit, "B001", [
            FeeItem("F1", "XJ01CAA040A001010100028", "H1", "阿莫西林胶囊", Decimal("2"), Decimal("12.50")),
            FeeItem("F2", "001102000010000", "H2", "普通门诊诊察费", Decimal("1"), Decimal("20.00")),
        ])
        return insurance.settle(visit, cert, "B001", Decimal("45.00"))

    attempt(ctx, flow)


@then(parsers.parse("the person is found with an account balance of {balance}"))
def person_found(ctx: dict[str, Any], balance: str) -> None:
    assert "error" not in ctx, ctx.get("error")
    assert ctx["result"].psn_no == ctx["seeded"].psn_no
    assert ctx["result"].balance == Decimal(balance)


@then(parsers.parse("the settlement total is {total} and adds up"))
def settlement_adds_up(ctx: dict[str, Any], total: str) -> None:
    assert "error" not in ctx, ctx.get("error")
    settlement = ctx["result"]
    assert settlement.medfee_sumamt == Decimal(total)
    assert settlement.fund_pay_sumamt + settlement.psn_part_amt == settlement.medfee_sumamt


@then(parsers.parse("the platform journal holds {count:d} settlement"))
def journal_holds(insurance_mock: Any, count: int) -> None:
    assert len(insurance_mock.exchanges("2207")) == count


@then(parsers.parse("the connector refuses the input at {pointer}"))
def refused_input(ctx: dict[str, Any], pointer: str) -> None:
    assert isinstance(ctx.get("error"), InvalidInput), ctx
    assert ctx["error"].field == pointer
