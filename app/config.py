"""Configuration, read once from the environment into one typed object."""

from __future__ import annotations

import os
from dataclasses import dataclass

# Dev defaults: good for one-command local runs, refused in production.
DEV_JWT_SECRET = "dev-jwt-secret-change-me-0123456789abcdef"
DEV_MESSAGE_KEY = "ZGV2LW1lc3NhZ2Uta2V5LW5vdC1mb3ItcHJvZCEhISE="  # 32 bytes, urlsafe b64
DEV_LITHIC_API_KEY = "emulator-key"
DEV_WEBHOOK_SECRET = "whsec_ZGV2LXdlYmhvb2stc2VjcmV0LW5vdC1mb3ItcHJvZCEh"
DEFAULT_DATABASE_URL = "sqlite:///var/ccs.db"


class ConfigError(Exception):
    """The environment does not describe a runnable service."""


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None


@dataclass(frozen=True)
class Config:
    """Everything the processes need to know about their environment."""

    env: str = "development"
    database_url: str = DEFAULT_DATABASE_URL
    rabbitmq_url: str | None = None
    lithic_api_key: str = DEV_LITHIC_API_KEY
    lithic_base_url: str | None = None
    lithic_webhook_secret: str = DEV_WEBHOOK_SECRET
    lithic_timeout: float = 10.0
    message_keys: tuple[str, ...] = (DEV_MESSAGE_KEY,)
    jwt_secret: str = DEV_JWT_SECRET
    jwt_issuer: str = "credit-card-service"
    jwt_audience: str = "credit-card-service"
    jwt_ttl_seconds: int = 3600
    port: int = 8000
    public_url: str | None = None
    max_body_bytes: int = 64 * 1024
    graphql_max_depth: int = 8
    graphql_max_cost: int = 500
    db_max_connections: int = 20
    card_program_token: str | None = None
    physical_card_product_id: str | None = None
    default_credit_limit: int = 100_000
    embedded_emulator_port: int = 0
    max_retries: int = 8
    min_backoff_ms: int = 1000
    worker_threads: int = 4
    emulator_fulfilment_delay: float | None = None
    lithic_asa_secret: str | None = None
    asa_blocked_mccs: frozenset[str] = frozenset({"7995"})
    asa_blocked_countries: frozenset[str] = frozenset({"PRK", "IRN", "CUB", "SYR"})
    asa_error_result: str = "ISSUER_ERROR"
    payment_rail_url: str | None = None
    payment_rail_api_key: str = "rail-key"
    payment_rail_webhook_secret: str = DEV_WEBHOOK_SECRET
    allow_overpayment: bool = False
    program_timezone: str = "America/New_York"
    autopay_time: str = "00:02"
    autopay_retry_hours: tuple[int, ...] = (24, 72)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def uses_emulator(self) -> bool:
        return self.lithic_base_url is None

    @property
    def uses_embedded_broker(self) -> bool:
        return self.rabbitmq_url is None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Config:
        """Read the configuration from environment variables (os.environ by default)."""
        env = dict(os.environ if env is None else env)
        config = cls(
            env=env.get("CCS_ENV", "development"),
            database_url=env.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
            rabbitmq_url=env.get("RABBITMQ_URL") or None,
            lithic_api_key=env.get("LITHIC_API_KEY") or DEV_LITHIC_API_KEY,
            lithic_base_url=(env.get("LITHIC_BASE_URL") or "").rstrip("/") or None,
            lithic_webhook_secret=env.get("LITHIC_WEBHOOK_SECRET") or DEV_WEBHOOK_SECRET,
            lithic_timeout=float(env.get("LITHIC_TIMEOUT", "10")),
            message_keys=_split(env.get("MESSAGE_ENCRYPTION_KEYS")) or (DEV_MESSAGE_KEY,),
            jwt_secret=env.get("JWT_SECRET") or DEV_JWT_SECRET,
            jwt_issuer=env.get("JWT_ISSUER", "credit-card-service"),
            jwt_audience=env.get("JWT_AUDIENCE", "credit-card-service"),
            jwt_ttl_seconds=_int(env, "JWT_TTL_SECONDS", 3600),
            port=_int(env, "PORT", 8000),
            public_url=env.get("PUBLIC_URL") or None,
            max_body_bytes=_int(env, "MAX_BODY_BYTES", 64 * 1024),
            graphql_max_depth=_int(env, "GRAPHQL_MAX_DEPTH", 8),
            graphql_max_cost=_int(env, "GRAPHQL_MAX_COST", 500),
            db_max_connections=_int(env, "DB_MAX_CONNECTIONS", 20),
            card_program_token=env.get("LITHIC_CARD_PROGRAM_TOKEN") or None,
            physical_card_product_id=env.get("LITHIC_PHYSICAL_PRODUCT_ID") or None,
            default_credit_limit=_int(env, "DEFAULT_CREDIT_LIMIT_CENTS", 100_000),
            embedded_emulator_port=_int(env, "EMULATOR_PORT", 0),
            max_retries=_int(env, "MAX_RETRIES", 8),
            min_backoff_ms=_int(env, "MIN_BACKOFF_MS", 1000),
            worker_threads=_int(env, "EMBEDDED_WORKER_THREADS", 4),
            lithic_asa_secret=env.get("LITHIC_ASA_SECRET") or None,
            asa_blocked_mccs=frozenset(_split(env.get("ASA_BLOCKED_MCCS", "7995"))),
            asa_blocked_countries=frozenset(
                _split(env.get("ASA_BLOCKED_COUNTRIES", "PRK,IRN,CUB,SYR"))
            ),
            asa_error_result=env.get("ASA_ERROR_RESULT", "ISSUER_ERROR"),
            payment_rail_url=(env.get("PAYMENT_RAIL_URL") or "").rstrip("/") or None,
            payment_rail_api_key=env.get("PAYMENT_RAIL_API_KEY") or "rail-key",
            payment_rail_webhook_secret=env.get("PAYMENT_RAIL_WEBHOOK_SECRET")
            or DEV_WEBHOOK_SECRET,
            allow_overpayment=env.get("ALLOW_OVERPAYMENT", "").lower() in ("1", "true", "yes"),
            program_timezone=env.get("PROGRAM_TIMEZONE", "America/New_York"),
            autopay_time=env.get("AUTOPAY_TIME", "00:02"),
            autopay_retry_hours=tuple(
                int(h) for h in _split(env.get("AUTOPAY_RETRY_HOURS", "24,72"))
            ),
            emulator_fulfilment_delay=(
                float(env["EMULATOR_FULFILMENT_DELAY"])
                if env.get("EMULATOR_FULFILMENT_DELAY")
                else None
            ),
        )
        config.validate()
        return config

    def validate(self) -> None:
        """Refuse to start production with dev defaults or an embedded stand-in."""
        if not self.database_url.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ConfigError("DATABASE_URL must be postgresql://… or sqlite:///…")
        if not self.is_production:
            return
        problems = []
        if self.jwt_secret == DEV_JWT_SECRET or len(self.jwt_secret) < 32:
            problems.append("JWT_SECRET must be set to a secret of at least 32 characters")
        if DEV_MESSAGE_KEY in self.message_keys:
            problems.append("MESSAGE_ENCRYPTION_KEYS must not contain the dev key")
        if self.lithic_api_key == DEV_LITHIC_API_KEY:
            problems.append("LITHIC_API_KEY must be set")
        if self.lithic_webhook_secret == DEV_WEBHOOK_SECRET:
            problems.append("LITHIC_WEBHOOK_SECRET must be set")
        if self.uses_emulator:
            problems.append("LITHIC_BASE_URL must be set (the emulator is for development)")
        if self.uses_embedded_broker:
            problems.append("RABBITMQ_URL must be set (the in-process broker is for development)")
        if self.is_sqlite:
            problems.append("DATABASE_URL must be PostgreSQL in production")
        if self.payment_rail_url is None:
            problems.append("PAYMENT_RAIL_URL must be set (the rail emulator is for development)")
        if problems:
            raise ConfigError("production configuration refused: " + "; ".join(problems))
