"""What ``contactsync render`` prints: the operator's first plan for each ContactSync, as YAML.

Pure: ContactSyncs and operator settings in, one YAML stream out, the same bytes for the same
input. The objects and schedules come from the operator's planner (contactsync_operator.preview);
this module only lays them out, with comments that say what was assumed.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import yaml

from contactsync_api.manifest import ContactSync
from contactsync_cli import schedule_view
from contactsync_cli.render_options import NAMESPACE_NAME_LABEL, Egress, Only
from contactsync_operator import naming
from contactsync_operator.planner import CreateSchedule, Plan
from contactsync_operator.preview import ASSUMPTIONS, first_plan
from contactsync_operator.settings import OperatorSettings

# A ContactSync's uid is given by the API server when it is created; objects need it in their
# owner reference before then. Any non-empty value passes validation.
PLACEHOLDER_UID = "00000000-0000-0000-0000-000000000000"
_COMMENT_WIDTH = 98


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (the worker config's JSON) as literal blocks, readable in a review."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def _comment(lines: Sequence[str]) -> str:
    """``lines`` as YAML comments, wrapped; a line starting "- " continues indented."""
    out = []
    for line in lines:
        indent = "  " if line.startswith("- ") else ""
        out += textwrap.wrap(line, _COMMENT_WIDTH, subsequent_indent=indent, break_on_hyphens=False)
    return "".join(f"# {line}\n" for line in out)


def _document(comments: Sequence[str], body: Mapping[str, Any]) -> str:
    return (
        "---\n"
        + _comment(comments)
        + yaml.dump(dict(body), Dumper=_Dumper, sort_keys=False, width=100)
    )


def _header(
    path: str, settings: OperatorSettings, egress: Egress, owner_uid_given: bool
) -> list[str]:
    temporal = settings.temporal
    lines = [
        f"contactsync render {path}: what the operator would create on its first reconcile, "
        "planned by the operator's own planner. Render reads no cluster; it assumes:",
        *(f"- {assumption}" for assumption in ASSUMPTIONS),
        f"- operator settings: worker image {settings.worker_image}, Temporal "
        f"{temporal.address} (namespace {temporal.namespace}), every region served, no worker "
        "TLS Secret, not plain text; other settings at the operator's defaults",
    ]
    if egress.policies is None:
        lines.append(
            "- no ContactSyncEgressPolicy observed: egress is not narrowed to a policy's "
            "blocks (with policies installed, a namespace none selects gets no workers)"
        )
    else:
        names = ", ".join(p.name for p in egress.policies) or "none"
        labels = ", ".join(f"{k}={v}" for k, v in sorted((egress.namespace_labels or {}).items()))
        lines.append(
            f"- the ContactSyncEgressPolicies given ({names}), matched against the namespace "
            f"labels {labels + ' and ' if labels else ''}{NAMESPACE_NAME_LABEL}"
        )
    if not owner_uid_given:
        lines.append(
            f"- owner uid {PLACEHOLDER_UID}: the ContactSync's uid exists only once it is "
            "created (metadata.uid in FILE is used when present)"
        )
    lines += [
        f"Kubernetes objects are as the operator applies them; {schedule_view.KIND} documents "
        f"({schedule_view.API_VERSION}) are for reading, not for kubectl apply (--only "
        "kubernetes prints a stream kubectl can apply).",
    ]
    return lines


def _owned(resource: ContactSync) -> ContactSync:
    return resource if resource.uid else replace(resource, uid=PLACEHOLDER_UID)


def _region_notes(the_plan: Plan) -> list[str]:
    notes = []
    for region in the_plan.regions:
        if not region.served_here:
            notes.append(f"region {region.name}: served by another cluster's operator")
        elif region.blocked_reason:
            notes.append(
                f"region {region.name}: nothing created ({region.blocked_reason}): "
                f"{region.blocked_message}"
            )
    return notes


def render(
    path: str,
    resources: Sequence[ContactSync],
    settings: OperatorSettings,
    only: Only | None = None,
    egress: Egress | None = None,
) -> str:
    egress = egress or Egress()
    owner_uid_given = all(r.uid for r in resources)
    out = [_comment(_header(path, settings, egress, owner_uid_given))]
    for declared in resources:
        resource = _owned(declared)
        the_plan = first_plan(
            resource, settings, egress.policies, egress.labels_of(resource.namespace)
        )
        who = f"ContactSync {resource.namespace}/{resource.name}"
        out.append("#\n" + _comment([who, *_region_notes(the_plan)]))
        if only is not Only.SCHEDULES:
            for manifest in the_plan.apply:
                region = manifest["metadata"]["labels"][naming.REGION_LABEL]
                out.append(_document([f"{who}, region {region}"], manifest))
        if only is not Only.KUBERNETES:
            out += _schedules(resource, the_plan, settings)
    return "".join(out)


def _schedules(resource: ContactSync, the_plan: Plan, settings: OperatorSettings) -> list[str]:
    regions = {r.name: r for r in resource.spec.regions}
    region_of = {i: r.name for r in the_plan.regions for i in r.schedule_ids}
    documents = []
    for change in the_plan.schedules:
        assert isinstance(change, CreateSchedule)  # nothing exists yet: nothing to update
        region = region_of[change.desired.schedule_id]
        description = schedule_view.describe(
            change.desired,
            f"{resource.namespace}/{resource.name}",
            region,
            settings.temporal.address,
            settings.temporal_namespace(regions[region]),
        )
        comment = "A Temporal schedule the operator creates: for reading, not for kubectl apply"
        documents.append(_document([comment], description))
    return documents
