"""The PR comment for one stack and one source: what a change would do, read from one of three inputs.

- `from_snapshots`: the offline desired-state diff of two snapshots (base and head, each built from its
  own tree), with replacements known from `platform_lib.stateful`;
- `from_engine_events`: the JSON-lines engine events of a real `pulumi preview --json` run with
  `PULUMI_ENABLE_STREAMING_JSON_PREVIEW=true` (steps, diagnostics and policy events of one run);
- `from_preview_digest`: the single JSON document `pulumi preview --json` prints by default (it carries
  no policy events: pulumi/pulumi#18851).

Each reader is tolerant: text before or after the JSON, empty output, or lines that are not events are
reported in the comment ("could not be read") instead of crashing. `render` leads with what a reviewer
must see (counts, a CAUTION naming each stateful resource that would be replaced or deleted, the policy
verdict with every mandatory violation), folds the details, and fits the whole body, not only the
details, under GitHub's 65,536-character limit. The first line is a marker per stack and source, by
which the workflow updates the same comment on every push.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from platform_lib.stateful import STATEFUL, replacement_keys
from tools.architecture import read as read_architecture
from tools.diagram import DiagramChange, change_diagram

GITHUB_LIMIT = 65_536
BUDGET = GITHUB_LIMIT - 1_536
"""Room for the trimming notes and for GitHub counting some characters as more than one."""
OPS = ("create", "update", "replace", "delete")
SYMBOLS = {"create": "+", "update": "~", "replace": "+-", "delete": "-"}
SOURCES = {"offline": "offline desired state", "engine": "pulumi preview", "plan": "deploy plan"}
SUPPRESSED_POLICY = "suppressed-findings"
_ENGINE_OPS = {"create": "create", "update": "update", "replace": "replace", "delete": "delete", "import": "create"}
"""Logical engine ops shown as changes. A replacement also emits `create-replacement` and `delete-replaced`
steps (not logical); they are counted once, as the `replace` step (pkg/resource/deploy/step.go)."""


@dataclass(frozen=True)
class Change:
    op: str
    urn: str
    keys: tuple[str, ...] = ()
    """Properties that differ; for a replacement, those that force it."""

    @property
    def type(self) -> str:
        return self.urn.split("::")[-2].split("$")[-1]

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]

    @property
    def destroys_data(self) -> bool:
        return self.type in STATEFUL and self.op in {"replace", "delete"}


@dataclass(frozen=True)
class Finding:
    level: str
    """mandatory, advisory or suppressed."""
    policy: str
    urn: str
    message: str

    @property
    def resource(self) -> str:
        return self.urn.rsplit("::", 1)[-1] if self.urn else "(stack)"


@dataclass
class Verdict:
    pack: str
    findings: list[Finding] = field(default_factory=list)

    def of(self, level: str) -> list[Finding]:
        return [f for f in self.findings if f.level == level]


NOT_IN_PACK = "not in the pack"


@dataclass(frozen=True)
class EvidenceChange:
    """A rule whose verdict on the stack this change alters: evidence the assessor reads changes with it."""

    rule: str
    before: str
    """The verdict on the base (passes, passes with suppressions, advisory findings, fails, disabled, or
    NOT_IN_PACK), judged by the base's own pack and policy config."""
    after: str
    requirements: tuple[str, ...] = ()
    """The PCI DSS requirements the rule evidences (none: a hygiene rule)."""


@dataclass
class Preview:
    stack: str
    source: str
    """`offline` (snapshot diff) or `engine` (a real `pulumi preview`)."""
    changes: list[Change] = field(default_factory=list)
    same: int = 0
    verdict: Verdict | None = None
    errors: list[str] = field(default_factory=list)
    """Why the preview failed (the program's error, the engine's error diagnostics)."""
    unreadable: list[str] = field(default_factory=list)
    """What of the input could not be read, said in the comment instead of a crash."""
    base_failure: str = ""
    """Offline only: why the base could not be built (then every resource shows as new)."""
    log_tail: str = ""
    """The end of the run's own output, for a failure."""
    architecture: DiagramChange | None = None
    """Offline only: what the change adds, changes or removes on the architecture diagram."""
    evidence: list[EvidenceChange] = field(default_factory=list)
    """Offline only: the rules whose verdict differs from the base's."""
    evidence_report: str = ""
    """Where the head's PCI DSS evidence report is: a path, or the name of the run's artifact."""

    @property
    def failed(self) -> bool:
        return bool(self.errors) or (self.verdict is not None and bool(self.verdict.of("mandatory")))


