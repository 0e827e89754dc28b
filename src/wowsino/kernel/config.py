"""Settings read from the environment (``WOWSINO_*``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

# The sandbox PSP's shared secret when WOWSINO_SANDBOX_PSP_SECRET is unset: for
# development and tests only (docs/psp.md); the sandbox moves no real money.
DEVELOPMENT_SANDBOX_PSP_SECRET = "wowsino-sandbox-psp-development-secret"  # noqa: S105
DEFAULT_SANDBOX_PSP_URL = "http://127.0.0.1:8010"
# The sandbox game aggregator's signing secret when WOWSINO_SANDBOX_AGGREGATOR_SECRET is
# unset: for development and tests only (docs/games.md); set your own anywhere else.
DEVELOPMENT_SANDBOX_AGGREGATOR_SECRET = "wowsino-sandbox-aggregator-development-secret"  # noqa: S105
DEFAULT_SANDBOX_GAMES_URL = "http://127.0.0.1:8020"
# The sandbox KYC vendor's shared secret when WOWSINO_SANDBOX_KYC_SECRET is unset: for
# development and tests only (docs/kyc.md); set your own anywhere else.
DEVELOPMENT_SANDBOX_KYC_SECRET = "wowsino-sandbox-kyc-development-secret"  # noqa: S105
DEFAULT_SANDBOX_KYC_URL = "http://127.0.0.1:8030"
DEFAULT_SUMSUB_URL = "https://api.sumsub.com"


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


@dataclass(frozen=True)
class Settings:
    """Everything the platform reads from its environment, with its defaults."""

    database_url: str | None = None
    data_dir: Path = Path(".wowsino")
    admin_token: str | None = None
    env: str = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    idempotency_retention_days: int = 30
    rate_limit_burst: int = 200
    rate_limit_per_second: int = 50
    db_pool_size: int = 20
    max_body_bytes: int = 1024 * 1024
    log_json: bool = False
    # the sandbox PSP (``wowsino sandbox psp``): its address and the secret it signs with
    sandbox_psp_url: str = DEFAULT_SANDBOX_PSP_URL
    sandbox_psp_secret: str = DEVELOPMENT_SANDBOX_PSP_SECRET
    # where PSPs reach this API (callbacks); None: the base URL of the request at hand
    public_url: str | None = None
    # the sandbox game aggregator (``wowsino sandbox games``): where a launched game opens,
    # and the secret its wallet calls are signed with
    sandbox_games_url: str = DEFAULT_SANDBOX_GAMES_URL
    sandbox_aggregator_secret: str = DEVELOPMENT_SANDBOX_AGGREGATOR_SECRET
    # the Hub88-style aggregator: off until its secret is set; its games as
    # ``code=category`` pairs and the address its launched games open at
    hub88_aggregator_secret: str | None = None
    hub88_games: tuple[str, ...] = ()
    hub88_games_url: str | None = None
    # the sandbox KYC vendor (``wowsino sandbox kyc``): its address and the secret it signs
    # with; the Sumsub-style adapter's API address
    sandbox_kyc_url: str = DEFAULT_SANDBOX_KYC_URL
    sandbox_kyc_secret: str = DEVELOPMENT_SANDBOX_KYC_SECRET
    sumsub_url: str = DEFAULT_SUMSUB_URL
    # a game round whose last call is older than this, with bets no win or rollback
    # settled, is settled as lost by the worker (games/sweeper.py)
    game_round_idle_seconds: int = 3600
    # how long a worker's claim on a webhook delivery lasts: a worker that dies holding
    # one, another sends the delivery after this (webhooks/delivery.py)
    webhook_lease_seconds: int = 60
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def production(self) -> bool:
        return self.env == "production"

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ.get("WOWSINO_ENV", "development")
        return cls(
            database_url=os.environ.get("WOWSINO_DATABASE_URL") or None,
            data_dir=Path(os.environ.get("WOWSINO_DATA_DIR", ".wowsino")),
            admin_token=os.environ.get("WOWSINO_ADMIN_TOKEN") or None,
            env=env,
            host=os.environ.get("HOST", "127.0.0.1"),
            port=_int("PORT", 8000),
            idempotency_retention_days=_int("WOWSINO_IDEMPOTENCY_RETENTION_DAYS", 30),
            rate_limit_burst=_int("WOWSINO_RATE_LIMIT_BURST", 200),
            rate_limit_per_second=_int("WOWSINO_RATE_LIMIT_PER_SECOND", 50),
            db_pool_size=_int("WOWSINO_DB_POOL_SIZE", 20),
            max_body_bytes=_int("WOWSINO_MAX_BODY_BYTES", 1024 * 1024),
            log_json=env == "production",
            sandbox_psp_url=os.environ.get("WOWSINO_SANDBOX_PSP_URL") or DEFAULT_SANDBOX_PSP_URL,
            sandbox_psp_secret=(os.environ.get("WOWSINO_SANDBOX_PSP_SECRET")
                                or DEVELOPMENT_SANDBOX_PSP_SECRET),
            public_url=(os.environ.get("WOWSINO_PUBLIC_URL") or "").rstrip("/") or None,
            sandbox_games_url=(os.environ.get("WOWSINO_SANDBOX_GAMES_URL")
                               or DEFAULT_SANDBOX_GAMES_URL).rstrip("/"),
            sandbox_aggregator_secret=(os.environ.get("WOWSINO_SANDBOX_AGGREGATOR_SECRET")
                                       or DEVELOPMENT_SANDBOX_AGGREGATOR_SECRET),
            hub88_aggregator_secret=os.environ.get("WOWSINO_HUB88_AGGREGATOR_SECRET") or None,
            hub88_games=tuple(g.strip() for g in os.environ.get("WOWSINO_HUB88_GAMES", "")
                              .split(",") if g.strip()),
            hub88_games_url=(os.environ.get("WOWSINO_HUB88_GAMES_URL") or "").rstrip("/")
            or None,
            sandbox_kyc_url=(os.environ.get("WOWSINO_SANDBOX_KYC_URL")
                             or DEFAULT_SANDBOX_KYC_URL).rstrip("/"),
            sandbox_kyc_secret=(os.environ.get("WOWSINO_SANDBOX_KYC_SECRET")
                                or DEVELOPMENT_SANDBOX_KYC_SECRET),
            sumsub_url=(os.environ.get("WOWSINO_SUMSUB_URL") or DEFAULT_SUMSUB_URL).rstrip("/"),
            game_round_idle_seconds=_int("WOWSINO_GAME_ROUND_IDLE_SECONDS", 3600),
            webhook_lease_seconds=min(max(_int("WOWSINO_WEBHOOK_LEASE_SECONDS", 60), 1), 3600),
        )
