"""The mail status function against moto's DynamoDB."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from functions.mail_status import handler as status

TABLE = "platform-stg-mail-messages"


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("TABLE_NAME", TABLE)
    monkeypatch.setattr(status, "_CLIENT", None)
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "messageId", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "messageId", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


SES_EVENT = {
    "Records": [
        {
            "eventSource": "aws:ses",
            "eventVersion": "1.0",
            "ses": {
                "mail": {
                    "messageId": "o3vrnil0e2ic28trm7dfhrc2v0clambda4nbp0g1",
                    "source": "clearing@bank.example",
                    "timestamp": "2026-11-23T02:30:00.000Z",
                    "destination": ["clearing@inbound.stg.acme-payments.jp"],
                },
                "receipt": {
                    "recipients": ["clearing@inbound.stg.acme-payments.jp"],
                    "spamVerdict": {"status": "PASS"},
                    "virusVerdict": {"status": "PASS"},
                    "spfVerdict": {"status": "PASS"},
                    "dkimVerdict": {"status": "GRAY"},
                    "dmarcVerdict": {"status": "PASS"},
                    "action": {"type": "Lambda", "invocationType": "Event"},
                },
            },
        }
    ]
}


def test_records_verdicts_and_recipients(table: Any) -> None:
    result = status.handler(SES_EVENT, None)
    assert result == {"disposition": "CONTINUE", "recorded": ["o3vrnil0e2ic28trm7dfhrc2v0clambda4nbp0g1"]}
    stored = table.get_item(TableName=TABLE, Key={"messageId": {"S": "o3vrnil0e2ic28trm7dfhrc2v0clambda4nbp0g1"}})[
        "Item"
    ]
    assert stored["spamVerdict"] == {"S": "PASS"}
    assert stored["dkimVerdict"] == {"S": "GRAY"}
    assert stored["recipients"] == {"SS": ["clearing@inbound.stg.acme-payments.jp"]}
    assert stored["mailFrom"] == {"S": "clearing@bank.example"}
    assert "expiresAt" in stored


def test_ignores_records_that_are_not_ses(table: Any) -> None:
    assert status.handler({"Records": [{"eventSource": "aws:sqs"}]}, None)["recorded"] == []
