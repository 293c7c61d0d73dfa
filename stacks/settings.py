"""One typed, validated settings object for the whole app.

Values come from `cdk.json` context and can be overridden per synth with `-c key=value`
(which arrives as a string and is coerced). Stacks take a `Settings`; they never read
context themselves. `Settings` is a pydantic model, the mechanism the functions use for
their environment: it never calls AWS, ignores context keys that are not settings (CDK's
`@aws-cdk/...` feature flags and the like), and reports every problem at once, each
naming the key to change.

A new setting is one field line, `name: Annotated[type, rule]`, with a rule from the
"Rules" section (or a new one there). A rule that spans settings is a field validator on
the later of them (see `_window_fits_batch`): pydantic runs it once the earlier ones are
valid, so its problem is reported together with all the others.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Final, Literal

from aws_cdk import aws_logs as logs
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from stacks import contract

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
# Status reads make at most 2 attempts of up to 1 s connect + 2 s read (~6 s) before a 503.
MIN_STATUS_TIMEOUT_S = 10
# AWS guidance: maxReceiveCount of at least 5 so a throttled consumer does not
# send healthy messages to the DLQ.
MIN_MAX_RECEIVE_COUNT = 5
# Lambda's guidance for SQS sources: visibility timeout >= 6 x function timeout
# (+ the batching window, since records wait in the batch before the call).
VISIBILITY_TIMEOUT_FACTOR = 6
# The retention periods CloudWatch Logs accepts, in days, and CDK's name for each.
LOG_RETENTION: Final[Mapping[int, logs.RetentionDays]] = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# AWS WAF rate-based rules count requests per IP over 5 minutes.
WAF_MIN_RATE_LIMIT = 10
WAF_MAX_RATE_LIMIT = 2_000_000_000
ALARM_MAX_THRESHOLD = 1_000_000
# The ledger (issue 8). A file is read in one invocation: Lambda's ceiling is 900 s; the
# file processor keeps 10 s of its budget for the report and the move (FILE_RETRY_POLICY).
MIN_FILES_TIMEOUT_S = 60
MIN_AGGREGATOR_TIMEOUT_S = 10  # the aggregator's retries keep a 5 s safety margin
MAX_FILE_WRITER_THREADS = 32  # FilesSettings' bound (orders_core.files.settings)
S3_MAX_OBJECT_BYTES = 5 * 1024**4  # 5 TiB
# DynamoDB stream event source mappings (CreateEventSourceMapping's ranges).
STREAM_ESM_MAX_BATCH_SIZE = 10_000
STREAM_ESM_MAX_WINDOW_S = 300
STREAM_ESM_MAX_RETRY_ATTEMPTS = 10_000  # -1 (forever) is refused: retries stay bounded
STREAM_ESM_MIN_RECORD_AGE_S = 60
# Lambda accepts up to 7 days, but a DynamoDB stream keeps records for 24 hours only.
DYNAMODB_STREAM_RETENTION_S = 86_400
STREAM_ESM_MAX_PARALLELIZATION = 10
LIFECYCLE_MAX_DAYS = 3653
EVENTS_MAX_RULE_NAME = 64

_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")
_CERTIFICATE_ARN = re.compile(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[\w-]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_GITHUB_REPOSITORY = re.compile(r"^[\w.-]+/[\w.-]+$")
# CloudFront takes certificates from us-east-1 only, and a CLOUDFRONT-scope web ACL.
_EDGE_CERTIFICATE_ARN = re.compile(r"^arn:aws[a-z-]*:acm:us-east-1:\d{12}:certificate/[\w-]+$")
_CLOUDFRONT_WEB_ACL_ARN = re.compile(
    r"^arn:aws[a-z-]*:wafv2:us-east-1:\d{12}:global/webacl/[\w-]+/[\w-]+$"
)
_HTTPS_URL = re.compile(r"^https://[^\s/?#]+[^\s]*$")
_DOMAIN_NAME = re.compile(
    r"^(?=.{1,253}$)(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
)
_SCOPE = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")  # RFC 6749 scope-token
# What the edge function verifies (lambdas/edge/viewer_request/tokens.py).
EDGE_AUTH_ALGORITHMS = ("RS256", "RS384", "RS512")
STATUS_CACHE_MAX_SECONDS = 300
_CURRENCY = re.compile(r"^[A-Z]{3}$")  # orders_core.money.check_ledger_currency
# orders_core.money's amount rule: a plain decimal, at most 2 places, below 10**28.
_AMOUNT = re.compile(r"^-?\d{1,28}(\.\d{1,2})?$")
_ACCOUNT_ID = re.compile(r"^\d{12}$")


class SettingsError(ValueError):
    """Raised when the context holds invalid or inconsistent settings."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"invalid settings ({len(problems)} problem(s)); fix them in cdk.json "
            f"'context' or with -c key=value:\n{lines}"
        )


