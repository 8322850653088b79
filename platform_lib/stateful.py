"""Stateful resource types: which deletions lose data, and which input changes force a replacement.

A replacement of a stateful resource is a deletion with a new, empty resource beside it. The engine
knows which inputs force one from the provider; the offline desired-state diff has no provider, so
this table says it, with the source of each fact next to it. Both PR comments (offline and engine)
use `STATEFUL` to decide what goes into the CAUTION block.

Sources. pulumi-aws 7.x bridges terraform-provider-aws (v6 line): an argument marked `ForceNew: true`
in its schema forces a replacement. The facts below were read in that provider's Go schema
(`internal/service/<svc>/<resource>.go`) or its docs page (`website/docs/r/<resource>.html.markdown`)
as named per entry; `verified` says which were read in this repository's research and which come from
the provider's documented behaviour without a source read. pulumi-postgresql 3.x bridges
cyrilgdn/terraform-provider-postgresql; pulumi-random bridges terraform-provider-random.
A fact that turns out wrong errs on the side of a CAUTION that the real preview then corrects.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class StatefulType:
    """A resource type whose deletion loses data or access to it."""

    what: str
    """What is lost, in the reviewer's terms."""
    replace_on: frozenset[str]
    """Top-level input properties (engine camelCase names) whose change forces a replacement."""
    source: str
    """Where the replacement facts come from."""
    verified: bool
    """True when `source` was read; False when taken from the provider's documented behaviour."""


def _t(what: str, replace_on: Iterable[str], source: str, *, verified: bool) -> StatefulType:
    return StatefulType(what, frozenset(replace_on), source, verified)


