"""Configuration: ``kesu.toml`` plus environment overrides.

Where the file comes from, first match wins: ``--config PATH``; ``KESU_CONFIG``; ``kesu.toml`` in
the working directory; none (embedded defaults: SQLite and the built-in sandbox helpdesk).
Environment variables override the file: ``KESU_HELPDESK__TOKEN``, ``KESU_STORE__URL`` ...
(prefix ``KESU_``, ``__`` between levels). Secrets are ``SecretStr`` and never printed.
Policy sections (``[policies.<name>]``) are kept raw here and validated by each plugin's own
config model when the plugin host starts (see ``plugins.manager``).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_CONFIG_NAME = "kesu.toml"


class _Section(BaseModel):
    # Unknown keys are errors (a typo must not be ignored); assignments are validated too.
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class HelpdeskSettings(_Section):
    kind: str = Field("zammad", description="Connector identifier: 'zammad' (more by plugins)")
    name: str = Field("zammad", description="Name of this helpdesk in ticket keys (zammad:123)")
    url: str = Field("http://127.0.0.1:3000", description="Base URL of the helpdesk")
    token: SecretStr = Field(SecretStr(""), description="API token of kesu's bot user")
    webhook_secret: SecretStr = Field(
        SecretStr(""), description="HMAC token set on the Zammad webhook (X-Hub-Signature)"
    )
    bot_login: str = Field("kesu-bot@localhost", description="Login of kesu's bot user")
    timeout: float = Field(10.0, gt=0, description="Seconds for every HTTP call")
    retries: int = Field(3, ge=0, description="Extra tries of one transient failure in-call")
    priority_map: dict[str, str] = Field(
        default_factory=lambda: {
            "low": "1 low",
            "normal": "2 normal",
            "high": "3 high",
            "urgent": "3 high",
        },
        description="kesu priority -> helpdesk priority name",
    )
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="Connector-specific options, validated by the connector ([helpdesk.options])",
    )
    reminder_state: str = Field(
        "pending reminder", description="Zammad state used to show a follow-up to-do as a reminder"
    )
    webhook_base_url: str = Field(
        "http://127.0.0.1:8080", description="How the helpdesk reaches kesu (for `zammad setup`)"
    )


class StoreSettings(_Section):
    url: str = Field("sqlite:///kesu.db", description="SQLAlchemy URL: sqlite:/// or postgresql+psycopg://")


class WorkerSettings(_Section):
    threads: int = Field(2, ge=1, description="Worker threads in each worker process")
    processes: int = Field(1, ge=1, le=64, description=(
        "Worker processes `kesu worker` starts on this store (each with `threads` threads); "
        "`kesu serve` keeps its workers in-process unless --worker-processes is given"))
    shutdown_seconds: float = Field(10.0, gt=0, description=(
        "On SIGTERM/SIGINT, how long workers may finish their claimed events before handing "
        "them back to the queue"))
    max_attempts: int = Field(10, ge=1, description="Tries before an event is dead-lettered")
    backoff_base: float = Field(2.0, gt=0, description="First retry delay in seconds (doubles)")
    backoff_max: float = Field(300.0, gt=0, description="Longest retry delay in seconds")
    lease_seconds: float = Field(60.0, gt=0, description="A claimed event returns to the queue after this")
    poll_interval: float = Field(0.5, gt=0, description="Idle wait between inbox checks (s)")
    timer_interval: float = Field(1.0, gt=0, description="How often due timers are checked (s)")
    sync_interval: float = Field(0.0, ge=0, description="Catch-up poll every N seconds; 0 = off")


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = Field(1_048_576, ge=1, description="Larger webhook bodies get 413 (read no further)")
    # A rejected delivery is kept for inspection; these bound the disk a flood of bad posts can
    # take: at most rejected_keep x rejected_body_bytes (32 MiB by default), and nothing for long.
    rejected_body_bytes: int = Field(65_536, ge=0, description="Bytes of a rejected body kept; the rest is dropped and counted")
    rejected_keep: int = Field(500, ge=1, description="Rejected deliveries kept; older ones are deleted")
    rejected_retention_days: float = Field(14.0, gt=0, description="Rejected deliveries older than this are deleted")
    protect_meta: bool = Field(
        False, description="Serve /metrics, /docs, /redoc and /openapi.json only with an admin token (read scope)")


class SandboxSettings(_Section):
    enabled: bool = Field(False, description="Start the built-in sandbox Zammad and use it")
    host: str = "127.0.0.1"
    port: int = Field(0, description="0 = any free port")


class PluginSettings(_Section):
    disabled: list[str] = Field(default_factory=list, description="Plugin names not to load")


class NoteSettings(_Section):
    language: Literal["zh", "en"] = Field("zh", description="Language of notes written to tickets")
    timezone: str = Field("Asia/Shanghai", description="Time zone of dates shown in notes")


class ReportSettings(_Section):
    """``[reports]`` -- the automatic reports (R-RPT-4.27: last month's within the first 10 days)."""

    directory: str = Field("reports", description="Where report files are written (relative: to the working dir)")
    timezone: str = Field("Asia/Shanghai", description="Months start at local midnight in this zone")
    automatic: list[Literal["monthly", "quarterly", "yearly"]] = Field(
        default_factory=lambda: ["monthly", "quarterly", "yearly"],
        description="Reports the worker produces by itself once the period is over; [] = none")
    day: int = Field(1, ge=1, le=10, description="Day of the month to produce them (R-RPT-4.27: by the 10th)")
    time: str = Field("08:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="Local time of day (HH:MM)")
    formats: list[Literal["xlsx", "html", "md", "json"]] = Field(
        default_factory=lambda: ["xlsx", "html", "md", "json"], description="Files written for each report")
    recipients: list[str] = Field(
        default_factory=lambda: ["客服中心"], description="Told where the report is (kesu_notify hook)")
    check_interval: float = Field(60.0, gt=0, description="Seconds between checks of the worker's report loop")
    language: Literal["zh", "en"] = Field("zh", description="Language of chart titles and axis titles (tables stay Chinese)")


class AdminToken(_Section):
    token: SecretStr = Field(description="Bearer token (generate one with `kesu admin token NAME`)")
    scopes: list[Literal["read", "write"]] = Field(
        default_factory=lambda: ["read"], description="read: see everything; write: also act")


class AdminSettings(_Section):
    """``[admin]`` -- the admin API (/admin/api) and page (/admin). No token, no access."""

    tokens: dict[str, AdminToken] = Field(
        default_factory=dict, description="[admin.tokens.<name>]: the name is recorded as who decided")
    secure_cookie: bool = Field(False, description="Send the page's login cookie over HTTPS only")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="KESU_", env_nested_delimiter="__", extra="forbid", toml_file=None
    )

    helpdesk: HelpdeskSettings = Field(default_factory=HelpdeskSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    plugins: PluginSettings = Field(default_factory=PluginSettings)
    notes: NoteSettings = Field(default_factory=NoteSettings)
    reports: ReportSettings = Field(default_factory=ReportSettings)
    admin: AdminSettings = Field(default_factory=AdminSettings)
    profile: str = Field(
        "food", description="Industry profile whose values fill unset [policies.*] keys "
        "(food, insurance, realestate, retail, utility)"
    )
    policies: dict[str, dict[str, Any]] = Field(default_factory=dict)

    config_path: str | None = Field(None, exclude=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if settings_cls.model_config.get("toml_file"):
            sources.append(TomlConfigSettingsSource(settings_cls))
        return tuple(sources)


def redact_url(url: str) -> str:
    """``url`` fit for output and logs: a password in it becomes ``***`` (the last ``@`` ends
    the user part, as SQLAlchemy reads it)."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not sep or not at or "/" in userinfo:
        return url
    user, colon, _ = userinfo.partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}@{host}"


def find_config(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The config file to use, or None for embedded defaults."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise FileNotFoundError(f"config file not found: {path}")
        return path
    env = os.environ.get("KESU_CONFIG")
    if env:
        path = Path(env)
        if not path.is_file():
            raise FileNotFoundError(f"KESU_CONFIG points at a missing file: {path}")
        return path
    local = Path.cwd() / DEFAULT_CONFIG_NAME
    return local if local.is_file() else None


def load_settings(
    config: str | os.PathLike[str] | None = None, **overrides: Any
) -> Settings:
    """Load settings from the config file (see module docstring) and the environment."""
    from kesu.errors import ConfigError, toml_error, validation_error

    try:
        path = find_config(config)
    except FileNotFoundError as exc:
        raise ConfigError(f"配置文件不存在：{exc.args[0].split(': ', 1)[-1]}", str(exc)) from None
    cls: type[Settings] = Settings
    if path is not None:
        # A subclass bound to this file: the TOML source reads ``model_config["toml_file"]``.
        cls = type("FileSettings", (Settings,), {
            "model_config": {**Settings.model_config, "toml_file": path}
        })
    source = f"{path} / KESU_*" if path is not None else "KESU_*"
    try:
        settings = cls(**overrides)
    except tomllib.TOMLDecodeError as exc:
        raise toml_error(exc, str(path)) from None
    except ValidationError as exc:
        raise validation_error(exc, source) from None
    settings.config_path = str(path) if path else None
    if path is not None and "store" not in overrides and not _env_sets("KESU_STORE__URL"):
        settings.store.url = resolve_sqlite_path(settings.store.url, path.resolve().parent)
    return settings


def _env_sets(name: str) -> bool:
    return any(k.upper() == name for k in os.environ)


def resolve_sqlite_path(url: str, base: Path) -> str:
    """A relative SQLite file in ``url`` made absolute against ``base`` (the config file's
    folder: the same kesu.toml must mean the same database from any working directory)."""
    for prefix in ("sqlite:///", "sqlite+pysqlite:///"):
        if url.startswith(prefix):
            rest = url[len(prefix):]
            file, sep, query = rest.partition("?")
            if not file or file == ":memory:" or file.startswith("/") or file.startswith("file:"):
                return url
            return f"{prefix}{(base / file).as_posix()}{sep}{query}"
    return url
