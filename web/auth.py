"""Who is reading: a trusted reverse proxy's user header, HTTP Basic, or nobody (anonymous).

The proxy header (`[web] proxy_user_header`, X-Remote-User by default) is honoured only from
`[web] trusted_proxies`; from anywhere else it is ignored. HTTP Basic checks `[web.users]`,
whose values are scrypt (or PBKDF2-SHA256) hashes made by `mailgate web hash-password`.
What a viewer may see is decided by `mailgate.access`, never here. Called by `web.views`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict

from starlette.requests import Request

from mailgate.access import ANONYMOUS, Viewer
from web.settings import WebSettings

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SCRYPT_MAXMEM = 64 * 1024 * 1024
SALT_BYTES = 16
KEY_BYTES = 32
MAX_USER_CHARS = 200
VERIFIED_CACHE_SIZE = 256


class BadCredentials(Exception):
    """HTTP Basic credentials were sent but do not match a configured user."""


def hash_password(password: str) -> str:
    """A storable scrypt hash: `scrypt$N$r$p$<salt b64>$<key b64>`."""
    salt = secrets.token_bytes(SALT_BYTES)
    key = hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=SCRYPT_N,
        r=SCRYPT_R,
        p=SCRYPT_P,
        maxmem=SCRYPT_MAXMEM,
        dklen=KEY_BYTES,
    )
    encode = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${encode(salt).decode()}${encode(key).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches a hash from `hash_password` (or `pbkdf2_sha256$iter$salt$key`)."""
    parts = stored.split("$")
    try:
        if parts[0] == "scrypt" and len(parts) == 6:
            n, r, p = (int(x) for x in parts[1:4])
            salt, key = base64.b64decode(parts[4]), base64.b64decode(parts[5])
            got = hashlib.scrypt(
                password.encode("utf-8"),
                salt=salt,
                n=n,
                r=r,
                p=p,
                maxmem=SCRYPT_MAXMEM,
                dklen=len(key),
            )
        elif parts[0] == "pbkdf2_sha256" and len(parts) == 4:
            salt, key = base64.b64decode(parts[2]), base64.b64decode(parts[3])
            got = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, int(parts[1]))
        else:
            return False
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(got, key)


class Authenticator:
    """Resolves the viewer of a request; remembers recently verified Basic credentials so a
    browser sending them with every request does not pay the slow hash each time."""

    def __init__(self, web: WebSettings) -> None:
        self.web = web
        self._verified: OrderedDict[bytes, str] = OrderedDict()
        self._lock = threading.Lock()

    def viewer(self, request: Request) -> Viewer:
        """The viewer; raises BadCredentials for wrong Basic credentials."""
        client = request.client.host if request.client else None
        if self.web.trusts(client):
            name = request.headers.get(self.web.proxy_user_header, "").strip()
            if name:
                return Viewer(name[:MAX_USER_CHARS])
        header = request.headers.get("authorization", "")
        if header[:6].lower() != "basic ":
            return ANONYMOUS
        return Viewer(self._basic(header[6:].strip()))

    def _basic(self, token: str) -> str:
        try:
            user, sep, password = (
                base64.b64decode(token, validate=True).decode("utf-8").partition(":")
            )
        except (ValueError, binascii.Error):
            raise BadCredentials from None
        stored = self.web.users.get(user)
        if not sep or stored is None:
            raise BadCredentials
        digest = hashlib.sha256(f"{user}\0{password}\0{stored}".encode()).digest()
        with self._lock:
            if digest in self._verified:
                self._verified.move_to_end(digest)
                return user
        if not verify_password(password, stored):
            raise BadCredentials
        with self._lock:
            self._verified[digest] = user
            while len(self._verified) > VERIFIED_CACHE_SIZE:
                self._verified.popitem(last=False)
        return user
