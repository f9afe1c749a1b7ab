"""Settings read from the environment (prefix ``TALLY_``) by every command."""

from functools import lru_cache

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TALLY_", extra="ignore")

    # SQLAlchemy URL. The embedded default keeps Tally zero-setup: a SQLite file next to the
    # process. PostgreSQL: postgresql+psycopg://user:pass@host/db
    database_url: str = "sqlite:///tally.db"
    # Largest request body accepted; an order with 500 rich items fits well below this.
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    # An order import carries up to 2,000 orders.
    bulk_body_bytes: int = Field(default=33_554_432, ge=1024)
    # Jobs (imports): run by a thread in each `tally serve` process unless turned off (then
    # `tally worker` processes run them); a running job's lease, renewed at each step.
    jobs_in_server: bool = True
    job_lease_seconds: float = Field(default=30.0, gt=0, le=3600)
    job_poll_ms: int = Field(default=1000, ge=10, le=60_000)
    # Webhooks: deliveries to loopback, private and link-local addresses are refused (server-
    # side request forgery) unless this is set (local development, tests); a receiver has
    # this long to answer; tries in flight per process; the retry schedule (1 min ... 24 h
    # after the first try) multiplied by this (tests shrink it, nothing else should).
    webhooks_allow_private: bool = False
    webhooks_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    webhooks_concurrency: int = Field(default=8, ge=1, le=64)
    webhooks_retry_scale: float = Field(default=1.0, gt=0, le=1)
    # Export files: this directory, else next to the SQLite database file, else (PostgreSQL)
    # ./tally-exports. Several machines need one they all mount.
    exports_dir: str | None = None
    # The address clients reach Tally at (behind a proxy): the base of export download
    # URLs. Unset: the address each request came to.
    public_url: str | None = None
    # Connection pool per process (PostgreSQL); SQLite uses one connection per thread.
    db_pool_size: int = Field(default=10, ge=1)
    # How long a request waits for an order another request is using before it fails with
    # multiple_requests (0: at once, as Voucherify does). See README "Order sessions".
    order_session_wait_ms: int = Field(default=500, ge=0, le=60_000)
    # SQLite: how long a write waits for another process's write lock before the request
    # is refused (503 database_busy, or multiple_requests for a request on an order).
    sqlite_busy_timeout_ms: int = Field(default=30_000, ge=100, le=600_000)
    # SQLite: how much of the database file the connections that serve requests on the event
    # loop read through a memory map (0: none); SQLite caps it at its build's maximum.
    sqlite_mmap_mb: int = Field(default=2048, ge=0, le=1_048_576)
    log_level: str = "INFO"
    # GET /metrics: open (bind the server to a private address) unless a token is set;
    # then Prometheus sends it as "Authorization: Bearer <token>".
    metrics_token: str | None = None
    # What dashboard sessions are signed with besides the project's token hash, so that a
    # reader of the database cannot forge one (tally.dashboard.secret): the same value on
    # every server of one database. Unset: a key file beside the SQLite file; PostgreSQL
    # needs it for the dashboard. SecretStr: never shown by a repr or a log line.
    dashboard_secret: SecretStr | None = None
    # Requests per second each project may make to /v1 of each server process, and the
    # burst it may spend at once (default: one second's worth). 0: no limit (the embedded
    # default). A project's own limit (`tally projects rate-limit`) overrides these.
    rate_limit_per_second: float = Field(default=0.0, ge=0)
    rate_limit_burst: int | None = Field(default=None, ge=1)


@lru_cache
def get_settings() -> Settings:
    return Settings()