@dataclass(frozen=True)
class RunInfo:
    """What the comment describes and where it came from, so a stale comment cannot pass for current."""

    commit: str = ""
    run_url: str = ""


def evidence_artifact(stack: str) -> str:
    """The name under which the pull-request workflow keeps the head's evidence report of `stack`."""
    return f"compliance-{stack}"


def marker(stack: str, source: str) -> str:
    return f"<!-- platform-preview:{stack}:{source} -->"


# ---------------------------------------------------------------------------------------------- readers


def from_snapshots(base: dict[str, Any] | None, head: dict[str, Any]) -> Preview:
    """The desired-state change from `base` to `head` (two offline snapshots; `base` None: everything new)."""
    before = {r["urn"]: r for r in (base or {}).get("resources", [])}
    after = {r["urn"]: r for r in head["resources"]}
    changes, same = [], 0
    for urn in sorted(before.keys() | after.keys()):
        if urn not in before:
            changes.append(Change("create", urn))
        elif urn not in after:
            changes.append(Change("delete", urn))
        elif keys := _changed(before[urn], after[urn]):
            new = after[urn]
            forcing = replacement_keys(new["type"], keys, new.get("options", {}).get("replaceOnChanges", []))
            changes.append(Change("replace", urn, tuple(forcing)) if forcing else Change("update", urn, keys))
        else:
            same += 1
    preview = Preview(head["stack"], "offline", _sorted(changes), same)
    if base is not None:
        try:
            preview.architecture = change_diagram(read_architecture(base), read_architecture(head))
        except Exception as error:  # the picture is a courtesy: it never costs the comment
            preview.unreadable.append(f"the architecture diagram could not be drawn: {type(error).__name__}: {error}")
    return preview


def _changed(old: dict[str, Any], new: dict[str, Any]) -> tuple[str, ...]:
    old_inputs, new_inputs = old["inputs"], new["inputs"]
    keys = {k for k in old_inputs.keys() | new_inputs.keys() if old_inputs.get(k) != new_inputs.get(k)}
    old_options, new_options = old.get("options", {}), new.get("options", {})
    keys |= {f"({k})" for k in old_options.keys() | new_options.keys() if old_options.get(k) != new_options.get(k)}
    if old.get("provider", "").rsplit("::", 1)[0] != new.get("provider", "").rsplit("::", 1)[0]:
        keys.add("(provider)")
    return tuple(sorted(keys))


def offline_verdict(report: dict[str, Any]) -> Verdict:
    """The offline policy report (`build/<stack>.policy.json`) as a verdict."""
    findings = [
        Finding(level, v["policy"], v["urn"], v["message"])
        for level in ("mandatory", "advisory", "suppressed")
        for v in report.get(level, [])
    ]
    return Verdict(str(report.get("pack", "")), findings)


def from_engine_events(text: str, stack: str) -> Preview:
    """A real preview from its JSON-lines engine events (apitype.EngineEvent, one per line)."""
    reading = _EventReader(Preview(stack, "engine"))
    for line in text.splitlines():
        if line.strip():
            reading.read(line)
    return reading.finish(text)