_TF_AWS = "terraform-provider-aws internal/service/"
STATEFUL: dict[str, StatefulType] = {
    "aws:rds/instance:Instance": _t(
        "the database and its automated backups",
        # identifierPrefix, characterSetName, ncharCharacterSetName, snapshotIdentifier, timezone,
        # restoreToPointInTime, customIamInstanceProfile: also ForceNew; listed where the platform could set them.
        ["availabilityZone", "characterSetName", "customIamInstanceProfile", "dbName", "engine", "identifier",
         "identifierPrefix", "kmsKeyId", "ncharCharacterSetName", "restoreToPointInTime", "snapshotIdentifier",
         "storageEncrypted", "timezone", "username"],
        _TF_AWS + "rds/instance.go (schema: ForceNew)",
        verified=True,
    ),
    "aws:rds/cluster:Cluster": _t(
        "the cluster's data",
        ["clusterIdentifier", "databaseName", "engine", "kmsKeyId", "masterUsername", "storageEncrypted"],
        _TF_AWS + "rds/cluster.go (schema: ForceNew)",
        verified=False,
    ),
    "aws:s3/bucket:Bucket": _t(
        "every object in the bucket",
        ["bucket", "bucketPrefix", "objectLockEnabled"],
        _TF_AWS + "s3/bucket.go (schema: ForceNew)",
        verified=False,
    ),
    "aws:dynamodb/table:Table": _t(
        "every item in the table",
        ["hashKey", "localSecondaryIndexes", "name", "rangeKey"],
        _TF_AWS + "dynamodb/table.go (schema: ForceNew)",
        verified=False,
    ),
    "aws:kms/key:Key": _t(
        "the key: whatever it encrypted can no longer be decrypted",
        ["customKeyStoreId", "customerMasterKeySpec", "keySpec", "keyUsage", "multiRegion", "xksKeyId"],
        _TF_AWS + "kms/key.go (schema: ForceNew)",
        verified=False,
    ),
    "aws:sqs/queue:Queue": _t(
        "the messages waiting in the queue",
        ["fifoQueue", "name", "namePrefix"],
        _TF_AWS + "sqs/queue.go (schema: ForceNew)",
        verified=False,
    ),
    "aws:secretsmanager/secret:Secret": _t(
        "the secret and its versions (recoverable only within the recovery window)",
        ["name", "namePrefix"],
        _TF_AWS + "secretsmanager/secret.go (schema: ForceNew)",
        verified=False,
    ),
    "aws:secretsmanager/secretVersion:SecretVersion": _t(
        "the secret value",
        ["secretId", "secretString", "secretBinary"],
        _TF_AWS + "secretsmanager/secret_version.go (schema: ForceNew)",
        verified=False,
    ),
    "aws:cloudwatch/logGroup:LogGroup": _t(
        "the log group's retained logs (audit evidence)",
        ["logGroupClass", "name", "namePrefix"],
        _TF_AWS + "logs/group.go (schema: ForceNew)",
        verified=False,
    ),
    "aws:ecr/repository:Repository": _t(
        "every image in the repository",
        ["encryptionConfigurations", "name"],
        _TF_AWS + "ecr/repository.go (schema: ForceNew)",
        verified=False,
    ),
    "aws:ses/domainIdentity:DomainIdentity": _t(
        "the verified domain: inbound mail stops until DNS verification is redone",
        ["domain"],
        _TF_AWS + "ses/domain_identity.go (schema: ForceNew)",
        verified=False,
    ),
    "postgresql:index/database:Database": _t(
        "the database and every table in it (a change of `name` is an in-place ALTER DATABASE RENAME)",
        ["encoding", "lcCollate", "lcCtype", "template"],
        "cyrilgdn/terraform-provider-postgresql postgresql/resource_postgresql_database.go (schema: ForceNew; "
        "setDBName renames in place)",
        verified=True,
    ),
    "postgresql:index/schema:Schema": _t(
        "every table in the schema (DROP SCHEMA; RESTRICT fails on a non-empty schema, CASCADE drops it all)",
        ["database"],
        "cyrilgdn/terraform-provider-postgresql postgresql/resource_postgresql_schema.go (schema: `database` "
        "ForceNew; setSchemaName renames in place)",
        verified=True,
    ),
    "postgresql:index/role:Role": _t(
        "the role, its grants and its password (a rename is in place but resets an md5 password)",
        [],
        "cyrilgdn/terraform-provider-postgresql postgresql/resource_postgresql_role.go (setRoleName renames in place)",
        verified=True,
    ),
    "random:index/randomPassword:RandomPassword": _t(
        "the generated password: every client holding it is locked out until it is redistributed",
        ["keepers", "length", "lower", "minLower", "minNumeric", "minSpecial", "minUpper", "number", "numeric",
         "overrideSpecial", "special", "upper"],
        "terraform-provider-random internal/provider/resource_password.go (every argument RequiresReplace)",
        verified=False,
    ),
}  # fmt: skip


def replacement_keys(type_token: str, changed: Iterable[str], replace_on_changes: Iterable[str] = ()) -> list[str]:
    """The changed inputs that force `type_token` to be replaced: the provider's facts, plus the resource's own
    `replaceOnChanges` option (which applies to any type). `changed` holds top-level property names; a
    nested path (`a.b`, `a[0]`) counts for its top-level property."""
    facts = STATEFUL.get(type_token)
    forcing = set(facts.replace_on if facts else ()) | {_top(key) for key in replace_on_changes}
    if "*" in forcing:
        return sorted(changed)
    return sorted(key for key in changed if _top(key) in forcing)


def _top(path: str) -> str:
    return path.split(".", 1)[0].split("[", 1)[0]


PROTECTED_IN_PRODUCTION: frozenset[str] = frozenset(
    {"aws:rds/instance:Instance", "aws:s3/bucket:Bucket", "aws:dynamodb/table:Table", "aws:kms/key:Key"}
)
"""The data-holding types production must `protect`: the components set it from the prd profile and
the pack's `stateful-resources-protected` rule demands it. (The rest of STATEFUL is only flagged on
replacement: a queue or a log group lost is an incident, not a loss of the ledger.)"""
