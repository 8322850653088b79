"""SQS, SNS, Lambda event sources, EventBridge targets and SES receiving."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from platform_lib.ses_regions import SES_RECEIVING_REGIONS
from platform_policies.framework import Resource, Rule, Stack, parse_json
from platform_policies.helpers import (
    condition_keys,
    denies_insecure_transport,
    number,
    obj,
    objs,
    principals,
    statements,
    strings,
)

QUEUE = "aws:sqs/queue:Queue"
QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
REDRIVE_POLICY = "aws:sqs/redrivePolicy:RedrivePolicy"
TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
FUNCTION = "aws:lambda/function:Function"
INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
RECEIPT_RULE = "aws:ses/receiptRule:ReceiptRule"
SCHEDULE = "aws:scheduler/schedule:Schedule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
RESOURCE_POLICIES = {
    QUEUE_POLICY: "policy", TOPIC_POLICY: "policy", "aws:ecr/repositoryPolicy:RepositoryPolicy": "policy",
    "aws:secretsmanager/secretPolicy:SecretPolicy": "policy",
    "aws:cloudwatch/logResourcePolicy:LogResourcePolicy": "policyDocument",
}  # fmt: skip
"""Standalone resource policies -> the input holding the document (bucket policies: s3-policy-not-public)."""
SES_TYPES = (
    "aws:ses/receiptRule:ReceiptRule", "aws:ses/receiptRuleSet:ReceiptRuleSet",
    "aws:ses/activeReceiptRuleSet:ActiveReceiptRuleSet", "aws:ses/domainIdentity:DomainIdentity",
    "aws:ses/domainDkim:DomainDkim",
)  # fmt: skip


def _queue_encrypted(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    if not r.get("kmsMasterKeyId") and r.get("sqsManagedSseEnabled") is not True:
        yield f"queue {r.get('name')} is not encrypted"


def dead_letter_arns(stack: Stack) -> set[str]:
    """Queues used as a dead-letter target by a queue, a schedule, an event target, a function or a
    function's asynchronous on-failure destination (ARNs known so far; see `dead_letter_urns`)."""
    arns = set()
    for queue in [*stack.of_type(QUEUE), *stack.of_type(REDRIVE_POLICY)]:
        redrive = obj(parse_json(queue.props.known("redrivePolicy")))
        if redrive.get("deadLetterTargetArn"):
            arns.add(str(redrive["deadLetterTargetArn"]))
    for schedule in stack.of_type(SCHEDULE):
        arns.add(str(obj(obj(schedule.props.known("target")).get("deadLetterConfig")).get("arn")))
    for target in stack.of_type(EVENT_TARGET):
        arns.add(str(obj(target.props.known("deadLetterConfig")).get("arn")))
    for function in stack.of_type(FUNCTION):
        arns.add(str(obj(function.props.known("deadLetterConfig")).get("targetArn")))
    for config in stack.of_type(INVOKE_CONFIG):
        arns.add(str(obj(obj(config.props.known("destinationConfig")).get("onFailure")).get("destination")))
    return arns


def dead_letter_urns(stack: Stack) -> set[str]:
    """The same targets by dependency, which a preview knows before the ARNs of new queues."""
    links = {
        QUEUE: "redrivePolicy", REDRIVE_POLICY: "redrivePolicy", SCHEDULE: "target", EVENT_TARGET: "deadLetterConfig",
        FUNCTION: "deadLetterConfig", INVOKE_CONFIG: "destinationConfig",
    }  # fmt: skip
    return {urn for r in stack.of_type(*links) for urn in r.property_dependencies.get(links[r.type], ())}


