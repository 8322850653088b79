"""Mail status: records the SES Lambda-action event (verdicts, recipients) for the message in DynamoDB.

Invoked by the receipt rule `status` (event invocation) after the `store` rule. It writes only its
own attributes, so it never interferes with the dispatcher's claim on the same item.

Environment: TABLE_NAME, CLAIM_TTL_SECONDS.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import boto3

VERDICTS = ("spamVerdict", "virusVerdict", "spfVerdict", "dkimVerdict", "dmarcVerdict")


def log(level: str, event: str, **fields: Any) -> None:
    print(json.dumps({"level": level, "event": event, **fields}, sort_keys=True, default=str), file=sys.stdout)


def record_status(ses: dict[str, Any], *, table_name: str, dynamodb: Any, now: float, ttl_seconds: int) -> str:
    mail, receipt = ses["mail"], ses["receipt"]
    message_id = str(mail["messageId"])
    verdicts = {name: str(receipt.get(name, {}).get("status", "UNKNOWN")) for name in VERDICTS}
    dynamodb.update_item(
        TableName=table_name,
        Key={"messageId": {"S": message_id}},
        UpdateExpression="SET receivedAt = :received, mailFrom = :from, recipients = :recipients, "
        + ", ".join(f"{name} = :{name}" for name in VERDICTS)
        + ", expiresAt = if_not_exists(expiresAt, :expires)",
        ExpressionAttributeValues={
            ":received": {"S": str(mail.get("timestamp", ""))},
            ":from": {"S": str(mail.get("source", ""))},
            ":recipients": {"SS": sorted(set(receipt.get("recipients") or mail.get("destination") or ["-"]))},
            ":expires": {"N": str(int(now) + ttl_seconds)},
            **{f":{name}": {"S": value} for name, value in verdicts.items()},
        },
    )
    log("info", "status_recorded", message_id=message_id, **verdicts)
    return message_id


_CLIENT: Any = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _CLIENT  # noqa: PLW0603 - one client per Lambda container
    _CLIENT = _CLIENT or boto3.client("dynamodb")
    table = os.environ["TABLE_NAME"]
    ttl = int(os.environ.get("CLAIM_TTL_SECONDS", str(72 * 3600)))
    recorded = [
        record_status(record["ses"], table_name=table, dynamodb=_CLIENT, now=time.time(), ttl_seconds=ttl)
        for record in event.get("Records", [])
        if record.get("eventSource") == "aws:ses"
    ]
    # An event invocation's result is ignored by SES; returning CONTINUE keeps the rule set going if the
    # rule is ever switched to RequestResponse.
    return {"disposition": "CONTINUE", "recorded": recorded}
