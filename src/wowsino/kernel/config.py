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
# Read replicas (kernel/replicas.py): how many, and the staleness a routed read accepts
MAX_REPLICAS = 16
DEFAULT_REPLICA_MAX_LAG_MS = 1000
REPLICA_MAX_LAG_MS_RANGE = (100, 600_000)
_POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+asyncpg")


class SettingsError(ValueError):
    """A ``WOWSINO_*`` variable that cannot be used, alone or with the others: the process
    refuses to start."""


RATE_LIMIT_STORES = ("memory", "postgres", "redis")


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


def _bounded_int(name: str, default: int, low: int, high: int) -> int:
    raw = (os.environ.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise SettingsError(f"{name} must be a whole number from {low} to {high}, "
                            f"not {raw[:32]!r}")
    return value


def replica_urls(raw: str) -> tuple[str, ...]:
    """``WOWSINO_REPLICA_URLS``: comma-separated PostgreSQL URLs, each with a host. The
    error names a bad entry by its position, never by its text (it may hold a password)."""
    from urllib.parse import urlsplit

    urls = tuple(u.strip() for u in raw.split(",") if u.strip())
    for position, url in enumerate(urls, start=1):
        try:
            parts = urlsplit(url)
            host = parts.hostname
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError:
            host = None
        if parts.scheme not in _POSTGRES_SCHEMES or not host:
            raise SettingsError(
                f"WOWSINO_REPLICA_URLS: entry {position} is not a PostgreSQL URL with a host "
                "(postgresql://user:password@host:5432/database)")
    if len(set(urls)) != len(urls):
        raise SettingsError("WOWSINO_REPLICA_URLS names a replica twice")
    if len(urls) > MAX_REPLICAS:
        raise SettingsError(f"WOWSINO_REPLICA_URLS names {len(urls)} replicas; "
                            f"at most {MAX_REPLICAS}")
    return urls


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
    # where the buckets live: memory (this process), postgres or redis (shared by every
    # API process), see kernel/ratelimit.py
    rate_limit_store: str = "memory"
    redis_url: str | None = None
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
    # streaming replicas that reads accepting bounded staleness may use, and the bound
    replica_urls: tuple[str, ...] = ()
    replica_max_lag_ms: int = DEFAULT_REPLICA_MAX_LAG_MS
    # the event stream (``wowsino relay``, wowsino.stream.relay): off until the NATS URL is
    # set; the JetStream stream's name and the first token(s) of its subjects
    nats_url: str | None = None
    nats_stream: str = "WOWSINO"
    nats_subject_prefix: str = "wowsino"
    # how long a worker's claim on a webhook delivery lasts: a worker that dies holding
    # one, another sends the delivery after this (webhooks/delivery.py)
    webhook_lease_seconds: int = 60
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.rate_limit_store not in RATE_LIMIT_STORES:
            raise SettingsError(
                f"WOWSINO_RATE_LIMIT_STORE must be memory, postgres or redis, "
                f"not {self.rate_limit_store!r}")
        if self.rate_limit_store == "redis" and not self.redis_url:
            raise SettingsError(
                "WOWSINO_RATE_LIMIT_STORE=redis needs WOWSINO_REDIS_URL "
                "(e.g. redis://127.0.0.1:6379/0)")

    @property
    def production(self) -> bool:
        return self.env == "production"

    @classmethod
    def from_env(cls) -> Settings:
        """Raises ``SettingsError`` for a variable that cannot be used."""
        env = os.environ.get("WOWSINO_ENV", "development")
        redis_url = os.environ.get("WOWSINO_REDIS_URL") or None
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
            # unset: redis when there is a Redis, else memory
            rate_limit_store=(os.environ.get("WOWSINO_RATE_LIMIT_STORE", "").strip().lower()
                              or ("redis" if redis_url else "memory")),
            redis_url=redis_url,
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
            replica_urls=replica_urls(os.environ.get("WOWSINO_REPLICA_URLS", "")),
            replica_max_lag_ms=_bounded_int("WOWSINO_REPLICA_MAX_LAG_MS",
                                            DEFAULT_REPLICA_MAX_LAG_MS,
                                            *REPLICA_MAX_LAG_MS_RANGE),
            nats_url=os.environ.get("WOWSINO_NATS_URL") or None,
            nats_stream=os.environ.get("WOWSINO_NATS_STREAM") or "WOWSINO",
            nats_subject_prefix=os.environ.get("WOWSINO_NATS_SUBJECT_PREFIX") or "wowsino",
            webhook_lease_seconds=min(max(_int("WOWSINO_WEBHOOK_LEASE_SECONDS", 60), 1), 3600),
        )
