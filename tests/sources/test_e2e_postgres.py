"""Two `helpdesk run` processes sharing one PostgreSQL: no mail processed or sent twice."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.support import GatewayProcess, Sink, customer_mail, free_port, wait_for, write_config

pytestmark = pytest.mark.slow


def test_two_gateways_share_the_work_exactly_once(tmp_path: Path, sink: Sink,
                                                  pg_schema: tuple[str, str]) -> None:
    url, schema = pg_schema
    # Each process's connections use the test's schema through the search_path option.
    db_url = url + ("&" if "?" in url else "?") + f"options=-csearch_path%3D{schema}"
    gateways = []
    for name in ("a", "b"):
        d = tmp_path / name
        d.mkdir()
        port = free_port()
        gateways.append(GatewayProcess(write_config(d / "config.toml", smtp_port=port, relay_port=sink.port,
                                                    db_url=db_url), port, env={"HELPDESK_SECRET": "s"}))
    gateways[0].cli("db", "upgrade")
    mails = tmp_path / "mails"
    mails.mkdir()
    for i in range(200):
        (mails / f"{i:03}.eml").write_bytes(customer_mail(f"c{i}@customer.example", f"Request {i}", "help",
                                                          message_id=f"<r{i}@customer.example>"))
    # Both running before the mail arrives: either could otherwise finish it all while the
    # other is still starting.
    for gw in gateways:
        gw.start()
    try:
        gateways[0].cli("ingest", "-q", *sorted(str(p) for p in mails.iterdir()))
        sink.wait(200, timeout=120)
        wait_for(lambda: json.loads(gateways[0].cli("status", "--json").stdout)["inbound"] == {"done": 200},
                 timeout=60, what="all 200 processed")
    finally:
        codes = [gw.stop() for gw in gateways]
    assert codes == [0, 0]
    replies_to = Counter(m.message["In-Reply-To"] for m in sink.messages)
    assert len(sink.messages) == 200
    assert set(replies_to.values()) == {1}
    tickets = json.loads(gateways[1].cli("tickets", "list", "--all", "--json").stdout)
    assert tickets["total"] == len(tickets["tickets"]) == 200
    logs = [gw.log.read_text() for gw in gateways]
    # Both processes took part (the claim really is shared, not one process doing it all).
    assert all("opened ticket" in log for log in logs), "one gateway processed nothing"
