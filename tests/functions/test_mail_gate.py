"""The mail gate's decisions on SES Lambda-action events (shapes from the SES Developer Guide)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from functions.mail_gate import handler as gate

RECEIPT = {
    "recipients": ["clearing@inbound.stg.acme-payments.jp"],
    "spamVerdict": {"status": "PASS"},
    "virusVerdict": {"status": "PASS"},
    "spfVerdict": {"status": "PASS"},
    "dkimVerdict": {"status": "PASS"},
    "dmarcVerdict": {"status": "PASS"},
    "action": {"type": "Lambda", "invocationType": "RequestResponse"},
}


def event(**receipt: Any) -> dict[str, Any]:
    merged = {**copy.deepcopy(RECEIPT), **receipt}
    return {
        "Records": [
            {
                "eventSource": "aws:ses",
                "eventVersion": "1.0",
                "ses": {"mail": {"messageId": "m-1", "source": "clearing@bank.example"}, "receipt": merged},
            }
        ]
    }


@pytest.mark.parametrize(
    ("receipt", "disposition", "reason"),
    [
        ({}, "CONTINUE", None),
        ({"spamVerdict": {"status": "FAIL"}}, "CONTINUE", None),  # spam is recorded, not dropped
        ({"dmarcVerdict": {"status": "FAIL"}, "dmarcPolicy": "QUARANTINE"}, "CONTINUE", None),
        ({"virusVerdict": {"status": "FAIL"}}, "STOP_RULE_SET", "virus"),
        ({"virusVerdict": {"status": "GRAY"}}, "STOP_RULE_SET", "not scanned clean (GRAY)"),
        ({"virusVerdict": {"status": "PROCESSING_FAILED"}}, "STOP_RULE_SET", "not scanned clean (PROCESSING_FAILED)"),
        ({"virusVerdict": None}, "STOP_RULE_SET", "not scanned clean (None)"),
        ({"dmarcVerdict": {"status": "FAIL"}, "dmarcPolicy": "REJECT"}, "STOP_RULE_SET", "dmarc reject"),
        ({"dmarcVerdict": {"status": "FAIL"}, "dmarcPolicy": "reject"}, "STOP_RULE_SET", "dmarc reject"),
    ],
)
def test_decisions(receipt: dict[str, Any], disposition: str, reason: str | None) -> None:
    assert gate.decide(event(**receipt)) == (disposition, reason, "m-1")


@pytest.mark.parametrize(
    "broken", [{}, {"Records": []}, {"Records": [{}, {}]}, {"Records": [{"ses": {"mail": {}}}]}, None]
)
def test_an_event_it_cannot_read_stops_the_rule_set(broken: Any) -> None:
    assert gate.decide(broken)[:2] == ("STOP_RULE_SET", "unreadable event")


def test_a_stop_is_logged_with_its_reason_and_counted_without_addresses(capsys: pytest.CaptureFixture[str]) -> None:
    answer = gate.handler(event(virusVerdict={"status": "FAIL"}), None)
    assert answer == {"disposition": "STOP_RULE_SET"}
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {"level": "warning", "event": "message_rejected", "message_id": "m-1", "reason": "virus"} in lines
    (metric,) = [line for line in lines if "_aws" in line]
    assert metric["MessagesRejected"] == 1
    assert metric["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Platform/Mail"
    assert "bank.example" not in json.dumps(lines)


def test_clean_mail_continues_to_the_store_rule(capsys: pytest.CaptureFixture[str]) -> None:
    assert gate.handler(event(), None) == {"disposition": "CONTINUE"}
    assert "_aws" not in capsys.readouterr().out