# -- rules: coerce a context value (JSON from cdk.json, a string from -c) or say why not --


def _problem(text: str) -> PydanticCustomError:
    # The text travels as context, so braces in a quoted value cannot break the template.
    return PydanticCustomError("setting", "{problem}", {"problem": text})


def _rule(check: Callable[[str, Any], Any]) -> BeforeValidator:
    """A field rule: `check(key, raw)` returns the value or raises `_problem(...)`."""
    return BeforeValidator(lambda raw, info: check(str(info.field_name), raw))


def text() -> BeforeValidator:
    def check(key: str, raw: Any) -> str:
        if not isinstance(raw, str) or not raw.strip():
            raise _problem(f"{key}={raw!r} is not a non-empty string.")
        return raw.strip()

    return _rule(check)


def whole(low: int, high: int) -> BeforeValidator:
    """A whole number in low..high (a JSON integer or its digits; never a bool)."""

    def check(key: str, raw: Any) -> int:
        value = _to_int(raw)
        if value is None:
            raise _problem(f"{key}={raw!r} is not a whole number.")
        if not low <= value <= high:
            raise _problem(f"{key}={value} is out of range: use {low}..{high}.")
        return value

    return _rule(check)


def _to_int(raw: Any) -> int | None:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lstrip("-").isdigit():
        try:
            return int(raw.strip())
        except ValueError:  # "--5", or digits int() does not read
            return None
    return None


def flag() -> BeforeValidator:
    def check(key: str, raw: Any) -> bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
            return raw.strip().lower() == "true"
        raise _problem(f"{key}={raw!r} is not true or false.")

    return _rule(check)


def optional_flag() -> BeforeValidator:
    """true, false, or unset (null in cdk.json, "" from -c): the stage decides."""

    def check(key: str, raw: Any) -> bool | None:
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
            return raw.strip().lower() == "true"
        raise _problem(f"{key}={raw!r} is not true, false or unset (null).")

    return _rule(check)


def optional_text() -> BeforeValidator:
    """A string; "" means "not set"."""

    def check(key: str, raw: Any) -> str:
        if not isinstance(raw, str):
            raise _problem(f'{key}={raw!r} is not a string (or "" to leave it unset).')
        return raw.strip()

    return _rule(check)


def one_of(options: tuple[Any, ...]) -> BeforeValidator:
    """One of `options`, given as itself or as its text (`-c log_retention_days=30`)."""

    def check(key: str, raw: Any) -> Any:
        for option in options:
            if not isinstance(raw, bool) and (raw == option or str(raw) == str(option)):
                return option
        raise _problem(f"{key}={raw!r} is not one of: {', '.join(map(str, options))}.")

    return _rule(check)


def matching(pattern: re.Pattern[str], expected: str, *, optional: bool = False) -> BeforeValidator:
    """A string matching `pattern`; with `optional`, "" means "not set"."""

    def check(key: str, raw: Any) -> str:
        if optional and raw == "":
            return ""
        if not isinstance(raw, str) or not pattern.match(raw.strip()):
            hint = ' (or "" to leave it unset)' if optional else ""
            raise _problem(f"{key}={raw!r} is not {expected}{hint}.")
        return raw.strip()

    return _rule(check)


def amount() -> BeforeValidator:
    """An exact amount by the ledger's rule, as text ("1000000", "2500.50"; never a float).

    A JSON integer is taken as its digits; a JSON number with a fraction is refused,
    since cdk.json's parser would have made it binary floating point already.
    """

    def check(key: str, raw: Any) -> str:
        text = str(raw) if isinstance(raw, int) and not isinstance(raw, bool) else raw
        if not isinstance(text, str) or not _AMOUNT.match(text.strip()):
            raise _problem(
                f"{key}={raw!r} is not an exact amount: write it as a string of a plain "
                'decimal with at most 2 places, such as "1000000" or "2500.50".'
            )
        return text.strip()

    return _rule(check)


