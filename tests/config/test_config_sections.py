"""Every section names its mistakes the same way: the key as written, what it must be, and the fix."""

from __future__ import annotations

import pytest

from gateway.config import load_config
from gateway.errors import ConfigError

GATEWAY = '[gateway]\nsupport_address = "support@example.com"\n'
PLAN = '[plans.standard]\ncalendar = "24x7"\n'


def _problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as err:
        load_config(None, text=text + GATEWAY)  # [gateway] last: keys written before any table are top-level
    return err.value.problems


@pytest.mark.parametrize(("text", "expected"), [
    (PLAN + '[[customers]]\nname = "Acme"\ncolour = "red"\n',
     "customers[0].colour: unknown key; the keys are account_manager, contacts, domains, language, name, "
     "plan, timezone, vip"),
    ('[oncall]\nfallback = "x"\nweekly = true\n',
     "oncall.weekly: unknown key; the keys are timezone, handover, start, rotation, overrides, fallback"),
    ('[engineers]\nverify_dmarc = true\n',
     "engineers.verify_dmarc: unknown key; the keys are team, reply_token, trusted_authserv_ids, verify_dkim, "
     "dkim_keys, cc_participants"),
    (PLAN + '[plans.standard.priorities.P1]\nfirst_respons = "1h"\n',
     "plans.standard.priorities.P1.first_respons: unknown key; the keys are first_response, update_every, "
     "workaround, resolution, calendar"),
])
def test_an_unknown_key_lists_the_keys_of_its_table(text: str, expected: str) -> None:
    assert expected in _problems(text)


@pytest.mark.parametrize(("text", "expected"), [
    ('[customers]\nname = "Acme"\n', "customers: must be a list of tables, written [[customers]]"),
    ('[engineers.team]\naddress = "dana@example.com"\n',
     "engineers.team: must be a list of tables, written [[engineers.team]]"),
    ('contacts = ["sam@example.com"]\n', "contacts: must be tables, written [contacts.NAME]"),
    ('calendars = "business"\n', "calendars: must be tables, written [calendars.NAME]"),
    ('escalation = ["desk"]\n', "escalation: must be tables, written [escalation.NAME]"),
])
def test_a_list_or_table_written_the_wrong_way_says_how_to_write_it(text: str, expected: str) -> None:
    assert expected in _problems(text)


@pytest.mark.parametrize(("text", "expected"), [
    (PLAN + '[[customers]]\nname = "Acme"\nplan = ["standard"]\n', "customers[0].plan: must be a string"),
    (PLAN + '[[customers]]\nname = "Acme"\nvip = "yes"\n', "customers[0].vip: must be true or false"),
    (PLAN + '[[customers]]\nname = "Acme"\ntimezone = "Mars/Base"\n',
     "customers[0].timezone: 'Mars/Base' is not an IANA time zone like 'Europe/London'"),
    (PLAN + '[[customers]]\nname = 7\n',
     'customers[0].name: must be a string; give the organisation a name, like name = "Acme Ltd"'),
    (PLAN + '[[customers]]\ndomains = ["acme.example"]\n',
     'customers[0].name: missing; give the organisation a name, like name = "Acme Ltd"'),
    ('[engineers]\ncc_participants = "everyone"\n',
     "engineers.cc_participants: must be one of 'contacts', 'domain', 'none', not 'everyone'"),
    ('[contacts.sam]\naddress = "sam@example.com"\ntimezone = "Mars/Base"\n',
     "contacts.sam.timezone: 'Mars/Base' is not an IANA time zone like 'Europe/London'"),
    ('[calendars.office]\ntimezone = "UTC"\ndays = "mon-fri"\nopen = "09:00-17:00"\ncustomer_local_time = 1\n',
     "calendars.office.customer_local_time: must be true or false"),
])
def test_a_value_of_the_wrong_kind_names_its_key(text: str, expected: str) -> None:
    assert expected in _problems(text)


def test_problems_come_in_the_order_of_the_file() -> None:
    problems = _problems(PLAN + '[[customers]]\nname = "A"\nvip = 1\n[[customers]]\nname = 2\n'
                                '[[customers]]\nname = "C"\nplan = "gold"\n')
    assert [p.partition(":")[0] for p in problems] == ["customers[0].vip", "customers[1].name", "customers[2].plan"]