@dataclass
class _EventReader:
    preview: Preview
    changes: dict[str, Change] = field(default_factory=dict)
    findings: set[Finding] = field(default_factory=set)
    pack: str = ""
    summary: dict[str, Any] | None = None
    skipped: int = 0

    def read(self, line: str) -> None:
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            event = None
        if not isinstance(event, dict):
            self.skipped += 1
        elif step := _dict(_dict(event.get("resourcePreEvent")).get("metadata")):
            self._step(step)
        elif diagnostic := _dict(event.get("diagnosticEvent")):
            if diagnostic.get("severity") == "error":
                self.preview.errors.append(str(diagnostic.get("message", "")).strip())
        elif policy := _dict(event.get("policyEvent")):
            self.pack = self.pack or str(policy.get("policyPackName", ""))
            name = str(policy.get("policyName", ""))
            level = "suppressed" if name == SUPPRESSED_POLICY else str(policy.get("enforcementLevel", "advisory"))
            message = str(policy.get("message", "")).strip()
            self.findings.add(Finding(level, name, str(policy.get("resourceUrn", "")), message))
        elif "summaryEvent" in event:
            self.summary = _dict(event["summaryEvent"])
            self.pack = self.pack or ", ".join(sorted(_dict(self.summary.get("PolicyPacks"))))

    def _step(self, step: dict[str, Any]) -> None:
        op = _ENGINE_OPS.get(str(step.get("op")))
        urn = str(step.get("urn", ""))
        if op and urn and urn not in self.changes:
            keys = step.get("keys") if op == "replace" else step.get("diffs")
            self.changes[urn] = Change(op, urn, tuple(sorted(str(k) for k in keys or [])))
        elif step.get("op") == "same":
            self.preview.same += 1

    def finish(self, text: str) -> Preview:
        preview, summary = self.preview, self.summary
        preview.changes = _sorted(list(self.changes.values()))
        if self.findings or self.pack:
            preview.verdict = Verdict(self.pack, sorted(self.findings, key=_finding_order))
        if self.skipped:
            preview.unreadable.append(f"{self.skipped} line(s) of the output were not engine events and were skipped")
        mandatory = any(f.level == "mandatory" for f in self.findings)
        if not text.strip():
            preview.unreadable.append("the preview printed no engine events at all")
        elif summary is None:
            preview.unreadable.append("the event stream has no summary event: the preview did not finish")
        elif summary.get("result") == "failed" and not preview.errors and not mandatory:
            preview.errors.append("the engine reported the preview as failed")
        if summary is not None and preview.same == 0:
            preview.same = int(_dict(summary.get("resourceChanges")).get("same", 0))
        return preview


def from_preview_digest(text: str, stack: str) -> Preview:
    """`pulumi preview --json` without streaming: one JSON document, possibly with other text around it
    (policy pack installation messages are printed to stdout first: pulumi/pulumi#19775)."""
    preview = Preview(stack, "engine")
    start = text.find("{")
    try:
        document, end = json.JSONDecoder().raw_decode(text, start) if start >= 0 else (None, 0)
    except json.JSONDecodeError:
        document, end = None, 0
    if not isinstance(document, dict):
        if text.strip():
            preview.unreadable.append("the output is not a preview document")
        else:
            preview.unreadable.append("the preview printed nothing")
        return preview
    if text[:start].strip() or text[end:].strip():
        preview.unreadable.append("text before or after the preview document was skipped")
    changes: dict[str, Change] = {}
    for step in document.get("steps") or []:
        op = _ENGINE_OPS.get(str(_dict(step).get("op")))
        urn = str(_dict(step).get("urn", ""))
        if op and urn and urn not in changes:
            keys = step.get("replaceReasons") if op == "replace" else step.get("diffReasons")
            changes[urn] = Change(op, urn, tuple(sorted(str(k) for k in keys or [])))
    preview.changes = _sorted(list(changes.values()))
    preview.same = int(_dict(document.get("changeSummary")).get("same", 0))
    preview.errors = [
        str(d.get("message", "")).strip()
        for d in document.get("diagnostics") or []
        if isinstance(d, dict) and d.get("severity") == "error"
    ]
    return preview


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _sorted(changes: list[Change]) -> list[Change]:
    return sorted(changes, key=lambda c: (OPS.index(c.op), c.type, c.name))


def _finding_order(finding: Finding) -> tuple[int, str, str]:
    return (("mandatory", "advisory", "suppressed").index(finding.level) if finding.level in
            ("mandatory", "advisory", "suppressed") else 3, finding.policy, finding.urn)  # fmt: skip


# ---------------------------------------------------------------------------------------------- render


def counts(preview: Preview) -> dict[str, int]:
    return {op: sum(1 for c in preview.changes if c.op == op) for op in OPS}


def change_summary(preview: Preview, *, limit: int = 20) -> list[str]:
    """The terminal summary `make preview` prints: counts, then each change as `<symbol> type name`."""
    numbers = counts(preview)
    lines = [", ".join(f"{SYMBOLS[op]}{numbers[op]} {op}" for op in OPS) + f", {preview.same} unchanged"]
    for change in preview.changes[:limit]:
        because = f"  ({', '.join(change.keys)})" if change.keys else ""
        lines.append(f"  {SYMBOLS[change.op]:>2} {change.type} {change.name}{because}")
    if len(preview.changes) > limit:
        lines.append(f"  ... and {len(preview.changes) - limit} more")
    return lines


