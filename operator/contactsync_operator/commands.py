"""The operator's own subcommands of ``contactsync``: run the operator, and uninstall.

They raise the operator's errors (SettingsError, UninstallError); the command line turns
those into a message and an exit code.
"""

from __future__ import annotations

import asyncio
import secrets
import socket


def run_operator(liveness: str | None, standalone: bool, verbose: bool) -> None:
    """Run the Kopf operator until it is stopped. Raises SettingsError before anything starts
    when the environment is wrong, so the user reads what is wrong rather than a traceback."""
    import kopf
    from kopf._core.engines.peering import Identity  # kopf names the type only internally

    from contactsync_operator.settings import settings_from_env

    settings_from_env()  # the handlers read it at import
    from contactsync_operator import handlers
    from contactsync_operator.peering import PEERING_NAME

    kopf.configure(verbose=verbose, log_format=kopf.LogFormat.JSON)
    namespaces = handlers.SETTINGS.namespaces
    asyncio.run(
        kopf.operator(
            clusterwide=not namespaces,
            namespaces=list(namespaces),
            liveness_endpoint=liveness,
            standalone=standalone,
            peering_name=None if standalone else PEERING_NAME,
            identity=Identity(peering_identity()),
        )
    )


def peering_identity() -> str:
    """This replica's name among its Kopf peers: the pod's name (its hostname) and a random
    suffix, so a restarted container is a new peer. Kopf's default asks the password database
    for the user's name, and the UID a cluster runs the image as may have no entry there."""
    return f"{socket.gethostname()}/{secrets.token_hex(4)}"


def run_uninstall(contactsyncs: str, operator: str | None, timeout: float) -> str:
    """Release (or delete) every ContactSync the operator watches; says what it did.
    Raises UninstallError, the API server's refusals included."""
    from kubernetes.client.exceptions import ApiException

    from contactsync_operator import uninstall
    from contactsync_operator.kube import api_client
    from contactsync_operator.settings import watched_namespaces

    namespaces = watched_namespaces()
    api = api_client()
    try:
        if contactsyncs == "delete":
            done = uninstall.delete_all(api, namespaces, timeout)
        else:
            if operator:
                namespace, _, name = operator.partition("/")
                deployment = uninstall.OperatorDeployment(namespace, name)
                uninstall.stop_operator(api, deployment, timeout)
            done = uninstall.release(api, namespaces)
    except ApiException as exc:
        raise uninstall.UninstallError(str(exc)) from exc
    verb = "deleted and cleaned up" if contactsyncs == "delete" else "released"
    return f"{verb} {len(done)} ContactSync(s): {', '.join(done) or 'none'}"
