"""A simulated SQS event source and fault-injecting AWS clients, to run the dispatcher through failures.

What is real and what is a stand-in:
- DynamoDB and S3 are moto (real conditional-update semantics, real missing-object errors), wrapped
  to inject throttling, network errors, lost responses and the invocation dying before or after a
  call took effect.
- ECS is a **stand-in** (`TokenEcs`): moto does not implement RunTask's `clientToken`. It follows
  AWS's documented behaviour: the same token with the same parameters answers with the original
  result without starting another task; the same token with other parameters raises
  `ConflictException`; a failed request (no task) is not remembered.
- `EventSource` follows SQS and Lambda's documented event-source behaviour: a received message is
  invisible for the visibility timeout; a message received `maxReceiveCount` times and not deleted
  moves to the dead-letter queue on its next receive; a batch waits up to the batching window; an
  invocation that raises or runs past its timeout deletes nothing; one that returns deletes every
  record not named in `batchItemFailures`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError


class Killed(BaseException):
    """The invocation dies here (out of memory, host failure): nothing after this point runs."""


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Context:
    """Lambda's context: the remaining time counts down on the simulated clock."""

    clock: Clock
    deadline: float

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - self.clock.now) * 1000))


Fault = str
"""One of: throttle, network (raised before the call takes effect); lost-response (after it took
effect, the answer is lost); kill-before, kill-after (the invocation dies)."""


def throttled(operation: str) -> ClientError:
    return ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, operation)


def inject(fault: Fault | None, operation: str, call: Callable[[], Any]) -> Any:
    if fault == "throttle":
        raise throttled(operation)
    if fault == "network":
        raise EndpointConnectionError(endpoint_url=f"https://{operation.lower()}.amazonaws.com")
    if fault == "kill-before":
        raise Killed(operation)
    result = call()
    if fault == "lost-response":
        raise ReadTimeoutError(endpoint_url=f"https://{operation.lower()}.amazonaws.com")
    if fault == "kill-after":
        raise Killed(operation)
    return result


@dataclass
class FaultPlan:
    """Faults by (call kind, message id): each list is consumed one call at a time."""

    faults: dict[tuple[str, str], list[Fault | None]] = field(default_factory=dict)

    def add(self, kind: str, message_id: str, *faults: Fault | None) -> FaultPlan:
        self.faults.setdefault((kind, message_id), []).extend(faults)
        return self

    def next(self, kind: str, message_id: str) -> Fault | None:
        queue = self.faults.get((kind, message_id))
        return queue.pop(0) if queue else None


def update_kind(expression: str) -> str:
    if expression.startswith("SET dispatchStatus = :claimed"):
        return "claim"
    if expression.startswith("SET dispatchStatus = :started"):
        return "mark-started"
    return "release" if expression.startswith("REMOVE") else "update"


class FaultyDynamoDb:
    def __init__(self, real: Any, plan: FaultPlan) -> None:
        self.real, self.plan = real, plan

    def update_item(self, **request: Any) -> Any:
        kind = update_kind(request["UpdateExpression"])
        fault = self.plan.next(kind, request["Key"]["messageId"]["S"])
        return inject(fault, "UpdateItem", lambda: self.real.update_item(**request))


class FaultyS3:
    def __init__(self, real: Any, plan: FaultPlan) -> None:
        self.real, self.plan = real, plan

    def head_object(self, **request: Any) -> Any:
        fault = self.plan.next("head", request["Key"])
        return inject(fault, "HeadObject", lambda: self.real.head_object(**request))


def message_id_of(request: dict[str, Any]) -> str:
    environment = request["overrides"]["containerOverrides"][0]["environment"]
    return next(e["value"] for e in environment if e["name"] == "MAIL_MESSAGE_ID")


