"""Certificates for the simulated Envoy and cloud, made fresh with `cryptography`.

- a test CA ("Envoy Diverter Test Root") and a server certificate it signs for 127.0.0.1 and
  localhost: the simulated Enlighten/Entrez. The firmware trusts the CA's DER via
  enlighten.ca_file, exactly as it trusts the bundled public roots on a real board.
- self-signed Envoy certificates like the real ones: CN = serial, no SAN, long expired. Two of
  them, so tests can swap the Envoy's certificate under a pinned client.
"""

import datetime
import hashlib
import ipaddress
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

DAY = datetime.timedelta(days=1)


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write(folder, stem, cert, key):
    pem = serialization.Encoding.PEM
    with open(os.path.join(folder, stem + ".pem"), "wb") as f:
        f.write(cert.public_bytes(pem))
    with open(os.path.join(folder, stem + ".der"), "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.DER))
    with open(os.path.join(folder, stem + ".key"), "wb") as f:
        f.write(
            key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )


def _self_signed_envoy(serial, not_after):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(serial))
        .issuer_name(_name(serial))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - 3000 * DAY)
        .not_valid_after(now + not_after)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def make(folder: str, serial: str = "122446001637") -> dict[str, str]:
    """Create (once) the test PKI in folder; returns a dict of paths."""
    paths = {
        "ca_der": os.path.join(folder, "ca.der"),
        "cloud_pem": os.path.join(folder, "cloud.pem"),
        "cloud_key": os.path.join(folder, "cloud.key"),
        "envoy_pem": os.path.join(folder, "envoy.pem"),
        "envoy_key": os.path.join(folder, "envoy.key"),
        "envoy2_pem": os.path.join(folder, "envoy2.pem"),
        "envoy2_key": os.path.join(folder, "envoy2.key"),
    }
    if all(os.path.exists(p) for p in paths.values()):
        return paths
    os.makedirs(folder, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("Envoy Diverter Test Root"))
        .issuer_name(_name("Envoy Diverter Test Root"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - DAY)
        .not_valid_after(now + 3650 * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cloud = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - DAY)
        .not_valid_after(now + 825 * DAY)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write(folder, "ca", ca, ca_key)
    _write(folder, "cloud", cloud, key)
    # Real Envoy certificates are self-signed, CN = serial, and expired: the client must not care.
    _write(folder, "envoy", *_self_signed_envoy(serial, -10 * DAY))
    _write(folder, "envoy2", *_self_signed_envoy(serial, -10 * DAY))
    return paths


def sha256_of_pem(path: str) -> str:
    with open(path, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
