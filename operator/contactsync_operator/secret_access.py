"""Which Secrets a ContactSync may have its workers mount: those labelled for it.

A ContactSync's author names Secrets that its workers mount and send to the servers the
manifest names. Without a check, anyone who may write a ContactSync could have any Secret in
the namespace sent anywhere (a ServiceAccount token as a Bearer header, say). So a Secret is
used only when its owner labelled it ``contactsync.dev/use: <ContactSync name>``, and a
ServiceAccount token Secret never is. A Secret shared by several ContactSyncs lists their
names in the annotation of the same key instead (``contactsync.dev/use: "book,crm"``): label
values hold one name. A Secret that does not exist blocks too: created later, it would be
mounted by pods that already exist.
"""

from __future__ import annotations

from collections.abc import Callable

from contactsync_api.manifest import ContactSync
from contactsync_api.reasons import Reason
from contactsync_api.spec import RegionSpec
from contactsync_operator.kube import SecretMeta
from contactsync_operator.naming import SECRET_USE_LABEL
from contactsync_operator.observed import RegionAccess
from contactsync_operator.regionconfig import referenced_secrets

TOKEN_TYPE = "kubernetes.io/service-account-token"  # noqa: S105 - a Secret type


def mounted_secrets(resource: ContactSync, region: RegionSpec) -> list[str]:
    """Every Secret the manifest makes a region's workers mount, in a stable order."""
    names = [region.encryption.keys_secret_ref.name] if region.encryption else []
    temporal = region.temporal
    if temporal and temporal.tls_secret_ref:
        names.append(temporal.tls_secret_ref.name)
    if temporal and temporal.api_key_secret_ref:
        names.append(temporal.api_key_secret_ref.name)
    names += referenced_secrets(resource, region.name)
    return list(dict.fromkeys(names))


def check_secrets(
    resource: ContactSync, region: RegionSpec, meta: Callable[[str], SecretMeta | None]
) -> RegionAccess | None:
    """The first reason a region may not mount its Secrets, or None when it may."""
    for name in mounted_secrets(resource, region):
        secret = meta(name)
        if secret is None:
            return RegionAccess(region.name, f"Secret {name} does not exist", Reason.SECRET_MISSING)
        if secret.type == TOKEN_TYPE:
            return RegionAccess(
                region.name,
                f"Secret {name} is a ServiceAccount token; a ContactSync never mounts one",
                Reason.SECRET_NOT_ALLOWED,
            )
        if not _allows(secret, resource.name):
            return RegionAccess(
                region.name,
                f"Secret {name} is not labelled {SECRET_USE_LABEL}={resource.name} (nor lists "
                f"it in that annotation); its owner opts in with: kubectl label secret {name} "
                f"-n {resource.namespace} {SECRET_USE_LABEL}={resource.name}",
                Reason.SECRET_NOT_ALLOWED,
            )
    return None


def _allows(secret: SecretMeta, name: str) -> bool:
    listed = secret.annotations.get(SECRET_USE_LABEL, "")
    return secret.labels.get(SECRET_USE_LABEL) == name or name in {
        part.strip() for part in listed.split(",")
    }
