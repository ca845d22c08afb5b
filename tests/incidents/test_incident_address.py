"""An incident's own address: signed for one engineer and one incident, and never a ticket's."""

from __future__ import annotations

import pytest

from gateway.outbound import reply_token
from gateway.outbound.incident_address import incident_address, parse_incident_address, verify

SECRET = b"k" * 32
SUPPORT = ("support@example.com",)


def test_the_address_names_the_incident_and_verifies_for_its_engineer_only() -> None:
    address = incident_address(SECRET, "support@example.com", 7, "Dana@Example.com")
    assert address.startswith("support+i7-") and address.endswith("@example.com")
    token = parse_incident_address(address, SUPPORT)
    assert token is not None and token.incident_id == 7
    assert verify(SECRET, token, "dana@example.com")  # addresses compare without case
    assert not verify(SECRET, token, "fox@example.com")
    assert not verify(b"x" * 32, token, "dana@example.com")


def test_a_token_is_bound_to_its_incident() -> None:
    address = incident_address(SECRET, "support@example.com", 7, "dana@example.com")
    moved = address.replace("+i7-", "+i8-")
    token = parse_incident_address(moved, SUPPORT)
    assert token is not None and not verify(SECRET, token, "dana@example.com")


@pytest.mark.parametrize("address", [
    "support@example.com",                              # the plain address
    "support+7-abcdefghijklmnop@example.com",           # a ticket's reply address
    "support+i7-abcdefghijklmnop@elsewhere.example",    # not our domain
    "sales+i7-abcdefghijklmnop@example.com",            # not a support address
    "support+i7-short@example.com",                     # not a token
    "support+ix-abcdefghijklmnop@example.com",
])
def test_only_our_incident_addresses_are_read(address: str) -> None:
    assert parse_incident_address(address, SUPPORT) is None


def test_an_incident_address_is_no_ticket_address_but_is_one_of_ours() -> None:
    address = incident_address(SECRET, "support@example.com", 3, "dana@example.com")
    assert reply_token.parse_reply_address(address, SUPPORT) is None  # never taken for ticket 3
    assert reply_token.is_support_recipient(address, SUPPORT)  # the listener accepts it
    # The same secret, incident and engineer never give the token of the ticket with that number.
    ticket_token = reply_token.make_token(SECRET, 3, bound_to="dana@example.com")
    assert address.split("-", 1)[1].split("@")[0] != ticket_token
