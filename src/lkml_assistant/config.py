# SPDX-License-Identifier: GPL-2.0-or-later
"""Typed settings, read once at start-up from LKML_* variables and an optional TOML file.

Precedence, highest first: explicit arguments, environment variables, the config file
(``LKML_CONFIG`` or ``<user config dir>/lkml-assistant/config.toml``), then the defaults.
Nothing here is read at import time: call :func:`load_settings`.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs
from pydantic import Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

APP_NAME = "lkml-assistant"
# The longest window a setting or a command's --days may name: a century, well inside the
# dates Python and the stores can hold.
MAX_DAYS = 36500


def default_store() -> str:
    path = Path(platformdirs.user_data_dir(APP_NAME)) / "lkml-assistant.sqlite3"
    return f"sqlite:///{path}"


def default_config_file() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def _http_origin(value: str, name: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{name} must be an http(s) URL such as https://host, got {value!r}")
    return value.rstrip("/")


class Settings(BaseSettings):
    """Everything an operator can set. Field names map to ``LKML_<NAME>`` variables."""

    model_config = SettingsConfigDict(
        env_prefix="LKML_",
        extra="ignore",
        frozen=True,
        validate_default=True,
    )

    patchwork_url: str = Field(
        "https://patchwork.kernel.org", description="Origin of the Patchwork server."
    )
    patchwork_api_version: str = Field("1.3", description="Patchwork REST API version in paths.")
    patchwork_timezone: str = Field(
        "UTC",
        description="Time zone of the naive timestamps the Patchwork server returns.",
    )
    lore_url: str = Field("https://lore.kernel.org", description="Origin of the lore archive.")
    projects: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["rust-for-linux"],
        description="Patchwork project link names to follow (comma-separated in the environment).",
    )
    store: str = Field(default_factory=default_store, description="sqlite:///ABSOLUTE/PATH")
    user_agent_extra: str = Field("", description="Appended to the User-Agent, e.g. a contact.")
    request_interval: float = Field(
        0.5, ge=0, le=60, description="Minimum seconds between two requests to one upstream."
    )
    lore_requests_per_minute: int = Field(
        0,
        ge=0,
        le=100_000,
        description="At most this many requests to lore per minute, counted across every "
        "process sharing the store (all Lambda invocations of a deployment; one `serve`); "
        "0: no shared cap, each client keeps only its request interval.",
    )
    http_timeout: float = Field(30.0, gt=0, le=600, description="Seconds per request.")
    http_retries: int = Field(5, ge=0, le=20, description="Retries after a failed request.")
    backoff_base: float = Field(1.0, ge=0, le=60, description="First backoff delay in seconds.")
    backoff_max: float = Field(120.0, ge=0, le=3600, description="Largest backoff delay.")
    page_size: int = Field(250, ge=1, le=1000, description="per_page asked of Patchwork.")
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR.")
    backfill_days: int = Field(
        30, ge=1, le=MAX_DAYS, description="Window a first start of `serve` backfills, in days."
    )
    refresh_days: int = Field(
        14, ge=1, le=MAX_DAYS, description="Window of the daily full discussion refresh, in days."
    )
    refresh_settled_days: int = Field(
        3,
        ge=0,
        le=MAX_DAYS,
        description="The daily refresh re-reads only the threads that can still change: "
        "those with an open patch, or with mail or a new patch in the last this many days; "
        "the weekly refresh reads the settled ones too (intel/liveness.py).",
    )
    api_host: str = Field("127.0.0.1", description="Address `serve` listens on.")
    api_port: int = Field(8000, ge=1, le=65535, description="Port `serve` listens on.")
    api_workers: int = Field(
        0,
        ge=0,
        le=64,
        description="HTTP worker processes of `serve`, each with its own store connection; "
        "0: one per CPU (at most 8); 1: the API in serve's own process, beside the jobs.",
    )
    api_cache_seconds: float = Field(
        10.0,
        ge=0,
        le=3600,
        description="How long `serve` may answer a GET from memory while the store has not "
        "changed (any write empties it at once); 0: never. Bounds what depends on the clock "
        "alone, such as how long a queue has waited.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins allowed to call the API from a browser (comma-separated).",
    )
    patches_table: str = Field(
        "", description="DynamoDB table of patches, series, projects and cursors (store dynamodb)."
    )
    discussions_table: str = Field(
        "", description="DynamoDB table of messages and per-patch discussions (store dynamodb)."
    )
    work_queue_url: str = Field(
        "",
        description="SQS queue FetchPatches sends one message per thread to fetch (AWS only; "
        "empty: threads are fetched in the same run).",
    )
    crawl_queue_url: str = Field(
        "",
        description="SQS queue a recipe sends one task per project to, for the crawl consumer "
        "(AWS only; empty: every project is crawled in the same run).",
    )
    change_settle_seconds: int = Field(
        900,
        ge=0,
        le=86_400,
        description="DynamoDB: /changes lists a change once it is this old, so that every "
        "writer that stamped an earlier change has committed it (longer than a function's "
        "timeout).",
    )
    retention_days: int = Field(
        0,
        ge=0,
        le=MAX_DAYS,
        description="DynamoDB items expire this many days after their date (TTL); 0 keeps them.",
    )

    @field_validator("patchwork_url")
    @classmethod
    def _check_patchwork_url(cls, value: str) -> str:
        return _http_origin(value, "LKML_PATCHWORK_URL")

    @field_validator("lore_url")
    @classmethod
    def _check_lore_url(cls, value: str) -> str:
        return _http_origin(value, "LKML_LORE_URL")

    @field_validator("patchwork_api_version")
    @classmethod
    def _check_api_version(cls, value: str) -> str:
        major, _, minor = value.partition(".")
        if not (major.isdigit() and minor.isdigit()):
            raise ValueError(f"LKML_PATCHWORK_API_VERSION must look like 1.3, got {value!r}")
        return value

    @field_validator("patchwork_timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("projects", mode="before")
    @classmethod
    def _split_projects(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [item.strip() for item in value.split(",")]
        if isinstance(value, list):
            value = [item for item in value if item]
            if not value:
                raise ValueError("LKML_PROJECTS names no project")
            for item in value:
                bare = item.replace("-", "").replace("_", "") if isinstance(item, str) else ""
                if not bare.isalnum():
                    raise ValueError(f"not a Patchwork project link name: {item!r}")
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [item.strip() for item in value.split(",") if item.strip()]
        if isinstance(value, list):
            for item in value:
                if item != "*":
                    _http_origin(str(item), "LKML_CORS_ORIGINS")
        return value

    @field_validator("store")
    @classmethod
    def _check_store(cls, value: str) -> str:
        if value == "dynamodb":
            return value
        if not value.startswith("sqlite:///"):
            raise ValueError(f"LKML_STORE must be sqlite:///ABSOLUTE/PATH or dynamodb: {value!r}")
        if not value.removeprefix("sqlite:///").strip("/"):
            raise ValueError(f"LKML_STORE names no file: {value!r}")
        return value

    @model_validator(mode="after")
    def _check_dynamodb_tables(self) -> Settings:
        if self.store == "dynamodb" and not (self.patches_table and self.discussions_table):
            raise ValueError(
                "LKML_STORE=dynamodb needs LKML_PATCHES_TABLE and LKML_DISCUSSIONS_TABLE"
            )
        return self

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError(f"LKML_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {value!r}")
        return level

    @property
    def sqlite_path(self) -> Path:
        if not self.store.startswith("sqlite:///"):
            raise ValueError(f"store {self.store!r} is not a SQLite store")
        # sqlite:///var/x.db and sqlite:////var/x.db both name /var/x.db: the path is absolute.
        return Path("/" + self.store.removeprefix("sqlite:///").lstrip("/"))

    @property
    def patchwork_api_url(self) -> str:
        return f"{self.patchwork_url}/api/{self.patchwork_api_version}"

    @property
    def patchwork_tz(self) -> ZoneInfo:
        return ZoneInfo(self.patchwork_timezone)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = os.environ.get("LKML_CONFIG")
        path = Path(config_file) if config_file else default_config_file()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if path.is_file():
            try:
                sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
            except tomllib.TOMLDecodeError as exc:
                raise ConfigFileError(f"the config file {path} is not valid TOML: {exc}") from None
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigFileError(f"cannot read the config file {path}: {exc}") from None
        elif config_file:
            raise ConfigFileMissingError(f"LKML_CONFIG names a file that does not exist: {path}")
        return tuple(sources)


class ConfigFileError(ValueError):
    """The config file cannot be read as settings."""


class ConfigFileMissingError(ConfigFileError):
    """LKML_CONFIG points at nothing."""


def load_settings(**overrides: Any) -> Settings:
    """Read the settings; raises pydantic.ValidationError with every problem listed."""
    return Settings(**overrides)
