"""Throwaway TLS for the CONNECT tunnel: a CA generated at startup signs one certificate per host on demand.

Clients such as Scrapy do not verify certificates by default; a client that does can trust ``ca_pem``.  Keys are
EC P-256, so generating them takes milliseconds.

Nothing stays on disk: ``ssl.SSLContext.load_cert_chain`` only reads files, so each host's certificate chain and the
key are written to a private temporary folder (``healthdex-replay-tls-*``) that is removed as soon as the context has
loaded them.  (The folder used to live as long as the server, and every replay process that was killed, or not
stopped, left one in /tmp with the key in it.)
"""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import ssl
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


class CertificateAuthority:
    """A self-signed CA plus cached per-host server contexts (no files kept), at most ``max_hosts`` of them (the
    least recently used is dropped: a client naming endless hosts cannot grow the cache)."""

    def __init__(self, max_hosts: int = 256) -> None:
        self._lock = threading.Lock()
        self._contexts: OrderedDict[str, ssl.SSLContext] = OrderedDict()
        self.max_hosts = max(1, max_hosts)
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
            .add_extension(
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
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self._ca_key.public_key()), critical=False)
            .sign(self._ca_key, hashes.SHA256())
        )
        self.ca_pem = self.ca_cert.public_bytes(serialization.Encoding.PEM)
        self._leaf_key = ec.generate_private_key(ec.SECP256R1())
        self._leaf_key_pem = self._leaf_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def context_for(self, host: str) -> ssl.SSLContext:
        """A server-side SSLContext presenting a certificate for ``host`` (a name or an IP address)."""
        host = host.lower().strip("[]")
        with self._lock:
            ctx = self._contexts.get(host)
            if ctx is None:
                ctx = self._make_context(host)
                self._contexts[host] = ctx
                if len(self._contexts) > self.max_hosts:
                    self._contexts.popitem(last=False)
            else:
                self._contexts.move_to_end(host)
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
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._ca_key.public_key()), critical=False
            )
            .sign(self._ca_key, hashes.SHA256())
        )
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        # mkdtemp: a folder only this user can read; removed before the context is used.
        folder = Path(tempfile.mkdtemp(prefix="healthdex-replay-tls-"))
        try:
            chain, key = folder / "chain.pem", folder / "key.pem"
            key.touch(mode=0o600)
            key.write_bytes(self._leaf_key_pem)
            chain.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + self.ca_pem)
            ctx.load_cert_chain(chain, key)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        ctx.set_alpn_protocols(["http/1.1"])
        return ctx

    def close(self) -> None:
        """Forget the per-host contexts (kept for callers of the old interface; no files to remove)."""
        with self._lock:
            self._contexts.clear()
