"""Bearer JWT authentication (HS256) and who may call what."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import jwt

from app.config import Config
from app.errors import Forbidden

CUSTOMER, ADMIN, INTERNAL = "customer", "admin", "internal"
ROLES = (CUSTOMER, ADMIN, INTERNAL)


class AuthenticationFailed(Exception):
    """The bearer token is missing, malformed, expired or not ours."""


@dataclass(frozen=True)
class Principal:
    subject: str
    role: str

    def require(self, *roles: str) -> None:
        if self.role not in roles:
            raise Forbidden("this operation is not allowed for your role")

    @property
    def customer_id(self) -> str:
        self.require(CUSTOMER)
        return self.subject


def mint_token(config: Config, subject: str, role: str = CUSTOMER, ttl: int | None = None) -> str:
    """A signed token for a customer id (or an operator or service name)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    now = dt.datetime.now(dt.UTC)
    claims = {
        "sub": subject,
        "role": role,
        "iss": config.jwt_issuer,
        "aud": config.jwt_audience,
        "iat": now,
        "exp": now + dt.timedelta(seconds=ttl or config.jwt_ttl_seconds),
    }
    return jwt.encode(claims, config.jwt_secret, algorithm="HS256")


def authenticate(config: Config, authorization: str | None) -> Principal:
    """The principal behind an `Authorization: Bearer …` header."""
    if not authorization or not authorization.startswith("Bearer "):
        raise AuthenticationFailed("a bearer token is required")
    try:
        claims = jwt.decode(
            authorization[len("Bearer ") :].strip(),
            config.jwt_secret,
            algorithms=["HS256"],
            audience=config.jwt_audience,
            issuer=config.jwt_issuer,
            options={"require": ["exp", "sub", "iss", "aud"]},
        )
    except jwt.PyJWTError as exc:
        raise AuthenticationFailed(f"invalid token: {exc}") from None
    role = claims.get("role")
    if role not in ROLES:
        raise AuthenticationFailed("invalid token: unknown role")
    return Principal(subject=str(claims["sub"]), role=role)
