"""Mail gate: the first receipt rule's Lambda action (RequestResponse). It stops the rule set for a
message SES did not scan clean (infected, or not scanned), or that fails DMARC for a domain whose
policy is `reject`, so such a message is never stored, announced or processed.

SES waits for the answer (up to 30 seconds) and reads `disposition` from it: `STOP_RULE_SET` ends
the message's handling here, `CONTINUE` goes on to the `store` rule (SES Developer Guide, "Invoke
Lambda function action", synchronous invocation). An event it cannot read is stopped too: no verdict,
no processing. Each stop is logged with its reason (no addresses) and counted in the embedded metric
`Platform/Mail MessagesRejected`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

STOP, CONTINUE = "STOP_RULE_SET", "CONTINUE"


def rejection(receipt: Any) -> str | None:
    """Why a message must not be processed, or None. Only a message the virus scan passed goes on: FAIL is
    a virus, and GRAY, PROCESSING_FAILED or DISABLED mean it was not scanned clean (fail closed). SES puts
    `dmarcPolicy` in the receipt only on a DMARC failure."""
    if not isinstance(receipt, dict):
        return "unreadable event"
    virus = receipt.get("virusVerdict")
    status = virus.get("status") if isinstance(virus, dict) else None
    if status == "FAIL":
        return "virus"
    if status != "PASS":
        return f"not scanned clean ({status})"
    dmarc = receipt.get("dmarcVerdict")
    if (
        isinstance(dmarc, dict)
        and dmarc.get("status") == "FAIL"
        and str(receipt.get("dmarcPolicy", "")).lower() == "reject"
    ):
        return "dmarc reject"
    return None


def decide(event: Any) -> tuple[str, str | None, str]:
    """(disposition, reason, message id) for an SES Lambda-action event."""
    try:
        (record,) = event["Records"]
        ses = record["ses"]
        message_id = str(ses["mail"]["messageId"])
        receipt = ses["receipt"]
    except (KeyError, TypeError, ValueError):
        return STOP, "unreadable event", "-"
    reason = rejection(receipt)
    return (STOP if reason else CONTINUE), reason, message_id


def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    disposition, reason, message_id = decide(event)
    if reason is None:
        print(json.dumps({"level": "info", "event": "message_accepted", "message_id": message_id}), file=sys.stdout)
    else:
        print(
            json.dumps({"level": "warning", "event": "message_rejected", "message_id": message_id, "reason": reason}),
            file=sys.stdout,
        )
        print(json.dumps(_metric("MessagesRejected"), sort_keys=True), file=sys.stdout)
    return {"disposition": disposition}


def _metric(name: str) -> dict[str, Any]:
    """A CloudWatch metric in the embedded metric format (Lambda extracts it from the log line)."""
    return {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": "Platform/Mail",
                    "Dimensions": [["FunctionName"]],
                    "Metrics": [{"Name": name, "Unit": "Count"}],
                }
            ],
        },
        "FunctionName": os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local"),
        name: 1,
    }
