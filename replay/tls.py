"""Throwaway TLS for the CONNECT tunnel: a CA generated at startup signs one certificate per host on demand.

Clients such as Scrapy do not verify certificates by default; a client that does can trust ``ca_pem`` (also written
to ``ca_path``).  Keys are EC P-256, so generating them takes milliseconds.
"""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import ssl
import tempfile
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


class CertificateAuthority:
    """A self-signed CA plus cached per-host server contexts.  ``close()`` removes the temporary key files."""

    def __init__(self) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="healthdex-replay-tls-"))
        self._lock = threading.Lock()
        self._contexts: dict[str, ssl.SSLContext] = {}
        now = datetime.datetime.now(datetime.UTC)
        self._not_before = now - datetime.timedelta(days=1)
        self._not_after = now + datetime.timedelta(days=30)
        self._ca_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "healthdex replay throwaway CA")])
        self._ca_name = name
        self.ca_cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self._not_before)
            .not_valid_after(self._not_after)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self._ca_key.public_key()), critical=False)
            .sign(self._ca_key, hashes.SHA256())
        )
        self.ca_pem = self.ca_cert.public_bytes(serialization.Encoding.PEM)
        self.ca_path = self._dir / "ca.pem"
        self.ca_path.write_bytes(self.ca_pem)
        self._leaf_key = ec.generate_private_key(ec.SECP256R1())
        self._key_path = self._dir / "leaf-key.pem"
        self._key_path.write_bytes(self._leaf_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        self._key_path.chmod(0o600)

    def context_for(self, host: str) -> ssl.SSLContext:
        """A server-side SSLContext presenting a certificate for ``host`` (a name or an IP address)."""
        host = host.lower().strip("[]")
        with self._lock:
            ctx = self._contexts.get(host)
            if ctx is None:
                ctx = self._make_context(host)
                self._contexts[host] = ctx
            return ctx

    def _make_context(self, host: str) -> ssl.SSLContext:
        try:
            san: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
            common = host
        except ValueError:
            san = x509.DNSName(host)
            common = host[:64] or "replay"
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)]))
            .issuer_name(self._ca_name)
            .public_key(self._leaf_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self._not_before)
            .not_valid_after(self._not_after)
            .add_extension(x509.SubjectAlternativeName([san]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self._ca_key.public_key()),
                           critical=False)
            .sign(self._ca_key, hashes.SHA256())
        )
        chain = self._dir / f"cert-{len(self._contexts)}.pem"
        chain.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + self.ca_pem)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(chain, self._key_path)
        ctx.set_alpn_protocols(["http/1.1"])
        return ctx

    def close(self) -> None:
        shutil.rmtree(self._dir, ignore_errors=True)