def _account_entry(key: str, raw: Any) -> str:
    text = str(raw) if isinstance(raw, int) and not isinstance(raw, bool) else raw
    if not isinstance(text, str) or not _ACCOUNT_ID.match(text.strip()):
        raise _problem(f"{key} entry {raw!r} is not a 12-digit AWS account id.")
    return text.strip()


def _account_items(key: str, raw: Any) -> Any:
    """A JSON list or "a,b,c" ("" is the empty list); an account may appear once."""
    items = [p.strip() for p in raw.split(",") if p.strip()] if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple):
        raise _problem(f"{key}={raw!r} must be a list of account ids (JSON list or a,b,c).")
    if len({str(item) for item in items}) < len(items):
        raise _problem(f"{key}={raw!r} names an account more than once.")
    return items


# Accounts a layer version is shared with: a JSON list or "a,b,c", each entry checked.
AccountIds = Annotated[tuple[Annotated[str, _rule(_account_entry)], ...], _rule(_account_items)]


def _ipv4_network(raw: Any) -> str | None:
    if not isinstance(raw, str):
        return None
    try:
        return str(ipaddress.IPv4Network(raw.strip(), strict=True))
    except ValueError:
        return None


def cidr() -> BeforeValidator:
    def check(key: str, raw: Any) -> str:
        network = _ipv4_network(raw)
        if network is None:
            raise _problem(f"{key}={raw!r} is not an IPv4 CIDR such as 10.0.0.0/16.")
        return network

    return _rule(check)


def _cidr_entry(key: str, raw: Any) -> str:
    network = _ipv4_network(raw)
    if network is None:
        raise _problem(
            f"{key} entry {raw!r} is not an IPv4 CIDR such as 203.0.113.0/24 "
            "(host bits must be zero)."
        )
    return network


def _cidr_items(key: str, raw: Any) -> Any:
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple) or not items:
        raise _problem(f"{key}={raw!r} must be a list of CIDRs (JSON list or a,b,c).")
    return items


# A JSON list or "a,b,c"; each entry is checked (and reported) on its own.
Cidrs = Annotated[tuple[Annotated[str, _rule(_cidr_entry)], ...], _rule(_cidr_items)]


def _list_items(key: str, raw: Any) -> Any:
    """A JSON list or "a,b,c" ("" is the empty list)."""
    if isinstance(raw, str):
        return [part.strip() for part in raw.split(",") if part.strip()]
    if not isinstance(raw, list | tuple):
        raise _problem(f"{key}={raw!r} must be a list (JSON list or a,b,c).")
    return raw


def _domain_entry(key: str, raw: Any) -> str:
    if not isinstance(raw, str) or not _DOMAIN_NAME.match(raw.strip().lower()):
        raise _problem(f"{key} entry {raw!r} is not a domain name such as api.example.com.")
    return raw.strip().lower()


def _algorithm_entry(key: str, raw: Any) -> str:
    if raw not in EDGE_AUTH_ALGORITHMS:
        raise _problem(f"{key} entry {raw!r} is not one of: {', '.join(EDGE_AUTH_ALGORITHMS)}.")
    return str(raw)


def _some_algorithms(key: str, raw: Any) -> Any:
    items = _list_items(key, raw)
    if not items:
        raise _problem(f"{key} is empty: name at least one of {', '.join(EDGE_AUTH_ALGORITHMS)}.")
    return items


DomainNames = Annotated[tuple[Annotated[str, _rule(_domain_entry)], ...], _rule(_list_items)]
Algorithms = Annotated[tuple[Annotated[str, _rule(_algorithm_entry)], ...], _rule(_some_algorithms)]