def render(preview: Preview, run: RunInfo = RunInfo()) -> str:
    """The comment body. Kept whole: marker, title, provenance, failures, counts, CAUTION, verdict and every
    mandatory violation. When the body would not fit, the change rows keep their room first, then the
    advisory rows, then the output tail (each trim says how much was left out)."""
    required = _header(preview, run) + _failure(preview) + _counts(preview) + _caution(preview)
    verdict_lines, mandatory_rows, advisory_rows = _verdict(preview.verdict)
    required += verdict_lines + _evidence(preview, run)
    mandatory = _table(["level", "rule", "resource", "finding", "fix"], mandatory_rows)
    details = _details(f"Changes ({len(preview.changes)})", ["op", "type", "name", "properties"], _change_rows(preview))
    advisory = _details(
        f"Advisory findings ({len(advisory_rows)})", ["level", "rule", "resource", "finding", "fix"], advisory_rows
    )
    tail = _log_tail(preview.log_tail)
    picture = _architecture(preview.architecture)
    return _fit(required, mandatory, [details, advisory, tail, picture], display=[3, 1, 0, 2])


def _header(preview: Preview, run: RunInfo) -> list[str]:
    lines = [
        marker(preview.stack, preview.source),
        f"### Pulumi preview of `{preview.stack}` ({SOURCES[preview.source]})",
    ]
    provenance = []
    if run.commit:
        sha, _, local = run.commit.partition("+")
        provenance.append(f"commit `{sha[:12]}`" + (" with uncommitted changes" if local else ""))
    if run.run_url:
        provenance.append(f"[workflow run]({run.run_url})")
    if provenance:
        lines.append("<sub>" + " · ".join(provenance) + "</sub>")
    return [*lines, ""]


def _failure(preview: Preview) -> list[str]:
    lines: list[str] = []
    if preview.base_failure:
        lines += [
            "> [!WARNING]",
            "> **The base could not be built**, so this diff treats every resource of the head as new. Why:",
            *[f"> {line}" for line in _quote(preview.base_failure)],
            "",
        ]
    if preview.errors:
        lines += [":x: **The preview failed.** What the run reported:", "", "```text"]
        lines += [_fence(error) for error in preview.errors]
        lines += ["```", ""]
    if preview.unreadable:
        lines += [":warning: **Part of the output could not be read**: " + "; ".join(preview.unreadable) + ".", ""]
    return lines


def _counts(preview: Preview) -> list[str]:
    numbers = counts(preview)
    return [
        "| " + " | ".join(f"{SYMBOLS[op]} {op}" for op in OPS) + " | unchanged |",
        "| " + " | ".join("---:" for _ in (*OPS, "same")) + " |",
        "| " + " | ".join(str(numbers[op]) for op in OPS) + f" | {preview.same} |",
        "",
        *(["No changes.", ""] if not preview.changes and not preview.errors else []),
    ]


def _caution(preview: Preview) -> list[str]:
    destructive = [c for c in preview.changes if c.destroys_data]
    if not destructive:
        return []
    lines = [
        "> [!CAUTION]",
        f"> **{len(destructive)} stateful resource(s) would be replaced or deleted**, and with them their data. "
        "Confirm this is intended and that a backup or snapshot exists.",
    ]
    for change in destructive:
        because = f" because of {', '.join(f'`{k}`' for k in change.keys)}" if change.keys else ""
        lines.append(f"> - **{change.op}** `{change.type}` `{change.name}`{because}: {STATEFUL[change.type].what}")
    return [*lines, ""]


def _verdict(verdict: Verdict | None) -> tuple[list[str], list[str], list[str]]:
    if verdict is None:
        return [], [], []
    mandatory, advisory, suppressed = verdict.of("mandatory"), verdict.of("advisory"), verdict.of("suppressed")
    outcome = ":x: fails" if mandatory else ":white_check_mark: passes"
    line = (
        f"**Policy pack** `{verdict.pack or 'unknown'}` {outcome}: {len(mandatory)} mandatory, "
        f"{len(advisory)} advisory, {len(suppressed)} suppressed."
    )
    return [line, ""], [_finding_row(f) for f in mandatory], [_finding_row(f) for f in advisory]


def _evidence(preview: Preview, run: RunInfo) -> list[str]:
    """Said only when a verdict changes; names the requirements and where the head's report is."""
    if not preview.evidence:
        return []
    where = f"`{preview.evidence_report}`" if preview.evidence_report else ""
    if where and run.run_url:
        where += f", kept as artifact `{evidence_artifact(preview.stack)}` of the [workflow run]({run.run_url})"
    lines = [
        f"**PCI DSS evidence changes**: {len(preview.evidence)} rule verdict(s) differ from the base"
        + (f"; the full report is the {where}." if where else "."),
        "",
        "| rule | base | this change | PCI DSS requirements |",
        "| --- | --- | --- | --- |",
    ]
    for change in preview.evidence:
        requirements = ", ".join(change.requirements) or "none (hygiene)"
        lines.append(f"| `{change.rule}` | {change.before} | **{change.after}** | {requirements} |")
    return [*lines, ""]


