"""Every llmpulse setting, read once from the environment and CLI flags.

Nothing else in the code base reads the environment: components receive a `Settings`
(or the pieces of it they need) as arguments. The table below is also the README's
settings table (a test keeps the two in step).
"""

from __future__ import annotations

import difflib
import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy.engine import URL

CHDB_MALLOC_CONF = "dirty_decay_ms:0,muzzy_decay_ms:0"
PREFIX = "LLMPULSE_"
# LLMPULSE_ variables that are not service settings: read by scripts/_venv.sh and the test suite.
# Read by tools around the service, not by it: the scripts' venv, the tests' corpus, and the URL of a
# running llmpulse that the CLI's API clients (`llmpulse datasets import`) talk to, with its API token.
TOOLING_VARIABLES = frozenset({"LLMPULSE_VENV", "LLMPULSE_CORPUS_DIR", "LLMPULSE_TEST_IMPORT_MARK", "LLMPULSE_URL",
                               "LLMPULSE_TOKEN", "LLMPULSE_TEST_WORKERS"})
# API keys of experiment targets (`api_key_env` of POST /api/v1/experiments): only variables so
# named may be read, so an admin cannot have the runner send any other server secret to a target.
TARGET_KEY_PREFIXES = ("LLMPULSE_TARGET_", "OPENAI_API_KEY")


class ConfigError(ValueError):
    """A setting has a value llmpulse cannot use; the message names the setting and the fix."""


@dataclass(frozen=True)
class Spec:
    name: str
    env: str
    parse: Callable[[str], Any]
    default: Any
    help: str


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true/false")


def _parse_port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise ValueError("expected a port number from 0 to 65535")
    return port


def _parse_positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError("expected a whole number above 0")
    return value


MAX_TOKEN_BOUND = 1_000_000_000  # 2^64 / (3 counts of 1e9) ≈ 6e9 calls before a UInt64 sum could wrap


def _parse_token_bound(text: str) -> int:
    value = _parse_positive_int(text)
    if value > MAX_TOKEN_BOUND:
        raise ValueError(f"expected at most {MAX_TOKEN_BOUND:,} (sums of counts must not overflow)")
    return value


def _parse_positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise ValueError("expected a number above 0")
    return value


