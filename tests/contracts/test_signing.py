"""TIF gateway signing: the signature formula, the headers, and the verifier the mock uses."""

from __future__ import annotations

import hashlib

import pytest

from harness.contract.model import Contract, Signing
from harness.contract.signing import TIF_HEADERS, TifVerifier, tif_headers, tif_signature

NOW = 1_709_280_000.0  # 2024-03-01 08:00:00 UTC


def test_signature_known_vector() -> None:
    # lower_hex(sha256("1700000000" + "secret" + "abc" + "1700000000"))
    expected = "fdc48fe9d788109715ef6992d91898144cf86682942883a8ceec4dfebddb3d0f"
    assert tif_signature("1700000000", "secret", "abc") == expected
    assert expected == hashlib.sha256(b"1700000000secretabc1700000000").hexdigest()
    assert tif_signature("1700000000", "abc", "secret") != expected, "secret and nonce are not interchangeable"


def test_headers_sign_with_a_fresh_nonce(contract_2024: Contract) -> None:
    first = tif_headers(contract_2024.signing, "PAAS", "s3cret", now=NOW)
    second = tif_headers(contract_2024.signing, "PAAS", "s3cret", now=NOW)

    assert set(first) == set(TIF_HEADERS.values())
    assert first["x-tif-paasid"] == "PAAS"
    assert first["x-tif-timestamp"] == "1709280000"
    assert len(first["x-tif-nonce"]) == 32 and first["x-tif-nonce"] != second["x-tif-nonce"]
    assert first["x-tif-signature"] == tif_signature("1709280000", "s3cret", first["x-tif-nonce"])


def test_headers_follow_the_contract_header_names() -> None:
    signing = Signing("tif", {"paasid": "x-gw-app", "signature": "x-gw-sign"})
    headers = tif_headers(signing, "APP", "k", now=NOW)
    assert set(headers) == {"x-gw-app", "x-tif-timestamp", "x-tif-nonce", "x-gw-sign"}


@pytest.fixture
def verifier(contract_2024: Contract) -> TifVerifier:
    assert contract_2024.signing is not None
    return TifVerifier(contract_2024.signing, {"PAAS": "s3cret"})


def signed(**override: str) -> dict[str, str]:
    headers = tif_headers(None, "PAAS", "s3cret", now=NOW)
    headers.update(override)
    return headers


def signed_at(stamp: float) -> dict[str, str]:
    return tif_headers(None, "PAAS", "s3cret", now=stamp)


def test_a_properly_signed_request_passes(verifier: TifVerifier) -> None:
    assert verifier.verify(signed(), now=NOW + 10) is None


@pytest.mark.parametrize("header", list(TIF_HEADERS.values()))
def test_missing_header(verifier: TifVerifier, header: str) -> None:
    headers = signed()
    del headers[header]
    problem = verifier.verify(headers, now=NOW)
    assert problem is not None
    assert (problem.header, problem.message) == (header, f"missing header {header}")


def test_unknown_paasid(verifier: TifVerifier) -> None:
    problem = verifier.verify(signed(**{"x-tif-paasid": "OTHER"}), now=NOW)
    assert problem is not None
    assert (problem.header, problem.message) == ("x-tif-paasid", "x-tif-paasid: unknown paasid 'OTHER'")


@pytest.mark.parametrize("skew", [301, -301])
def test_skewed_timestamp(verifier: TifVerifier, skew: int) -> None:
    problem = verifier.verify(signed(), now=NOW + skew)
    assert problem is not None and problem.header == "x-tif-timestamp"
    assert problem.message == f"x-tif-timestamp: {skew} s from the gateway clock (max 300 s)"


def test_timestamp_at_the_edge_of_the_skew_passes(verifier: TifVerifier) -> None:
    assert verifier.verify(signed(), now=NOW + 300) is None
    assert verifier.verify(signed(), now=NOW - 300) is None


def test_timestamp_not_in_seconds(verifier: TifVerifier) -> None:
    problem = verifier.verify(signed(**{"x-tif-timestamp": "2024-03-01T08:00:00"}), now=NOW)
    assert problem is not None and problem.message == "x-tif-timestamp: not whole seconds since the epoch"


def test_bad_signature(verifier: TifVerifier) -> None:
    headers = signed()
    wrong_secret = tif_signature(headers["x-tif-timestamp"], "guess", headers["x-tif-nonce"])
    problem = verifier.verify({**headers, "x-tif-signature": wrong_secret}, now=NOW)
    assert problem is not None
    assert (problem.header, problem.message) == ("x-tif-signature", "x-tif-signature: signature does not match")


def test_signature_case_does_not_matter(verifier: TifVerifier) -> None:
    headers = signed()
    assert verifier.verify({**headers, "x-tif-signature": headers["x-tif-signature"].upper()}, now=NOW) is None


def test_replayed_nonce(verifier: TifVerifier) -> None:
    headers = signed()
    assert verifier.verify(headers, now=NOW) is None

    problem = verifier.verify(headers, now=NOW + 1)

    assert problem is not None
    assert (problem.header, problem.message) == ("x-tif-nonce", "x-tif-nonce: nonce already used (replayed request)")


@pytest.mark.parametrize("ahead_s", [290, 0, -290])
def test_a_nonce_is_refused_for_as_long_as_its_timestamp_would_pass(verifier: TifVerifier, ahead_s: int) -> None:
    # a timestamp ahead of the gateway clock stays acceptable for skew + ahead seconds: its nonce must last as long
    headers = signed_at(NOW + ahead_s)
    assert verifier.verify(headers, now=NOW) is None
    skew = verifier.signing.max_skew_s
    for later in (1, 305, ahead_s + skew):
        problem = verifier.verify(headers, now=NOW + later)
        assert problem is not None, f"replayed {later} s later and accepted"
        assert problem.header in ("x-tif-nonce", "x-tif-timestamp")
    gone = verifier.verify(headers, now=NOW + ahead_s + skew + 1)
    assert gone is not None and gone.header == "x-tif-timestamp", "past the window the timestamp itself is refused"


def test_nonce_memory_is_bounded_by_time(verifier: TifVerifier) -> None:
    skew = verifier.signing.max_skew_s
    for second in range(0, 4 * skew, 10):
        assert verifier.verify(signed_at(NOW + second), now=NOW + second) is None
    # nonces whose timestamps left the window are forgotten: what is kept is one window's worth (skew / 10 s + 1)
    assert len(verifier.nonces) <= skew // 10 + 1


def test_a_full_nonce_memory_refuses_rather_than_forgets(contract_2024: Contract) -> None:
    assert contract_2024.signing is not None
    verifier = TifVerifier(contract_2024.signing, {"PAAS": "s3cret"}, nonce_memory=2)
    first = signed()
    assert verifier.verify(first, now=NOW) is None
    assert verifier.verify(signed(), now=NOW) is None
    refused = verifier.verify(signed(), now=NOW)
    assert refused is not None and refused.header == "x-tif-nonce" and "try again later" in refused.message
    replay = verifier.verify(first, now=NOW)
    assert replay is not None and "replayed" in replay.message, "the first nonce is still remembered"
