"""A PostgreSQL database: a destination table, or a region's state store."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from contactsync_api.endpoints import EndpointSpec, present
from contactsync_api.values import SecretKeyRef, SecretRef

DEFAULT_PORT = 5432  # libpq's, where the connection string names none


class PostgresConnectionSpec(EndpointSpec):
    """How to reach a PostgreSQL database: the store's and a destination's alike."""

    dsn_secret_ref: SecretKeyRef = Field(
        description=(
            "Secret key holding a libpq connection string. TLS is required and verified "
            "(sslmode=verify-full) unless allowInsecure is set."
        )
    )
    allow_insecure: bool = Field(
        default=False,
        description=(
            "Use the connection string as given (development only). Otherwise the worker "
            "connects with sslmode=verify-full and refuses a string that asks for less."
        ),
    )
    ca_bundle_secret_ref: SecretKeyRef | None = Field(
        default=None,
        description=(
            "Secret key holding the PEM CA bundle that signed the server's certificate "
            "(sslrootcert); default: the image's system CAs."
        ),
    )

    def secret_refs(self) -> tuple[SecretRef, ...]:
        return present(self.dsn_secret_ref, self.ca_bundle_secret_ref)

    def ports(self) -> frozenset[int]:
        return frozenset({DEFAULT_PORT})

    def port_secret_ref(self) -> SecretKeyRef:
        # The host and port are in the connection string, which only the Secret holds.
        return self.dsn_secret_ref


class PostgresDestinationSpec(PostgresConnectionSpec):
    """A PostgreSQL table; contacts are upserted by their stable id."""

    # The same connection string and table: the same rows. Two Secrets naming one database
    # are beyond what the spec can see.
    location = ("dsnSecretRef.name", "dsnSecretRef.key", "schema", "table")

    table: Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_]*$", max_length=63)] = Field(
        default="contacts", description="Table name; created if missing."
    )
    schema_name: Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_]*$", max_length=63)] = (
        Field(default="public", alias="schema", description="Schema of the table.")
    )