def _has_dlq(stack: Stack, _: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """The redrive policy is the queue's own `redrive_policy` or a separate `aws.sqs.RedrivePolicy`
    whose `queue_url` is the queue's."""
    dead_letters, dead_letter_queues = dead_letter_arns(stack), dead_letter_urns(stack)
    for queue in stack.of_type(QUEUE):
        with stack.deciding(queue):
            if queue.urn in dead_letter_queues or any(arn.endswith(f":{queue.get('name')}") for arn in dead_letters):
                continue  # a DLQ needs no DLQ
            separate = [
                p for p in stack.of_type(REDRIVE_POLICY) if queue.urn in p.property_dependencies.get("queueUrl", ())
            ]
            if not any(obj(parse_json(p.get("redrivePolicy"))).get("deadLetterTargetArn") for p in [queue, *separate]):
                yield queue.urn, f"queue {queue.get('name')} has no dead-letter queue"


def _queue_tls(stack: Stack, _: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for queue in stack.of_type(QUEUE):
        with stack.deciding(queue):
            policies = [
                p for p in stack.of_type(QUEUE_POLICY)
                if queue.urn in p.property_dependencies.get("queueUrl", ())
            ]  # fmt: skip
            if not any(denies_insecure_transport(p.get("policy")) for p in policies):
                yield queue.urn, f"queue {queue.get('name')} has no policy denying requests without TLS"


def _resource_policy_scoped(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    for statement in statements(r.get(RESOURCE_POLICIES[r.type])):
        if statement["Effect"] != "Allow":
            continue
        who = principals(statement)
        if "*" in who and not statement.get("Condition"):
            yield f"statement {statement.get('Sid', '?')} allows anyone"
        services = [p for p in who if p.endswith(".amazonaws.com")]
        if services and not condition_keys(statement) & {"aws:sourcearn", "aws:sourceaccount"}:
            yield f"statement {statement.get('Sid', '?')} lets {services} in without aws:SourceArn or aws:SourceAccount"


def _topic_encrypted(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    if not r.get("kmsMasterKeyId"):
        yield f"topic {r.get('name')} is not encrypted with a KMS key"


def _batch_item_failures(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    if ":sqs:" in str(r.get("eventSourceArn", "")) and "ReportBatchItemFailures" not in strings(
        r.get("functionResponseTypes")
    ):
        yield "the SQS event source does not report batch item failures: one bad message retries the whole batch"


def _visibility(stack: Stack, config: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    factor = number(config.get("factor"), 6)
    functions = {f.urn: f for f in stack.of_type(FUNCTION)}
    queues = {q.urn: q for q in stack.of_type(QUEUE)}
    for mapping in stack.of_type(MAPPING):
        with stack.deciding(mapping):
            queue = next(
                (queues[u] for u in mapping.property_dependencies.get("eventSourceArn", ()) if u in queues), None
            )
            function = next(
                (functions[u] for u in mapping.property_dependencies.get("functionName", ()) if u in functions), None
            )
            if queue is None or function is None:
                continue
            needed = factor * number(function.get("timeout"), 3) + number(
                mapping.get("maximumBatchingWindowInSeconds"), 0
            )
            visibility = number(queue.get("visibilityTimeoutSeconds"), 30)
            if visibility < needed:
                yield (
                    queue.urn,
                    (
                        f"queue {queue.get('name')}'s visibility timeout {visibility}s is below {factor} x the function timeout "
                        f"plus the batching window ({needed}s)"
                    ),
                )


def _ses_region(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    if r.region not in SES_RECEIVING_REGIONS:
        yield f"SES resource in {r.region}, where SES does not receive mail"


def _receipt_rule(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    if r.type != "aws:ses/receiptRule:ReceiptRule":
        return
    if r.get("tlsPolicy") != "Require":
        yield f"receipt rule {r.get('name')} accepts mail without TLS"
    if r.get("scanEnabled") is not True:
        yield f"receipt rule {r.get('name')} does not scan for spam and viruses"


def _async_failures_kept(stack: Stack, _: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """Functions SES invokes asynchronously (an `Event` Lambda action) keep what they fail on."""
    functions = stack.of_type(FUNCTION)
    configs = stack.of_type(INVOKE_CONFIG)
    for rule in stack.of_type(RECEIPT_RULE):
        with stack.deciding(rule):
            for action in objs(rule.get("lambdaActions")):
                if action.get("invocationType", "Event") != "Event":
                    continue
                targets = [
                    f
                    for f in functions
                    if f.urn in rule.property_dependencies.get("lambdaActions", ())
                    or str(action.get("functionArn", "")).endswith(f":function:{f.props.known('name')}")
                ]
                for function in targets:
                    kept = obj(function.props.known("deadLetterConfig")).get("targetArn") or any(
                        (function.urn in c.property_dependencies.get("functionName", ())
                         or c.props.known("functionName") == function.props.known("name"))
                        and obj(obj(c.get("destinationConfig")).get("onFailure")).get("destination")
                        for c in configs
                    )  # fmt: skip
                    if not kept:
                        yield (
                            function.urn,
                            (
                                f"function {function.get('name')} is invoked asynchronously by receipt rule "
                                f"{rule.get('name')} and keeps no failed event (no on-failure destination or DLQ)"
                            ),
                        )


RULES = [
    Rule(id="lambda-async-failure-destination", description="Functions invoked asynchronously by SES keep the "
         "events they fail on (an on-failure destination or a dead-letter queue).", why="Lambda drops an "
         "asynchronous event after its retries: a message's verdicts would be lost with no trace.",
         fix="Add an aws.lambda_.FunctionEventInvokeConfig with destination_config.on_failure (MailPipeline does).",
         anchors="AWS Lambda guide, asynchronous invocation (destinations); cdk-nag serverless LambdaDLQ",
         types=(RECEIPT_RULE, FUNCTION, INVOKE_CONFIG), stack_check=_async_failures_kept),
    Rule(id="sqs-encrypted", description="SQS queues are encrypted.", why="Messages carry mail and event data.",
         fix="Set kms_master_key_id (or sqs_managed_sse_enabled).", anchors="FSBP SQS.1; cdk-nag AwsSolutions-SQS2",
         types=(QUEUE,), check=_queue_encrypted),
    Rule(id="sqs-dead-letter", description="Every queue that is not itself a dead-letter queue has one.",
         why="A message that keeps failing must land somewhere visible, not loop or vanish.",
         fix="Add a redrive_policy (or an aws.sqs.RedrivePolicy) to a DLQ (maxReceiveCount 5).", anchors="cdk-nag AwsSolutions-SQS3",
         types=(QUEUE, REDRIVE_POLICY, SCHEDULE, EVENT_TARGET, FUNCTION, INVOKE_CONFIG), stack_check=_has_dlq),
    Rule(id="sqs-tls-only", description="Every queue's policy denies requests without TLS.",
         why="Messages sent over plain HTTP can be read in transit.",
         fix="Add a Deny on sqs:* with aws:SecureTransport=false to the queue policy.",
         anchors="cdk-nag AwsSolutions-SQS4", types=(QUEUE, QUEUE_POLICY), stack_check=_queue_tls),
    Rule(id="resource-policies-scoped", description="Queue, topic, repository, secret and log resource policies "
         "allow no one unconditionally, and service principals only with aws:SourceArn or aws:SourceAccount.",
         why="Otherwise anyone could read our images or secrets, or any account's SES, SNS or EventBridge write "
         "to our queue (confused deputy).",
         fix="Name the principals; add an ArnEquals aws:SourceArn (or StringEquals aws:SourceAccount) condition.",
         anchors="FSBP SNS.4, ECR (public repository policy), SecretsManager (resource policy); checkov CKV_AWS_169",
         types=tuple(sorted(RESOURCE_POLICIES)), check=_resource_policy_scoped),
    Rule(id="sns-encrypted", description="SNS topics are encrypted with a KMS key.",
         why="Topics carry mail notifications and failure events.", fix="Set kms_master_key_id to a customer-managed key.",
         anchors="Security Hub SNS.1; checkov CKV_AWS_26", types=(TOPIC,), check=_topic_encrypted),
    Rule(id="sqs-event-source-partial-failures", description="SQS event sources report batch item failures.",
         why="Otherwise one bad message makes the whole batch retry, and duplicates multiply.",
         fix="function_response_types=['ReportBatchItemFailures'] and return batchItemFailures.",
         anchors="platform", types=(MAPPING,), check=_batch_item_failures),
    Rule(id="sqs-visibility-covers-consumer", description="A queue's visibility timeout is at least 6 x its "
         "consuming function's timeout plus the batching window.", why="Shorter, and messages still being "
         "processed are delivered again.", fix="Raise the queue's visibility timeout (or lower the function's).",
         anchors="AWS Lambda guidance (with-sqs)", types=(MAPPING, FUNCTION, QUEUE), stack_check=_visibility,
         config={"factor": {"type": "integer", "default": 6}}),
    Rule(id="ses-receiving-region", description="SES receiving resources are in a region where SES receives mail.",
         why="Elsewhere the rule set exists but no mail ever arrives.", fix="Set platform:mail.region.",
         anchors="platform", types=SES_TYPES, check=_ses_region),
    Rule(id="ses-receipt-rule-safe", description="Receipt rules require TLS and scan for spam and viruses.",
         why="Mail from banks and card networks must not be read in transit or arrive infected.",
         fix="tls_policy='Require', scan_enabled=True.", anchors="platform", types=SES_TYPES, check=_receipt_rule),
]  # fmt: skip
