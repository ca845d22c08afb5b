"""[canned.NAME]: canned replies read once, every problem named with its key and the fix."""

from __future__ import annotations

import pytest

from gateway.config import load_config
from gateway.errors import ConfigError

BASE = """
[gateway]
support_address = "support@example.com"

[plans.standard]
calendar = "24x7"
default_priority = "P3"
"""


def test_canned_replies_are_read_with_their_languages() -> None:
    config = load_config(None, text=BASE + """
[canned.service-restored]
description = "Full operation restored"
text = "Hello {{ customer.name }}, the service is back."
languages = { DE = "Guten Tag {{ customer.name }}, der Dienst läuft wieder." }
""")
    reply = config.canned["service-restored"]
    assert reply.description == "Full operation restored"
    assert reply.text_in("de").startswith("Guten Tag") and reply.text_in("fr").startswith("Hello")


@pytest.mark.parametrize(("table", "problem"), [
    ('[canned.Restored]\ntext = "x"', "canned.Restored: a canned reply's name is what engineers write after #reply"),
    ("[canned.restored]\ndescription = \"no text\"", "canned.restored.text: missing; write the reply"),
    ('[canned.restored]\ntext = ""', "canned.restored.text: must be the reply's text"),
    ('[canned.restored]\ntext = "Hello {{ customer.name"', "canned.restored.text: line 1 of the text:"),
    ('[canned.restored]\ntext = "x"\nsubject = "y"', "canned.restored.subject: unknown key; the keys are text, "
                                                    "description, languages"),
    ('[canned.restored]\ntext = "x"\nlanguages = { german = "y" }', "canned.restored.languages.german: 'german' "
                                                                    "is not an ISO 639-1 language code"),
    ('canned = "restored"', "canned: must be tables, written [canned.NAME]"),
])
def test_a_canned_reply_that_cannot_be_used_is_a_config_error(table: str, problem: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(None, text=(table + "\n" + BASE) if table.startswith("canned =") else BASE + table)
    assert any(p.startswith(problem) for p in raised.value.problems), raised.value.problems