SPECS: tuple[Spec, ...] = (
    Spec("data_dir", "LLMPULSE_DATA_DIR", Path, Path(".llmpulse"),
         "Where embedded storage (chDB, SQLite) and the ingest spool live."),
    Spec("host", "LLMPULSE_HOST", str, "127.0.0.1",
         "Address both ports bind to. Any non-loopback address makes ingest keys mandatory."),
    Spec("otlp_port", "LLMPULSE_OTLP_PORT", _parse_port, 4318,
         "OTLP/HTTP port (POST /v1/traces, /v1/logs, /v1/metrics)."),
    Spec("ui_port", "LLMPULSE_UI_PORT", _parse_port, 8050, "UI and JSON read API port."),
    Spec("clickhouse_dsn", "LLMPULSE_CLICKHOUSE_DSN", str, "",
         "ClickHouse DSN; empty means embedded chDB at chdb:///<data dir>/clickhouse."),
    Spec("clickhouse_database", "LLMPULSE_CLICKHOUSE_DATABASE", str, "llmpulse", "ClickHouse database name."),
    Spec("metadata_url", "LLMPULSE_METADATA_URL", str, "",
         "SQLAlchemy URL of the metadata DB; empty means sqlite:///<data dir>/meta.db."),
    Spec("max_body_bytes", "LLMPULSE_MAX_BODY_BYTES", _parse_positive_int, 16 * 1024 * 1024,
         "Largest OTLP request body accepted, checked before and after decompression (413 above)."),
    Spec("max_value_chars", "LLMPULSE_MAX_VALUE_CHARS", _parse_positive_int, 32768,
         "Longer attribute and message strings are truncated with a visible marker."),
    Spec("max_tokens_per_call", "LLMPULSE_MAX_TOKENS_PER_CALL", _parse_token_bound, 100_000_000,
         "A token count above this (or negative, or NaN) is refused: the span is kept with that count "
         "NULL and the reason in its `llmpulse.refused` attribute and the OTLP response. The default "
         "is 10x the largest context window (~10M tokens); at most 1,000,000,000, so no sum of counts can overflow."),
    Spec("batch_rows", "LLMPULSE_BATCH_ROWS", _parse_positive_int, 2000,
         "Rows per ClickHouse insert: the writer flushes once this many are waiting and inserts no "
         "more at once, unless one request alone has more (an insert briefly needs ~25 KB per span)."),
    Spec("flush_seconds", "LLMPULSE_FLUSH_SECONDS", _parse_positive_float, 0.5,
         "The writer flushes at least this often when rows are waiting."),
    Spec("queue_max_rows", "LLMPULSE_QUEUE_MAX_ROWS", _parse_positive_int, 8000,
         "Rows acknowledged but not yet in ClickHouse (about 7 KB of memory each); above this "
         "ingest answers 503 with Retry-After."),
    Spec("spool_fsync", "LLMPULSE_SPOOL_FSYNC", _parse_bool, False,
         "fsync the spool before acknowledging (survives power loss, not only kill -9)."),
    Spec("threads", "LLMPULSE_THREADS", _parse_positive_int, 8, "HTTP worker threads per port."),
    Spec("ingest_concurrency", "LLMPULSE_INGEST_CONCURRENCY", _parse_positive_int, 2,
         "OTLP requests decoded at the same time; the others wait with their bodies unread. Each "
         "1,000-span request needs about 12 MB while decoded, and decoding holds the GIL, so more "
         "rarely raises throughput."),
    Spec("chdb_cache_mb", "LLMPULSE_CHDB_CACHE_MB", _parse_positive_int, 64,
         "Embedded chDB only: MiB for each of ClickHouse's mark, primary-index and index-mark caches "
         "(ClickHouse's default of 5 GiB each lets RSS grow with every table read)."),
    Spec("chdb_malloc_conf", "LLMPULSE_CHDB_MALLOC_CONF", str, CHDB_MALLOC_CONF,
         "Embedded chDB only: options of its jemalloc (JE_MALLOC_CONF). The default hands freed pages "
         "back at once: an insert frees its ~100 MB of column buffers before it ends, which ClickHouse's "
         "own 5 s decay kept in RSS. Empty keeps ClickHouse's."),
    Spec("log_level", "LLMPULSE_LOG_LEVEL", str, "INFO", "Python logging level."),
    Spec("detectors", "LLMPULSE_DETECTORS", _parse_bool, True,
         "Run the detector scheduler inside `llmpulse serve` (server mode runs `llmpulse detectors`)."),
    Spec("metrics_interval", "LLMPULSE_METRICS_INTERVAL", _parse_positive_float, 60.0,
         "Seconds between runs of the metrics detector (per-minute rollups)."),
    Spec("hallucination_interval", "LLMPULSE_HALLUCINATION_INTERVAL", _parse_positive_float, 300.0,
         "Seconds between runs of the hallucination sampler and scorers."),
    Spec("drift_interval", "LLMPULSE_DRIFT_INTERVAL", _parse_positive_float, 900.0,
         "Seconds between runs of the drift detector."),
    Spec("regression_interval", "LLMPULSE_REGRESSION_INTERVAL", _parse_positive_float, 60.0,
         "Seconds between runs of the regression job, which starts a project's regression set on each "
         "model change drift found and gates the runs that finished."),
    Spec("alerts_interval", "LLMPULSE_ALERTS_INTERVAL", _parse_positive_float, 60.0,
         "Seconds between evaluations of alert rules and budgets."),
    Spec("guard_refresh_seconds", "LLMPULSE_GUARD_REFRESH_SECONDS", _parse_positive_float, 1.0,
         "Seconds between refreshes of the guard states the guard status endpoint answers from memory "
         "(the alerts detector updates them on its tick)."),
    Spec("slos_interval", "LLMPULSE_SLOS_INTERVAL", _parse_positive_float, 60.0,
         "Seconds between runs of the SLO detector, which counts new calls into each SLO and evaluates "
         "its burn-rate alerts."),
    Spec("retention_interval", "LLMPULSE_RETENTION_INTERVAL", _parse_positive_float, 3600.0,
         "Seconds between runs of the retention detector, which deletes data older than each project's "
         "retention."),
    Spec("lease_seconds", "LLMPULSE_LEASE_SECONDS", _parse_positive_float, 30.0,
         "Leader lease of the detector scheduler: a standby takes over this long after the leader dies."),
    Spec("judge_url", "LLMPULSE_JUDGE_URL", str, "",
         "Base URL of an OpenAI-compatible API (…/v1) for the LLM-as-judge scorer; empty disables it."),
    Spec("judge_model", "LLMPULSE_JUDGE_MODEL", str, "gpt-4o-mini", "Model the LLM judge asks."),
    Spec("judge_api_key", "LLMPULSE_JUDGE_API_KEY", str, "", "Bearer key for the LLM judge endpoint."),
    Spec("shadow_judge_interval", "LLMPULSE_SHADOW_JUDGE_INTERVAL", _parse_positive_float, 300.0,
         "Seconds between runs of the shadow judge, which asks the LLM judge which answer of a shadow pair "
         "is better (only with LLMPULSE_JUDGE_URL set)."),
    Spec("shadow_judge_per_run", "LLMPULSE_SHADOW_JUDGE_PER_RUN", _parse_positive_int, 50,
         "Shadow pairs the shadow judge asks the LLM judge about per project and run, at most (each is one "
         "judge call; pairs are sampled at the project's eval_sample_rate, newest first)."),
    Spec("public_url", "LLMPULSE_PUBLIC_URL", str, "",
         "URL of the UI as on-call engineers reach it, for links in alerts; empty means http://<host>:<ui port>."),
    Spec("allowed_hosts", "LLMPULSE_ALLOWED_HOSTS", str, "",
         "Comma-separated host names the UI answers to besides loopback names and the public URL's "
         "host (others get 421). Bound to loopback the check is always on (DNS rebinding); off "
         "loopback only when this is set."),
    Spec("login_free_failures", "LLMPULSE_LOGIN_FREE_FAILURES", _parse_positive_int, 5,
         "Wrong passwords a username, or a client address, may send before logins for it are locked "
         "(429 with Retry-After)."),
    Spec("login_base_delay_seconds", "LLMPULSE_LOGIN_BASE_DELAY_SECONDS", _parse_positive_float, 1.0,
         "The first lock after those; each further wrong password doubles it, up to 15 minutes."),
    Spec("secret_key", "LLMPULSE_SECRET_KEY", str, "",
         "Key that encrypts channel secrets in the metadata DB; empty means a key file in the data dir."),
    Spec("renotify_seconds", "LLMPULSE_RENOTIFY_SECONDS", _parse_positive_float, 4 * 3600.0,
         "Default interval at which a still-firing, unacknowledged alert is sent again."),
    Spec("experiment_ingest_url", "LLMPULSE_EXPERIMENT_INGEST_URL", str, "",
         "OTLP/HTTP base URL the in-service experiment runner exports its calls' spans to; empty means "
         "this host's OTLP port."),
    Spec("experiment_endpoint", "LLMPULSE_EXPERIMENT_ENDPOINT", str, "",
         "Default target (an OpenAI-compatible base URL, …/v1) of experiments that name none; empty: "
         "each experiment must give its endpoint."),
    Spec("experiments_running", "LLMPULSE_EXPERIMENTS_RUNNING", _parse_positive_int, 2,
         "Experiments the in-service runner runs at once; later ones wait their turn (status running)."),
    Spec("experiment_concurrency", "LLMPULSE_EXPERIMENT_CONCURRENCY", _parse_positive_int, 4,
         "Items an experiment sends to its target at once unless it asks for another max_concurrency."),
    Spec("experiment_max_concurrency", "LLMPULSE_EXPERIMENT_MAX_CONCURRENCY", _parse_positive_int, 32,
         "The largest max_concurrency an experiment may ask for."),
    Spec("experiment_timeout_seconds", "LLMPULSE_EXPERIMENT_TIMEOUT_SECONDS", _parse_positive_float, 60.0,
         "Seconds an experiment's target has to answer one attempt of one item (429s, 5xx and timeouts "
         "are retried with backoff, up to 4 attempts)."),
    Spec("experiment_readback_seconds", "LLMPULSE_EXPERIMENT_READBACK_SECONDS", _parse_positive_float, 30.0,
         "How long an experiment waits for its items' spans to become readable (export and ingest are "
         "asynchronous); an item whose span has not arrived by then has no cost and says so."),
    Spec("prometheus_top_n", "LLMPULSE_PROMETHEUS_TOP_N", _parse_positive_int, 20,
         "Models, providers and services that keep their name in /metrics labels, per project: the busiest "
         "by calls; the rest are `other`, so Prometheus's series stay bounded whatever apps send."),
)


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path(".llmpulse")
    host: str = "127.0.0.1"
    otlp_port: int = 4318
    ui_port: int = 8050
    clickhouse_dsn: str = ""
    clickhouse_database: str = "llmpulse"
    metadata_url: str = ""
    max_body_bytes: int = 16 * 1024 * 1024
    max_value_chars: int = 32768
    max_tokens_per_call: int = 100_000_000
    batch_rows: int = 2000
    flush_seconds: float = 0.5
    queue_max_rows: int = 8000
    spool_fsync: bool = False
    threads: int = 8
    ingest_concurrency: int = 2
    chdb_cache_mb: int = 64
    chdb_malloc_conf: str = CHDB_MALLOC_CONF
    log_level: str = "INFO"
    detectors: bool = True
    metrics_interval: float = 60.0
    hallucination_interval: float = 300.0
    drift_interval: float = 900.0
    regression_interval: float = 60.0
    alerts_interval: float = 60.0
    guard_refresh_seconds: float = 1.0
    slos_interval: float = 60.0
    retention_interval: float = 3600.0
    lease_seconds: float = 30.0
    judge_url: str = ""
    judge_model: str = "gpt-4o-mini"
    judge_api_key: str = ""
    shadow_judge_interval: float = 300.0
    shadow_judge_per_run: int = 50
    public_url: str = ""
    allowed_hosts: str = ""
    login_free_failures: int = 5
    login_base_delay_seconds: float = 1.0
    secret_key: str = ""
    renotify_seconds: float = 4 * 3600.0
    experiment_ingest_url: str = ""
    experiment_endpoint: str = ""
    experiments_running: int = 2
    experiment_concurrency: int = 4
    experiment_max_concurrency: int = 32
    experiment_timeout_seconds: float = 60.0
    experiment_readback_seconds: float = 30.0
    prometheus_top_n: int = 20

    @property
    def resolved_clickhouse_dsn(self) -> str:
        """The data directory's path is percent-encoded: a `#` or `?` in it would end the URL's path."""
        return self.clickhouse_dsn or f"chdb://{quote(str(self.data_dir.resolve() / 'clickhouse'))}"

    @property
    def resolved_metadata_url(self) -> str:
        sqlite = URL.create("sqlite", database=str(self.data_dir.resolve() / "meta.db"))
        return self.metadata_url or sqlite.render_as_string()

    @property
    def resolved_public_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.ui_port}").rstrip("/")

    def resolved_ingest_url(self, otlp_port: int) -> str:
        """Where the experiment runner sends spans: the setting, else this host's OTLP port (loopback
        when bound to every address)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        host = f"[{host}]" if ":" in host else host
        return (self.experiment_ingest_url or f"http://{host}:{otlp_port}").rstrip("/")

    @property
    def spool_dir(self) -> Path:
        return self.data_dir / "spool"

    @property
    def embedded(self) -> bool:
        return self.resolved_clickhouse_dsn.startswith("chdb:")

    @property
    def require_key(self) -> bool:
        """Spans without a key go to `default` only when nobody but this machine can reach us."""
        return not is_loopback(self.host)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _parse_value(spec: Spec, raw: str, origin: str) -> Any:
    try:
        return spec.parse(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{origin} has the value {raw!r}, which is not valid: {exc}. {spec.help}") from exc


def load_settings(env: Mapping[str, str], overrides: Mapping[str, Any] | None = None) -> Settings:
    """Environment first, then explicit overrides (CLI flags) that are not None."""
    values: dict[str, Any] = {}
    for spec in SPECS:
        if spec.env in env and env[spec.env] != "":
            values[spec.name] = _parse_value(spec, env[spec.env], spec.env)
    for name, value in (overrides or {}).items():
        if value is not None:
            spec = _spec_named(name)
            values[name] = _parse_value(spec, str(value), f"--{name.replace('_', '-')}")
    return _checked(replace(Settings(), **values))


def _checked(settings: Settings) -> Settings:
    """What no single value shows: settings that cannot work together."""
    data_dir = settings.data_dir.resolve()
    if settings.embedded and "?" in str(data_dir):  # chDB reads what follows a '?' in its path as options
        raise ConfigError(f"the data directory {str(data_dir)!r} contains a '?', which embedded ClickHouse "
                          "(chDB) cannot open; choose another (LLMPULSE_DATA_DIR or --data-dir)")
    return settings


def unknown_variables(env: Mapping[str, str]) -> list[str]:
    """One warning per LLMPULSE_ variable that is no setting: a misspelt one is otherwise ignored
    without a word, and the service runs on the default the user meant to change."""
    known = [spec.env for spec in SPECS]
    warnings = []
    for name in sorted(k for k in env if k.startswith(PREFIX) and k not in known and k not in TOOLING_VARIABLES
                       and not k.startswith(TARGET_KEY_PREFIXES)):
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.8)
        hint = f"; did you mean {close[0]}?" if close else "; `llmpulse --help` and the README list the settings"
        warnings.append(f"{name} is not an llmpulse setting and is ignored{hint}")
    return warnings


def is_target_key_name(name: str) -> bool:
    return isinstance(name, str) and name.startswith(TARGET_KEY_PREFIXES) and name not in TARGET_KEY_PREFIXES[:1]


def read_target_key(name: str) -> str | None:
    """The value of an experiment target's key variable, read when the experiment runs (a rotated
    key is picked up without a restart); None for a name not allowed or a variable not set."""
    if not is_target_key_name(name):
        return None
    return os.environ.get(name) or None


DEFAULT_API_URL = "http://127.0.0.1:8050"
TOKEN_VARIABLE = "LLMPULSE_TOKEN"


def client_api_url(explicit: str | None = None) -> str:
    """The running llmpulse an API client talks to: the given URL, else LLMPULSE_URL, else loopback."""
    return (explicit or os.environ.get("LLMPULSE_URL") or DEFAULT_API_URL).rstrip("/")


def client_api_token(explicit: str | None = None) -> str | None:
    """The API token an API client sends (needed off loopback): the given one, else LLMPULSE_TOKEN."""
    return (explicit or os.environ.get(TOKEN_VARIABLE) or "").strip() or None


def _spec_named(name: str) -> Spec:
    for spec in SPECS:
        if spec.name == name:
            return spec
    raise ConfigError(f"unknown setting {name!r}")
