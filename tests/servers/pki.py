"""Certificates and keys for the local control plane, made fresh for every test session."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = dt.timedelta(days=2)


@dataclass(frozen=True)
class CertPair:
    cert: Path
    key: Path


@dataclass(frozen=True)
class ControlPlanePki:
    ca: CertPair
    apiserver: CertPair
    service_account_key: Path
    service_account_pub: Path
    clients: dict[str, CertPair]


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attributes)


def _write_key(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _issue(
    directory: Path,
    stem: str,
    subject: x509.Name,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    *,
    server_names: tuple[str, ...] = (),
    client: bool = False,
) -> tuple[CertPair, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    issuer_name, issuer_key = issuer if issuer else (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if issuer is None:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    else:
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH] if client else [ExtendedKeyUsageOID.SERVER_AUTH]
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    if server_names:
        alt_names: list[x509.GeneralName] = []
        for name in server_names:
            try:
                alt_names.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                alt_names.append(x509.DNSName(name))
        builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
    cert = builder.sign(issuer_key, hashes.SHA256())
    pair = CertPair(cert=directory / f"{stem}.crt", key=directory / f"{stem}.key")
    pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key, pair.key)
    return pair, key


def make_ca(directory: Path, common_name: str) -> CertPair:
    """A self-signed CA of its own, e.g. for a server outside the control plane."""
    directory.mkdir(parents=True, exist_ok=True)
    pair, _ = _issue(directory, "ca", _name(common_name), None)
    return pair


def issue(
    ca: CertPair,
    directory: Path,
    stem: str,
    common_name: str,
    organization: str | None = None,
    *,
    server_names: tuple[str, ...] = (),
    client: bool = False,
) -> CertPair:
    """A certificate signed by an existing CA: a kubelet's serving cert or a node's identity."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_cert = x509.load_pem_x509_certificate(ca.cert.read_bytes())
    ca_key = serialization.load_pem_private_key(ca.key.read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    pair, _ = _issue(
        directory,
        stem,
        _name(common_name, organization),
        (ca_cert.subject, ca_key),
        server_names=server_names,
        client=client,
    )
    return pair


def make_control_plane_pki(
    directory: Path,
    client_identities: dict[str, tuple[str, str | None]],
    host: str = "127.0.0.1",
) -> ControlPlanePki:
    """A CA, the API server's serving cert, client certs and the ServiceAccount signing key.

    ``host`` is the address the API server listens on besides loopback's name.
    ``client_identities`` maps a file stem to (user name, group); the API server
    reads the user from CN and the group from O.
    """
    directory.mkdir(parents=True, exist_ok=True)
    ca_name = _name("contactsync-test-ca")
    ca, ca_key = _issue(directory, "ca", ca_name, None)
    apiserver, _ = _issue(
        directory,
        "apiserver",
        _name("kube-apiserver"),
        (ca_name, ca_key),
        server_names=(
            *dict.fromkeys(("127.0.0.1", host)),
            "localhost",
            "10.0.0.1",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        ),
    )
    clients = {
        stem: _issue(directory, stem, _name(user, group), (ca_name, ca_key), client=True)[0]
        for stem, (user, group) in client_identities.items()
    }
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sa_key_path = directory / "service-account.key"
    _write_key(sa_key, sa_key_path)
    sa_pub_path = directory / "service-account.pub"
    sa_pub_path.write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return ControlPlanePki(
        ca=ca,
        apiserver=apiserver,
        service_account_key=sa_key_path,
        service_account_pub=sa_pub_path,
        clients=clients,
    )
