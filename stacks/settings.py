"""One typed, validated settings object for the whole app.

Values come from `cdk.json` context and can be overridden per synth with
`-c key=value`. Stacks take a `Settings`; they never read context themselves.
Every problem is collected and reported at once, each with the key to change.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

Stage = Literal["dev", "prod"]
STAGES: tuple[Stage, ...] = ("dev", "prod")

# AWS limits the checks below enforce (kept here so the message can quote them).
# SQS's maximum visibility timeout (12 hours). The derived timeout stays below it by
# construction: 6 x 900 s (Lambda's maximum timeout) + 300 s (the maximum window).
SQS_MAX_VISIBILITY_TIMEOUT_S = 43_200
LAMBDA_MAX_TIMEOUT_S = 900
LAMBDA_MIN_MEMORY_MB = 128
LAMBDA_MAX_MEMORY_MB = 10_240
SQS_ESM_MAX_BATCH_SIZE = 10_000
SQS_ESM_MAX_WINDOW_S = 300
SQS_ESM_UNBATCHED_MAX = 10  # above this a batching window of >= 1 s is mandatory
ESM_MIN_MAX_CONCURRENCY = 2
ESM_MAX_MAX_CONCURRENCY = 1000
# Floors the handlers need: ingest's SQS client gives up after 2 attempts of up to
# 1 s connect + 3 s read (~9 s worst case) before answering 503; process keeps a
# 3.5 s safety margin for its own DynamoDB retries (orders_core.retry).
MIN_INGEST_TIMEOUT_S = 10
MIN_PROCESS_TIMEOUT_S = 10
# AWS guidance: maxReceiveCount of at least 5 so a throttled consumer does not
# send healthy messages to the DLQ.
MIN_MAX_RECEIVE_COUNT = 5
# Lambda's guidance for SQS sources: visibility timeout >= 6 x function timeout
# (+ the batching window, since records wait in the batch before the call).
VISIBILITY_TIMEOUT_FACTOR = 6
# The retention periods CloudWatch Logs accepts.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
    2557, 2922, 3288, 3653,
)  # fmt: skip
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# AWS WAF rate-based rules count requests per IP over 5 minutes.
WAF_MIN_RATE_LIMIT = 10
WAF_MAX_RATE_LIMIT = 2_000_000_000

_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")
_CERTIFICATE_ARN = re.compile(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[\w-]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_GITHUB_REPOSITORY = re.compile(r"^[\w.-]+/[\w.-]+$")

T = TypeVar("T")


class SettingsError(ValueError):
    """Raised when the context holds invalid or inconsistent settings."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"invalid settings ({len(problems)} problem(s)); fix them in cdk.json "
            f"'context' or with -c key=value:\n{lines}"
        )