class TokenEcs:
    """Stand-in for ECS RunTask with clientToken idempotency (see the module docstring)."""

    def __init__(self, plan: FaultPlan, clock: Clock, *, seconds_per_call: float = 0.0) -> None:
        self.plan, self.clock, self.seconds_per_call = plan, clock, seconds_per_call
        self.started: list[str] = []  # message id of each task started
        self.tokens: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
        self.calls = 0

    def run_task(self, **request: Any) -> dict[str, Any]:
        self.calls += 1
        self.clock.now += self.seconds_per_call
        message_id = message_id_of(request)
        fault = self.plan.next("run-task", message_id)
        if fault == "capacity":
            return {
                "tasks": [],
                "failures": [{"arn": "arn:aws:ecs:ap-northeast-1:1:cluster/c", "reason": "RESOURCE:CPU"}],
            }
        return dict(inject(fault, "RunTask", lambda: self._run(request, message_id, partial=fault == "partial")))

    def _run(self, request: dict[str, Any], message_id: str, *, partial: bool) -> dict[str, Any]:
        token = request.get("clientToken")
        parameters = {k: v for k, v in request.items() if k != "clientToken"}
        if token is not None and token in self.tokens:
            original, response = self.tokens[token]
            if original != parameters:
                raise ClientError({"Error": {"Code": "ConflictException", "Message": "token reused"}}, "RunTask")
            return copy.deepcopy(response)
        self.started.append(message_id)
        arn = f"arn:aws:ecs:ap-northeast-1:123456789012:task/platform-stg/{len(self.started):032x}"
        failures = [{"arn": "arn:aws:ecs:...:container-instance/x", "reason": "AGENT"}] if partial else []
        response = {"tasks": [{"taskArn": arn, "lastStatus": "PROVISIONING"}], "failures": failures}
        if token is not None:
            self.tokens[token] = (copy.deepcopy(parameters), copy.deepcopy(response))
        return response


@dataclass
class Message:
    sqs_id: str
    body: str
    receives: int = 0
    visible_at: float = 0.0


@dataclass
class EventSource:
    """An SQS queue with a DLQ and a Lambda event source mapping, on the simulated clock."""

    handle: Callable[[dict[str, Any], Context], dict[str, Any]]
    clock: Clock
    visibility_timeout: int
    function_timeout: int
    batching_window: int = 0
    batch_size: int = 10
    max_receive_count: int = 5
    queue: list[Message] = field(default_factory=list)
    dead_letters: list[Message] = field(default_factory=list)
    invocations: int = 0

    def send(self, sqs_id: str, body: Any, *, delay: float = 0.0) -> None:
        text = body if isinstance(body, str) else json.dumps(body)
        self.queue.append(Message(sqs_id, text, visible_at=self.clock.now + delay))

    def _receive(self) -> list[Message]:
        batch: list[Message] = []
        for message in sorted(self.queue, key=lambda m: m.visible_at):
            if message.visible_at > self.clock.now or len(batch) == self.batch_size:
                continue
            if message.receives >= self.max_receive_count:
                self.queue.remove(message)
                self.dead_letters.append(message)
                continue
            message.receives += 1
            message.visible_at = self.clock.now + self.visibility_timeout
            batch.append(message)
        return batch

    def invoke_once(self) -> None:
        batch = self._receive()
        if not batch:
            return
        self.clock.now += self.batching_window
        self.invocations += 1
        started = self.clock.now
        context = Context(self.clock, deadline=started + self.function_timeout)
        event = {"Records": [{"messageId": m.sqs_id, "body": m.body, "eventSource": "aws:sqs"} for m in batch]}
        try:
            result = self.handle(event, context)
        except Killed:
            return
        if self.clock.now > context.deadline:
            return  # Lambda killed it at its timeout: the answer never reaches the event source
        failed = {item["itemIdentifier"] for item in result["batchItemFailures"]}
        for message in batch:
            if message.sqs_id not in failed and message in self.queue:
                self.queue.remove(message)

    def drain(self, *, limit: int = 500) -> None:
        """Poll until the queue is empty, jumping the clock to the next visible message."""
        for _ in range(limit):
            if not self.queue:
                return
            visible = [m.visible_at for m in self.queue if m.visible_at <= self.clock.now]
            if not visible:
                self.clock.now = min(m.visible_at for m in self.queue)
            self.invoke_once()
            self.clock.now += 1
        raise AssertionError(f"the queue did not drain in {limit} polls: {self.queue}")
