"""What the offline run pretends AWS returned: deterministic ids, ARNs and computed attributes.

Ids and ARNs derive from the logical name, region and account only, so two runs agree byte for byte.
Invokes are refused with the token's name: the program computes or configures what it needs, and a
new invoke must be implemented here consciously rather than silently return nothing.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pulumi

Outputs = dict[str, Any]
Computed = Callable[["ResourceFacts"], Outputs]


class UnmockedInvokeError(RuntimeError):
    pass


class ResourceFacts:
    """What a computed-attribute function may use to invent outputs."""

    def __init__(self, *, typ: str, name: str, inputs: dict[str, Any], region: str, account_id: str) -> None:
        self.typ = typ
        self.name = name
        self.inputs = inputs
        self.region = region
        self.account_id = account_id

    @property
    def physical(self) -> str:
        """The name AWS would know it by: the explicit name input, else the logical name (no random suffix)."""
        return str(self.inputs.get("name") or self.name)

    def arn(self, service: str, resource: str, *, global_: bool = False) -> str:
        return f"arn:aws:{service}:{'' if global_ else self.region}:{self.account_id}:{resource}"


SERVICE_OF_MODULE = {
    "lb": "elasticloadbalancing",
    "appautoscaling": "application-autoscaling",
    "sfn": "states",
    "cloudwatch": "events",
    "scheduler": "scheduler",
}
"""pulumi-aws module -> the service prefix of its ARNs, where the two differ."""


def _generic_arn(facts: ResourceFacts) -> str:
    module, _, rest = facts.typ.removeprefix("aws:").partition("/")
    kind = rest.split(":")[0].lower()
    return facts.arn(SERVICE_OF_MODULE.get(module, module), f"{kind}/{facts.physical}")


def _rds_instance(f: ResourceFacts) -> Outputs:
    identifier = f.inputs.get("identifier") or f.name
    address = f"{identifier}.cxmockdb.{f.region}.rds.amazonaws.com"
    return {
        "address": address,
        "endpoint": f"{address}:{int(f.inputs.get('port') or 5432)}",
        "arn": f.arn("rds", f"db:{identifier}"),
        "resourceId": f"db-{identifier.upper().replace('-', '')}",
        "masterUserSecrets": [
            {
                "secretArn": f.arn("secretsmanager", f"secret:rds!db-{identifier}-Mock01"),
                "kmsKeyId": f.inputs.get("masterUserSecretKmsKeyId"),
                "secretStatus": "active",
            }
        ],
    }


def _alphanumeric(text: str) -> str:
    return "".join(c for c in text if c.isascii() and c.isalnum())


COMPUTED: dict[str, Computed] = {
    "aws:rds/instance:Instance": _rds_instance,
    "aws:s3/bucket:Bucket": lambda f: {
        "arn": f"arn:aws:s3:::{f.inputs.get('bucket', f.name)}",
        "bucket": f.inputs.get("bucket", f.name),
        "bucketRegionalDomainName": f"{f.inputs.get('bucket', f.name)}.s3.{f.region}.amazonaws.com",
    },
    "aws:kms/key:Key": lambda f: {"arn": f.arn("kms", f"key/mock-{f.name}"), "keyId": f"mock-{f.name}"},
    "aws:secretsmanager/secret:Secret": lambda f: {"arn": f.arn("secretsmanager", f"secret:{f.physical}-Mock01")},
    # Letters and digits, as the program asks for (special=False).
    "random:index/randomPassword:RandomPassword": lambda f: {"result": f"OfflinePassword{_alphanumeric(f.name)}"},
    "random:index/randomBytes:RandomBytes": lambda f: {
        "base64": base64.b64encode(hashlib.sha256(f.name.encode()).digest()[: int(f.inputs["length"])]).decode()
    },
    "aws:ecr/repository:Repository": lambda f: {
        "repositoryUrl": f"{f.account_id}.dkr.ecr.{f.region}.amazonaws.com/{f.physical}",
        "registryId": f.account_id,
        "arn": f.arn("ecr", f"repository/{f.physical}"),
    },
    "aws:lb/loadBalancer:LoadBalancer": lambda f: {
        "dnsName": f"{f.physical}-1234567890.{f.region}.elb.amazonaws.com",
        "arn": f.arn("elasticloadbalancing", f"loadbalancer/app/{f.physical}/50dc6c495c0c9188"),
        "arnSuffix": f"app/{f.physical}/50dc6c495c0c9188",
    },
    "aws:lb/targetGroup:TargetGroup": lambda f: {
        "arn": f.arn("elasticloadbalancing", f"targetgroup/{f.physical}/73e2d6bc24d8a067"),
        "arnSuffix": f"targetgroup/{f.physical}/73e2d6bc24d8a067",
    },
    # One endpoint per subnet mapping, reported the way the provider does once the firewall is READY.
    "aws:networkfirewall/firewall:Firewall": lambda f: {
        "firewallStatuses": [
            {
                "syncStates": [
                    {"attachments": [{"subnetId": m["subnetId"], "endpointId": f"vpce-{_alphanumeric(m['subnetId'])}"}]}
                    for m in f.inputs.get("subnetMappings", [])
                ]
            }
        ]
    },
    "aws:ecs/cluster:Cluster": lambda f: {"arn": f.arn("ecs", f"cluster/{f.physical}")},
    "aws:scheduler/scheduleGroup:ScheduleGroup": lambda f: {"arn": f.arn("scheduler", f"schedule-group/{f.physical}")},
    "aws:sfn/stateMachine:StateMachine": lambda f: {"arn": f.arn("states", f"stateMachine:{f.physical}")},
    "aws:sqs/queue:Queue": lambda f: {
        "arn": f.arn("sqs", f.physical),
        "url": f"https://sqs.{f.region}.amazonaws.com/{f.account_id}/{f.physical}",
    },
    "aws:sns/topic:Topic": lambda f: {"arn": f.arn("sns", f.physical)},
    "aws:ses/domainIdentity:DomainIdentity": lambda f: {
        "verificationToken": f"mock-verification-{f.inputs.get('domain')}",
        "arn": f.arn("ses", f"identity/{f.inputs.get('domain')}"),
    },
    "aws:ses/domainDkim:DomainDkim": lambda f: {"dkimTokens": [f"mockdkim{i}{f.name}" for i in range(3)]},
    "aws:lambda/function:Function": lambda f: {
        "arn": f.arn("lambda", f"function:{f.physical}"),
        "invokeArn": f"arn:aws:apigateway:{f.region}:lambda:path/2015-03-31/functions/"
        f"arn:aws:lambda:{f.region}:{f.account_id}:function:{f.physical}/invocations",
    },
    "pagerduty:index/serviceIntegration:ServiceIntegration": lambda f: {"integrationKey": f"mock-key-{f.name}"},
    "aws:dynamodb/table:Table": lambda f: {"arn": f.arn("dynamodb", f"table/{f.physical}")},
    "aws:cloudwatch/eventRule:EventRule": lambda f: {"arn": f.arn("events", f"rule/{f.physical}")},
    "aws:ecs/taskDefinition:TaskDefinition": lambda f: {
        "arn": f.arn("ecs", f"task-definition/{f.inputs.get('family', f.name)}:1"),
        "arnWithoutRevision": f.arn("ecs", f"task-definition/{f.inputs.get('family', f.name)}"),
        "revision": 1,
    },
    "aws:cloudwatch/logGroup:LogGroup": lambda f: {"arn": f.arn("logs", f"log-group:{f.physical}")},
    "aws:iam/role:Role": lambda f: {
        "arn": f.arn("iam", f"role/{f.physical}", global_=True),
        "name": f.physical,
    },
    "aws:iam/policy:Policy": lambda f: {"arn": f.arn("iam", f"policy/{f.physical}", global_=True)},
    "aws:ec2/eip:Eip": lambda f: {"allocationId": f"eipalloc-{f.name}", "publicIp": "203.0.113.10"},
}
"""Type token -> attributes the real provider computes that the program reads."""


NATURAL_IDS: dict[str, Callable[[pulumi.runtime.MockResourceArgs], str | None]] = {
    "aws:s3/bucket:Bucket": lambda a: a.inputs.get("bucket"),
}
"""Types whose id is a name AWS knows them by (a bucket's id is its name)."""


def _secret_version(args: dict[str, Any]) -> Outputs:
    """The RDS-managed master secret: username and a placeholder password (secret in the program)."""
    secret_id = str(args.get("secretId"))
    return {
        "arn": secret_id,
        "id": secret_id,
        "secretId": secret_id,
        "versionId": "mock-version",
        "secretString": json.dumps({"password": "offline-master-password", "username": "platform_admin"}),
    }


INVOKES: dict[str, Callable[[dict[str, Any]], Outputs]] = {
    "aws:secretsmanager/getSecretVersion:getSecretVersion": _secret_version,
}
"""Invoke token -> deterministic answer. Anything else is refused with the token's name."""


class PlatformMocks(pulumi.runtime.Mocks):
    def __init__(self, *, account_id: str, default_region: str) -> None:
        self.account_id = account_id
        self.default_region = default_region
        self._provider_regions: dict[str, str] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        natural_id = NATURAL_IDS.get(args.typ)
        resource_id = args.resource_id or (natural_id(args) if natural_id else None) or f"{args.name}-id"
        outputs = dict(args.inputs)
        if args.typ.startswith("pulumi:providers:"):
            self._provider_regions[resource_id] = str(args.inputs.get("region") or self.default_region)
            return resource_id, outputs
        if not args.custom and args.custom is not None:
            return resource_id, outputs
        provider_id = args.provider.rsplit("::", 1)[-1] if args.provider else ""
        region = str(args.inputs.get("region") or self._provider_regions.get(provider_id, self.default_region))
        facts = ResourceFacts(typ=args.typ, name=args.name, inputs=outputs, region=region, account_id=self.account_id)
        computed = COMPUTED.get(args.typ)
        extra = computed(facts) if computed else {}
        for key, value in extra.items():
            outputs.setdefault(key, value)
        if args.typ.startswith("aws:"):
            outputs.setdefault("arn", _generic_arn(facts))
            outputs.setdefault("region", region)
        outputs.setdefault("name", facts.physical)
        return resource_id, outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        # The SDK's annotation says (dict, failures), but a (dict, None) pair breaks its MockMonitor:
        # it iterates the failures. A plain dict is the success form it handles.
        answer = INVOKES.get(args.token)
        if answer is not None:
            return answer(args.args)
        raise UnmockedInvokeError(
            f"invoke {args.token} is not implemented offline (tools/mocks.py); "
            "compute or configure the value instead, or add a deterministic answer for it"
        )