@dataclass(frozen=True)
class Settings:
    """Everything a stack may vary on. Build it with `Settings.from_context`."""

    stage: Stage
    app_name: str
    allowed_cidrs: tuple[str, ...]
    alb_internet_facing: bool
    vpc_cidr: str
    batch_size: int
    batching_window_seconds: int
    ingest_timeout_seconds: int
    ingest_memory_mb: int
    process_timeout_seconds: int
    process_memory_mb: int
    max_concurrency: int
    max_receive_count: int
    log_retention_days: int
    log_level: str
    powertools_version: str
    region: str
    certificate_arn: str
    waf_enabled: bool
    waf_rate_limit: int
    access_log_expiry_days: int
    alarm_email: str
    queue_age_alarm_seconds: int
    dlq_alarm_threshold: int
    function_error_alarm_threshold: int
    function_throttle_alarm_threshold: int
    alb_5xx_alarm_threshold: int
    github_repository: str
    github_branch: str

    # -- derived values: computed, never typed twice ---------------------------------

    @property
    def visibility_timeout_seconds(self) -> int:
        """The orders queue's visibility timeout, derived from its consumer."""
        return VISIBILITY_TIMEOUT_FACTOR * self.process_timeout_seconds + (
            self.batching_window_seconds
        )

    @property
    def is_prod(self) -> bool:
        return self.stage == "prod"

    @property
    def https(self) -> bool:
        """HTTPS:443 (with HTTP:80 redirecting to it) when a certificate is configured."""
        return bool(self.certificate_arn)

    def stack_name(self, part: str) -> str:
        """`Orders-dev-Network`: names derive from the stage so stages coexist."""
        return f"{self.app_name}-{self.stage}-{part}"

    # -- construction ----------------------------------------------------------------

    @classmethod
    def from_context(cls, get: Callable[[str], Any]) -> Settings:
        """Read and validate settings; `get` is `app.node.try_get_context`."""
        reader = _Reader(get)
        settings = cls(
            stage=reader.choice("stage", STAGES),
            app_name=reader.text("app_name"),
            allowed_cidrs=reader.cidrs("allowed_cidrs"),
            alb_internet_facing=reader.boolean("alb_internet_facing"),
            vpc_cidr=reader.cidr("vpc_cidr"),
            batch_size=reader.integer("batch_size", 1, SQS_ESM_MAX_BATCH_SIZE),
            batching_window_seconds=reader.integer(
                "batching_window_seconds", 0, SQS_ESM_MAX_WINDOW_S
            ),
            ingest_timeout_seconds=reader.integer(
                "ingest_timeout_seconds", MIN_INGEST_TIMEOUT_S, 60
            ),
            ingest_memory_mb=reader.integer(
                "ingest_memory_mb", LAMBDA_MIN_MEMORY_MB, LAMBDA_MAX_MEMORY_MB
            ),
            process_timeout_seconds=reader.integer(
                "process_timeout_seconds", MIN_PROCESS_TIMEOUT_S, LAMBDA_MAX_TIMEOUT_S
            ),
            process_memory_mb=reader.integer(
                "process_memory_mb", LAMBDA_MIN_MEMORY_MB, LAMBDA_MAX_MEMORY_MB
            ),
            max_concurrency=reader.integer(
                "max_concurrency", ESM_MIN_MAX_CONCURRENCY, ESM_MAX_MAX_CONCURRENCY
            ),
            max_receive_count=reader.integer("max_receive_count", MIN_MAX_RECEIVE_COUNT, 1000),
            log_retention_days=reader.choice("log_retention_days", LOG_RETENTION_DAYS),
            log_level=reader.choice("log_level", LOG_LEVELS),
            powertools_version=reader.text("powertools_version"),
            region=reader.matching("region", _REGION, "an AWS region such as eu-west-1"),
            certificate_arn=reader.matching(
                "certificate_arn", _CERTIFICATE_ARN, "an ACM certificate ARN", optional=True
            ),
            waf_enabled=reader.boolean("waf_enabled"),
            waf_rate_limit=reader.integer("waf_rate_limit", WAF_MIN_RATE_LIMIT, WAF_MAX_RATE_LIMIT),
            access_log_expiry_days=reader.integer("access_log_expiry_days", 1, 3653),
            alarm_email=reader.matching("alarm_email", _EMAIL, "an e-mail address", optional=True),
            queue_age_alarm_seconds=reader.integer("queue_age_alarm_seconds", 60, 1_209_600),
            dlq_alarm_threshold=reader.integer("dlq_alarm_threshold", 1, 1_000_000),
            function_error_alarm_threshold=reader.integer(
                "function_error_alarm_threshold", 1, 1_000_000
            ),
            function_throttle_alarm_threshold=reader.integer(
                "function_throttle_alarm_threshold", 1, 1_000_000
            ),
            alb_5xx_alarm_threshold=reader.integer("alb_5xx_alarm_threshold", 1, 1_000_000),
            github_repository=reader.matching(
                "github_repository", _GITHUB_REPOSITORY, "owner/name", optional=True
            ),
            github_branch=reader.text("github_branch"),
        )
        reader.problems.extend(settings._consistency_problems())
        if reader.problems:
            raise SettingsError(reader.problems)
        return settings

    def _consistency_problems(self) -> list[str]:
        """Rules that span several settings (AWS would reject the deploy otherwise)."""
        problems = []
        if self.batch_size > SQS_ESM_UNBATCHED_MAX and self.batching_window_seconds < 1:
            problems.append(
                f"batch_size={self.batch_size} needs batching_window_seconds >= 1: SQS event "
                f"sources only take batches over {SQS_ESM_UNBATCHED_MAX} with a batching "
                "window. Raise batching_window_seconds or lower batch_size."
            )
        if not self.app_name.replace("-", "").isalnum():
            problems.append(
                f"app_name={self.app_name!r} must be letters, digits and dashes "
                "(it starts every stack name)."
            )
        return problems