def _finding_row(finding: Finding) -> str:
    lines = [line for line in finding.message.splitlines() if line.strip()] or [""]
    fix = next((line.removeprefix("Fix: ") for line in lines if line.startswith("Fix: ")), "")
    details = [line for line in lines[1:] if not line.startswith(("Why: ", "Fix: "))]
    text = " ".join(details) or lines[0]
    return f"| {finding.level} | `{finding.policy}` | `{finding.resource}` | {_cell(text)} | {_cell(fix)} |"


def _change_rows(preview: Preview) -> list[str]:
    return [
        f"| {SYMBOLS[c.op]} {c.op} | `{c.type}` | `{c.name}` | {', '.join(f'`{k}`' for k in c.keys)} |"
        for c in preview.changes
    ]


def _table(columns: list[str], rows: list[str]) -> list[str]:
    if not rows:
        return []
    return [*_columns(columns), *rows]


def _columns(columns: list[str]) -> list[str]:
    return ["| " + " | ".join(columns) + " |", "| " + " | ".join("---" for _ in columns) + " |"]


def _details(summary: str, columns: list[str], rows: list[str]) -> tuple[list[str], list[str], list[str]]:
    if not rows:
        return [], [], []
    return [f"<details><summary>{summary}</summary>", "", *_columns(columns)], rows, ["", "</details>", ""]


def _architecture(change: DiagramChange | None) -> tuple[list[str], list[str], list[str]]:
    """The changed neighbourhood of the diagram, folded; one row, so it is shown whole or not at all."""
    if change is None or not change.summary:
        return [], [], []
    head = [f"<details><summary>Architecture: {change.summary}</summary>", "", "```mermaid"]
    return head, [change.mermaid.rstrip("\n")], ["```", "</details>", ""]


def _log_tail(text: str) -> tuple[list[str], list[str], list[str]]:
    lines = [_fence(line) for line in text.strip().splitlines() if line.strip()][-80:]
    if not lines:
        return [], [], []
    return ["<details><summary>End of the run's output</summary>", "", "```text"], lines, ["```", "</details>", ""]


def _fit(
    required: list[str],
    mandatory: list[str],
    optional: list[tuple[list[str], list[str], list[str]]],
    *,
    display: list[int],
) -> str:
    """The required lines whole; then the mandatory table; then the optional blocks (head, rows, tail),
    given in priority order, each with as many rows as still fit, shown in the order `display` names."""
    body = list(required)
    if _size(body) + _size(mandatory) > BUDGET:
        kept = _take(mandatory[2:], BUDGET - _size(body) - _size(mandatory[:2]) - 200)
        left_out = len(mandatory) - 2 - len(kept)
        mandatory = [*mandatory[:2], *kept, f"\n_{left_out} more mandatory violations: see the run's log._"]
    body += [*mandatory, ""] if mandatory else []
    used = _size(body)
    blocks: list[list[str]] = []
    for head, rows, tail in optional:
        room = BUDGET - used - _size(head) - _size(tail) - 200
        kept = _take(rows, room) if rows and room > 0 else []
        if not kept:
            blocks.append([])
            continue
        block = [*head, *kept]
        if len(kept) < len(rows):
            block.append(
                f"\n_{len(rows) - len(kept)} more rows left out (GitHub limits a comment to {GITHUB_LIMIT:,} "
                "characters); the run's log has them all._"
            )
        blocks.append([*block, *tail])
        used += _size(blocks[-1])
    for index in display:
        body += blocks[index]
    return "\n".join(body).rstrip("\n") + "\n"


def _take(rows: list[str], room: int) -> list[str]:
    kept, used = [], 0
    for row in rows:
        if used + len(row) + 1 > room:
            break
        kept.append(row)
        used += len(row) + 1
    return kept


def _size(lines: list[str]) -> int:
    return sum(len(line) + 1 for line in lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")[:1_000]


def _fence(text: str) -> str:
    return text.replace("```", "'''")


def _quote(text: str) -> list[str]:
    lines = [_fence(line) for line in text.strip().splitlines() if line.strip()]
    return lines[-20:] or ["(no output)"]