class Settings(BaseModel):
    """Everything a stack may vary on. Build it with `Settings.from_context`."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    stage: Annotated[Stage, one_of(STAGES)]
    app_name: Annotated[str, text()]
    allowed_cidrs: Cidrs
    alb_internet_facing: Annotated[bool, flag()]
    vpc_cidr: Annotated[str, cidr()]
    batch_size: Annotated[int, whole(1, SQS_ESM_MAX_BATCH_SIZE)]
    batching_window_seconds: Annotated[int, whole(0, SQS_ESM_MAX_WINDOW_S)]
    ingest_timeout_seconds: Annotated[int, whole(MIN_INGEST_TIMEOUT_S, 60)]
    ingest_memory_mb: Annotated[int, whole(LAMBDA_MIN_MEMORY_MB, LAMBDA_MAX_MEMORY_MB)]
    process_timeout_seconds: Annotated[int, whole(MIN_PROCESS_TIMEOUT_S, LAMBDA_MAX_TIMEOUT_S)]
    process_memory_mb: Annotated[int, whole(LAMBDA_MIN_MEMORY_MB, LAMBDA_MAX_MEMORY_MB)]
    status_timeout_seconds: Annotated[int, whole(MIN_STATUS_TIMEOUT_S, 60)]
    status_memory_mb: Annotated[int, whole(LAMBDA_MIN_MEMORY_MB, LAMBDA_MAX_MEMORY_MB)]
    max_concurrency: Annotated[int, whole(ESM_MIN_MAX_CONCURRENCY, ESM_MAX_MAX_CONCURRENCY)]
    max_receive_count: Annotated[int, whole(MIN_MAX_RECEIVE_COUNT, 1000)]
    log_retention_days: Annotated[int, one_of(tuple(LOG_RETENTION))]
    log_level: Annotated[str, one_of(LOG_LEVELS)]
    powertools_version: Annotated[str, text()]
    # -- the ledger (issue 8): files -> transactions/customers; streams -> totals -> alerts --
    ledger_currency: Annotated[
        str, matching(_CURRENCY, "a currency code of three upper-case letters such as IDR")
    ]
    high_balance_threshold: Annotated[str, amount()]
    alert_email: Annotated[str, matching(_EMAIL, "an e-mail address", optional=True)]
    file_max_bytes: Annotated[int, whole(1, S3_MAX_OBJECT_BYTES)]
    files_timeout_seconds: Annotated[int, whole(MIN_FILES_TIMEOUT_S, LAMBDA_MAX_TIMEOUT_S)]
    files_memory_mb: Annotated[int, whole(LAMBDA_MIN_MEMORY_MB, LAMBDA_MAX_MEMORY_MB)]
    file_writer_threads: Annotated[int, whole(1, MAX_FILE_WRITER_THREADS)]
    aggregator_timeout_seconds: Annotated[
        int, whole(MIN_AGGREGATOR_TIMEOUT_S, LAMBDA_MAX_TIMEOUT_S)
    ]
    aggregator_memory_mb: Annotated[int, whole(LAMBDA_MIN_MEMORY_MB, LAMBDA_MAX_MEMORY_MB)]
    aggregator_batch_size: Annotated[int, whole(1, STREAM_ESM_MAX_BATCH_SIZE)]
    aggregator_batching_window_seconds: Annotated[int, whole(0, STREAM_ESM_MAX_WINDOW_S)]
    aggregator_retry_attempts: Annotated[int, whole(0, STREAM_ESM_MAX_RETRY_ATTEMPTS)]
    aggregator_max_record_age_seconds: Annotated[
        int, whole(STREAM_ESM_MIN_RECORD_AGE_S, DYNAMODB_STREAM_RETENTION_S)
    ]
    aggregator_parallelization_factor: Annotated[int, whole(1, STREAM_ESM_MAX_PARALLELIZATION)]
    iterator_age_alarm_seconds: Annotated[int, whole(60, DYNAMODB_STREAM_RETENTION_S)]
    processed_file_expiry_days: Annotated[int, whole(1, LIFECYCLE_MAX_DAYS)]
    rejected_report_expiry_days: Annotated[int, whole(1, LIFECYCLE_MAX_DAYS)]
    layer_share_account_ids: AccountIds
    region: Annotated[str, matching(_REGION, "an AWS region such as eu-west-1")]
    certificate_arn: Annotated[
        str, matching(_CERTIFICATE_ARN, "an ACM certificate ARN", optional=True)
    ]
    waf_enabled: Annotated[bool, flag()]
    waf_rate_limit: Annotated[int, whole(WAF_MIN_RATE_LIMIT, WAF_MAX_RATE_LIMIT)]
    access_log_expiry_days: Annotated[int, whole(1, 3653)]
    alarm_email: Annotated[str, matching(_EMAIL, "an e-mail address", optional=True)]
    queue_age_alarm_seconds: Annotated[int, whole(60, 1_209_600)]
    dlq_alarm_threshold: Annotated[int, whole(1, ALARM_MAX_THRESHOLD)]
    function_error_alarm_threshold: Annotated[int, whole(1, ALARM_MAX_THRESHOLD)]
    function_throttle_alarm_threshold: Annotated[int, whole(1, ALARM_MAX_THRESHOLD)]
    alb_5xx_alarm_threshold: Annotated[int, whole(1, ALARM_MAX_THRESHOLD)]
    github_repository: Annotated[str, matching(_GITHUB_REPOSITORY, "owner/name", optional=True)]
    github_branch: Annotated[str, text()]
    # The edge: CloudFront + Lambda@Edge before an internal ALB (unset: on in prod only).
    edge_enabled: Annotated[bool | None, optional_flag()] = None
    edge_domain_names: DomainNames
    edge_certificate_arn: Annotated[
        str,
        matching(_EDGE_CERTIFICATE_ARN, "an ACM certificate ARN in us-east-1", optional=True),
    ]
    edge_web_acl_arn: Annotated[
        str,
        matching(
            _CLOUDFRONT_WEB_ACL_ARN,
            "a CLOUDFRONT-scope WAF web ACL ARN (us-east-1, global/webacl/...)",
            optional=True,
        ),
    ]
    status_cache_seconds: Annotated[int, whole(0, STATUS_CACHE_MAX_SECONDS)]
    edge_auth_issuer: Annotated[str, optional_text()]
    edge_auth_audience: Annotated[str, optional_text()]
    edge_auth_jwks_url: Annotated[str, matching(_HTTPS_URL, "an https:// URL", optional=True)]
    edge_auth_algorithms: Algorithms
    edge_auth_required_scope: Annotated[
        str, matching(_SCOPE, "one OAuth scope (no spaces)", optional=True)
    ]
    edge_auth_jwks_cache_seconds: Annotated[int, whole(1, 86_400)]
    edge_auth_leeway_seconds: Annotated[int, whole(0, 600)]

    # -- rules across settings (AWS would reject the deploy otherwise) ----------------

    @field_validator("app_name")
    @classmethod
    def _names_a_stack(cls, app_name: str) -> str:
        if not app_name.replace("-", "").isalnum():
            raise _problem(
                f"app_name={app_name!r} must be letters, digits and dashes "
                "(it starts every stack name)."
            )
        return app_name

    @field_validator("aggregator_batching_window_seconds")
    @classmethod
    def _stream_window_fits_batch(cls, window: int, info: ValidationInfo) -> int:
        batch_size = info.data.get("aggregator_batch_size")
        if batch_size is not None and batch_size > SQS_ESM_UNBATCHED_MAX and window < 1:
            raise _problem(
                f"aggregator_batch_size={batch_size} needs aggregator_batching_window_seconds "
                f">= 1: Lambda takes batches over {SQS_ESM_UNBATCHED_MAX} from a stream only "
                "with a batching window. Raise the window or lower the batch size."
            )
        return window

    @field_validator("iterator_age_alarm_seconds")
    @classmethod
    def _alarm_before_records_are_dropped(cls, alarm: int, info: ValidationInfo) -> int:
        max_age = info.data.get("aggregator_max_record_age_seconds")
        if max_age is not None and alarm >= max_age:
            raise _problem(
                f"iterator_age_alarm_seconds={alarm} must be below "
                f"aggregator_max_record_age_seconds={max_age}: records that old are sent to "
                "the failure queue unapplied, so the alarm would come too late."
            )
        return alarm

    @field_validator("batching_window_seconds")
    @classmethod
    def _window_fits_batch(cls, window: int, info: ValidationInfo) -> int:
        batch_size = info.data.get("batch_size")  # absent if batch_size itself is invalid
        if batch_size is not None and batch_size > SQS_ESM_UNBATCHED_MAX and window < 1:
            raise _problem(
                f"batch_size={batch_size} needs batching_window_seconds >= 1: SQS event "
                f"sources only take batches over {SQS_ESM_UNBATCHED_MAX} with a batching "
                "window. Raise batching_window_seconds or lower batch_size."
            )
        return window

    @field_validator("edge_auth_leeway_seconds")
    @classmethod
    def _edge_settings_fit_together(cls, leeway: int, info: ValidationInfo) -> int:
        data = info.data
        stage, enabled = data.get("stage"), data.get("edge_enabled")
        edge_on = enabled if enabled is not None else stage == "prod"
        problems = []
        auth = ("edge_auth_issuer", "edge_auth_audience", "edge_auth_jwks_url")
        given = [key for key in auth if data.get(key)]
        if given and len(given) < len(auth):
            missing = " and ".join(key for key in auth if key not in given)
            problems.append(
                f"edge authentication needs {missing} too ({', '.join(auth)} go together)."
            )
        if bool(data.get("edge_domain_names")) != bool(data.get("edge_certificate_arn")):
            problems.append(
                "a custom domain needs both edge_domain_names and edge_certificate_arn."
            )
        edge_only = {
            "edge_domain_names": data.get("edge_domain_names"),
            "edge_certificate_arn": data.get("edge_certificate_arn"),
            "edge_web_acl_arn": data.get("edge_web_acl_arn"),
            "status_cache_seconds": data.get("status_cache_seconds"),
            "edge_auth_issuer": data.get("edge_auth_issuer"),
        }
        if stage is not None and not edge_on and any(edge_only.values()):
            keys = ", ".join(key for key, value in edge_only.items() if value)
            problems.append(
                f"{keys} need the edge, which is off for stage={stage}: set "
                "edge_enabled=true, or unset them (without the edge nobody checks a token)."
            )
        if edge_on and data.get("certificate_arn"):
            problems.append(
                "certificate_arn is the ALB's certificate for serving HTTPS without the edge; "
                "with the edge on, CloudFront serves HTTPS (its own certificate, or "
                "edge_domain_names with edge_certificate_arn): unset certificate_arn."
            )
        if problems:
            raise _problem(" ".join(problems))
        return leeway

    # -- derived values: computed, never typed twice ---------------------------------

    @property
    def edge_on(self) -> bool:
        """CloudFront + Lambda@Edge in front (edge_enabled, or unset: prod only)."""
        return self.edge_enabled if self.edge_enabled is not None else self.is_prod

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

    @property
    def name_prefix(self) -> str:
        """`Orders-dev`: names derive from the app and stage so stages coexist."""
        return f"{self.app_name}-{self.stage}"

    def stack_name(self, part: str) -> str:
        """`Orders-dev-Network`."""
        return f"{self.name_prefix}-{part}"

    @property
    def metrics_namespace(self) -> str:
        """Where every function of this stage writes its custom metrics."""
        return contract.metrics_namespace(self.app_name, self.stage)

    @property
    def log_retention(self) -> logs.RetentionDays:
        return LOG_RETENTION[self.log_retention_days]

    @property
    def files_rule_name(self) -> str:
        """The EventBridge rule that hands new files to the file processor.

        Named from the stage, not generated: the queue stack lets exactly this rule send to
        the files dead-letter queue, and a generated name would have to come from the
        compute stack, a reference back from the stack that depends on the queue stack.
        """
        name = f"{self.name_prefix}-order-files"
        if len(name) > EVENTS_MAX_RULE_NAME:
            raise SettingsError(
                [
                    f"app_name={self.app_name!r} is too long: the files rule name {name!r} "
                    f"must fit {EVENTS_MAX_RULE_NAME} characters."
                ]
            )
        return name

    # -- construction ----------------------------------------------------------------

    @classmethod
    def from_context(cls, get: Callable[[str], Any]) -> Settings:
        """Read and validate settings; `get` is `app.node.try_get_context`."""
        return cls.from_mapping({key: get(key) for key in cls.model_fields})

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Settings:
        """Validate context values; a key that is absent or null is missing."""
        try:
            return cls.model_validate({k: v for k, v in values.items() if v is not None})
        except ValidationError as exc:
            raise SettingsError([_describe(error) for error in exc.errors()]) from None


def _describe(error: Any) -> str:
    """One problem, in words that name the key to change."""
    key = str(error["loc"][0]) if error["loc"] else "settings"
    if error["type"] == "missing":
        return f"{key} is missing: set it in cdk.json context."
    if error["type"] == "setting":
        return str(error["msg"])
    location = ".".join(str(part) for part in error["loc"])
    return f"{location or key}: {error['msg']}."


def settings_from_mapping(values: Mapping[str, Any]) -> Settings:
    """Build settings from a plain mapping (tests, scripts)."""
    return Settings.from_mapping(values)
