"""``roost serve --certfile --keyfile``: HTTPS on the serving port, for the legacy clients
that speak nothing else (unofficial-nest-api). A real server process with a throwaway
self-signed certificate made here; the client trusts exactly that certificate.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result
from conftest import RoostProcess, free_port
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from roost import demo
from roost.cli import main


@dataclass
class TlsProcess(RoostProcess):
    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, valid for a day, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "roost test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = directory / "cert.pem", directory / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return certfile, keyfile


@pytest.fixture
def tls_pair(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed(tmp_path)


def test_login_and_session_over_https(tmp_path: Path, tls_pair: tuple[Path, Path]) -> None:
    certfile, keyfile = tls_pair
    door = free_port()
    server = TlsProcess(tmp_path / "roost.db", ["--certfile", str(certfile),
                                                "--keyfile", str(keyfile),
                                                "--redirect-port", str(door)]).start()
    trusted = ssl.create_default_context(cafile=str(certfile))
    try:
        assert any("Roost serving https://" in line for line in server.output)
        with httpx.Client(verify=trusted, timeout=10) as client:
            signed_in = client.post(f"{server.url}/user/login",
                                    data={"username": demo.EMAIL, "password": demo.PASSWORD})
            assert signed_in.status_code == 200, signed_in.text
            session = signed_in.json()
            # The transport is this server, https and its port written out.
            assert session["urls"]["transport_url"] == server.url
            again = client.get(f"{session['urls']['transport_url']}/session",
                               headers={"Authorization": f"Basic {session['access_token']}"})
            assert again.status_code == 200, again.text
            assert again.json() == session
            # The Works with Nest API is served over TLS too.
            wwn = client.get(f"{server.url}/structures",
                             headers={"Authorization": f"Bearer {server.token}"})
            assert wwn.status_code == 200 and wwn.json()

        # The front door stays plain http and sends clients on to https.
        redirect = httpx.get(f"http://127.0.0.1:{door}/structures",
                             headers={"Authorization": f"Bearer {server.token}"})
        assert redirect.status_code == 307
        assert redirect.headers["location"] == f"{server.url}/structures"

        # Plain http on the TLS port gets no answer, let alone a token.
        with pytest.raises(httpx.HTTPError):
            httpx.post(f"http://127.0.0.1:{server.port}/user/login",
                       data={"username": demo.EMAIL, "password": demo.PASSWORD}, timeout=5)
        # An untrusted certificate is refused by a verifying client.
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{server.url}/weather/v1?query=94043,US", timeout=5)
    finally:
        server.kill()


def serve(db: Path, *args: str) -> Result:
    """``roost serve`` refusing its options, which it does before it opens anything."""
    return CliRunner().invoke(main, ["serve", "--db", str(db), *args])


def test_certfile_and_keyfile_go_together(tmp_path: Path,
                                          tls_pair: tuple[Path, Path]) -> None:
    certfile, keyfile = tls_pair
    for option, path in (("--certfile", certfile), ("--keyfile", keyfile)):
        result = serve(tmp_path / "roost.db", option, str(path))
        assert result.exit_code == 2
        assert "--certfile and --keyfile go together" in result.output
    assert not (tmp_path / "roost.db").exists()


def test_a_pair_that_does_not_load_is_refused_before_serving(
        tmp_path: Path, tls_pair: tuple[Path, Path]) -> None:
    certfile, _ = tls_pair
    (tmp_path / "other").mkdir()
    _, other_key = self_signed(tmp_path / "other")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    # The right key, encrypted: refused rather than prompted for.
    encrypted = tmp_path / "encrypted.pem"
    key = serialization.load_pem_private_key(tls_pair[1].read_bytes(), None)
    encrypted.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret")))
    for cert, key_file in ((certfile, other_key), (garbage, garbage), (certfile, encrypted)):
        result = serve(tmp_path / "roost.db", "--certfile", str(cert), "--keyfile",
                       str(key_file))
        assert result.exit_code == 2, result.output
        assert "cannot use" in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not (tmp_path / "roost.db").exists()
