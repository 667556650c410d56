import pytest

from app.config import Config, ConfigError


def test_development_defaults_need_no_environment():
    config = Config.from_env({})

    assert config.uses_emulator and config.uses_embedded_broker and config.is_sqlite


def test_production_refuses_dev_defaults():
    with pytest.raises(ConfigError) as refused:
        Config.from_env({"CCS_ENV": "production"})

    for setting in ("JWT_SECRET", "MESSAGE_ENCRYPTION_KEYS", "LITHIC_API_KEY", "RABBITMQ_URL"):
        assert setting in str(refused.value)


def test_production_starts_with_real_settings():
    config = Config.from_env(
        {
            "CCS_ENV": "production",
            "DATABASE_URL": "postgresql://u@db/cards",
            "RABBITMQ_URL": "amqp://u:p@mq/",
            "LITHIC_API_KEY": "live-key",
            "LITHIC_BASE_URL": "https://api.lithic.com",
            "PAYMENT_RAIL_URL": "https://rail.example.com",
            "LITHIC_WEBHOOK_SECRET": "whsec_cHJvZHVjdGlvbi1zZWNyZXQ=",
            "JWT_SECRET": "x" * 40,
            "MESSAGE_ENCRYPTION_KEYS": "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE=",
        }
    )

    assert config.is_production and not config.uses_emulator


def test_a_malformed_number_is_a_clear_error():
    with pytest.raises(ConfigError, match="PORT must be an integer"):
        Config.from_env({"PORT": "eighty"})
