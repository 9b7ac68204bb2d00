"""Production identity: RS256 from a configured public key, ES256 from a JWKS URL,
issuer and audience checked, and no algorithm confusion."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import threading
import time
from collections.abc import Iterator

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ISSUER = "https://id.example"
AUDIENCE = "rill-tests"


def _claims(**extra: object) -> dict[str, object]:
    now = int(time.time())
    return {"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 300, **extra}


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _public_pem(key: rsa.RSAPrivateKey) -> str:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def test_rs256_public_key_with_issuer_and_audience(server_factory, rsa_key):
    server = server_factory(env={
        "RILL_JWT_PUBLIC_KEY": _public_pem(rsa_key),
        "RILL_JWT_ISSUER": ISSUER,
        "RILL_JWT_AUDIENCE": AUDIENCE,
    })

    def me(token: str) -> int:
        return httpx.get(f"{server.url}/api/me", headers={"Authorization": f"Bearer {token}"}).status_code

    assert me(jwt.encode(_claims(), rsa_key, algorithm="RS256")) == 200
    assert me(jwt.encode(_claims(aud="someone-else"), rsa_key, algorithm="RS256")) == 401
    assert me(jwt.encode(_claims(iss="https://evil.example"), rsa_key, algorithm="RS256")) == 401
    assert me(jwt.encode(_claims(exp=int(time.time()) - 60), rsa_key, algorithm="RS256")) == 401
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert me(jwt.encode(_claims(), other, algorithm="RS256")) == 401
    # Algorithm confusion: HMAC-signed with the public key as the secret must not pass.
    header = {"alg": "HS256", "typ": "JWT"}

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(_claims()).encode())}"
    mac = hmac.new(_public_pem(rsa_key).encode(), signing_input.encode(), hashlib.sha256).digest()
    assert me(f"{signing_input}.{b64(mac)}") == 401
    # Production mode mints no anonymous sessions; a bearer gets its cookie set.
    assert httpx.post(f"{server.url}/api/session").status_code == 401
    token = jwt.encode(_claims(), rsa_key, algorithm="RS256")
    r = httpx.post(f"{server.url}/api/session", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json()["userId"] == "alice"
    assert "rill_session=" in r.headers["set-cookie"]


@pytest.fixture
def jwks_server() -> Iterator[tuple[str, ec.EllipticCurvePrivateKey]]:
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "ES256"}]}).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/jwks.json", key
    httpd.shutdown()
    httpd.server_close()


def test_es256_from_jwks_url(server_factory, jwks_server):
    url, key = jwks_server
    server = server_factory(env={"RILL_JWKS_URL": url, "RILL_JWT_ISSUER": ISSUER,
                                 "RILL_JWT_AUDIENCE": AUDIENCE})
    good = jwt.encode(_claims(), key, algorithm="ES256", headers={"kid": "k1"})
    r = httpx.get(f"{server.url}/api/me", headers={"Authorization": f"Bearer {good}"})
    assert r.status_code == 200 and r.json()["userId"] == "alice"
    stranger = ec.generate_private_key(ec.SECP256R1())
    bad = jwt.encode(_claims(), stranger, algorithm="ES256", headers={"kid": "k1"})
    assert httpx.get(f"{server.url}/api/me", headers={"Authorization": f"Bearer {bad}"}).status_code == 401
    unknown_kid = jwt.encode(_claims(), key, algorithm="ES256", headers={"kid": "nope"})
    assert httpx.get(f"{server.url}/api/me",
                     headers={"Authorization": f"Bearer {unknown_kid}"}).status_code == 401