class _Reader:
    """Coerces context values (JSON from cdk.json, strings from -c) and collects problems."""

    def __init__(self, get: Callable[[str], Any]) -> None:
        self._get = get
        self.problems: list[str] = []

    def _raw(self, key: str) -> Any:
        value = self._get(key)
        if value is None:
            self.problems.append(f"{key} is missing: set it in cdk.json context.")
        return value

    def _coerce(self, key: str, convert: Callable[[Any], T], expected: str, fallback: T) -> T:
        raw = self._raw(key)
        if raw is None:
            return fallback
        try:
            return convert(raw)
        except (TypeError, ValueError):
            self.problems.append(f"{key}={raw!r} is not {expected}.")
            return fallback

    def text(self, key: str) -> str:
        return self._coerce(key, _to_text, "a non-empty string", "invalid")

    def integer(self, key: str, low: int, high: int) -> int:
        value = self._coerce(key, _to_int, "a whole number", low)
        if not low <= value <= high:
            self.problems.append(f"{key}={value} is out of range: use {low}..{high}.")
        return value

    def boolean(self, key: str) -> bool:
        return self._coerce(key, _to_bool, "true or false", False)

    def choice(self, key: str, options: tuple[T, ...]) -> T:
        raw = self._raw(key)
        if raw is None:
            return options[0]
        for option in options:
            if raw == option or str(raw) == str(option):
                return option
        self.problems.append(f"{key}={raw!r} is not one of: {', '.join(map(str, options))}.")
        return options[0]

    def matching(
        self, key: str, pattern: re.Pattern[str], expected: str, *, optional: bool = False
    ) -> str:
        """A string matching `pattern`; with `optional`, "" means "not set"."""
        raw = self._raw(key)
        if raw is None or (optional and raw == ""):
            return ""
        if not isinstance(raw, str) or not pattern.match(raw.strip()):
            hint = ' (or "" to leave it unset)' if optional else ""
            self.problems.append(f"{key}={raw!r} is not {expected}{hint}.")
            return ""
        return raw.strip()

    def cidr(self, key: str) -> str:
        return self._coerce(key, _to_cidr, "an IPv4 CIDR such as 10.0.0.0/16", "0.0.0.0/0")

    def cidrs(self, key: str) -> tuple[str, ...]:
        raw = self._raw(key)
        if raw is None:
            return ()
        items = raw.split(",") if isinstance(raw, str) else raw
        if not isinstance(items, list | tuple) or not items:
            self.problems.append(f"{key}={raw!r} must be a list of CIDRs (JSON list or a,b,c).")
            return ()
        result = []
        for item in items:
            try:
                result.append(_to_cidr(item))
            except (TypeError, ValueError):
                self.problems.append(
                    f"{key} entry {item!r} is not an IPv4 CIDR such as 203.0.113.0/24 "
                    "(host bits must be zero)."
                )
        return tuple(result)


def _to_text(raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError(raw)
    return raw.strip()


def _to_int(raw: Any) -> int:
    if isinstance(raw, bool):
        raise TypeError(raw)
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and raw.strip().lstrip("-").isdigit():
        return int(raw.strip())
    raise ValueError(raw)


def _to_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
        return raw.strip().lower() == "true"
    raise ValueError(raw)


def _to_cidr(raw: Any) -> str:
    if not isinstance(raw, str):
        raise TypeError(raw)
    return str(ipaddress.IPv4Network(raw.strip(), strict=True))


def settings_from_mapping(values: Mapping[str, Any]) -> Settings:
    """Build settings from a plain mapping (tests, scripts)."""
    return Settings.from_context(values.get)
