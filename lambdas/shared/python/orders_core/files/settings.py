"""The file processor's settings: the function's and the large-file task's.

Both read and write files the same way (``FileWriteSettings``); the function also knows
where to hand a file too large for one invocation (``LARGE_FILES_*``, all or none: none
means the large-file path is off in this stage), the task which file to read and where to
report its own failure.
"""

from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, model_validator

from orders_core.money import check_ledger_currency
from orders_core.settings import CommonSettings

LedgerCurrency = Annotated[str, AfterValidator(check_ledger_currency)]


def _comma_list(value: object) -> object:
    """``subnet-a,subnet-b`` (how the stack writes a list into one variable)."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


def _blank_is_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


class FileWriteSettings(CommonSettings):
    """What reading a file and writing the ledger's tables needs, wherever it runs."""

    transactions_table_name: str = Field(alias="TRANSACTIONS_TABLE_NAME", min_length=1)
    customers_table_name: str = Field(alias="CUSTOMERS_TABLE_NAME", min_length=1)
    ledger_currency: LedgerCurrency = Field(alias="LEDGER_CURRENCY")
    # A larger file is not read: it is reported as unreadable (one entry) and moved.
    file_max_bytes: int = Field(alias="FILE_MAX_BYTES", ge=1)
    # Threads writing to DynamoDB while one reads (see files/writers.py).
    writer_threads: int = Field(alias="FILE_WRITER_THREADS", default=8, ge=1, le=32)


class LargeFilesTarget(BaseModel):
    """Where the function starts the large-file task (ecs:RunTask's arguments)."""

    model_config = {"frozen": True}

    cluster: str = Field(min_length=1)
    task_definition: str = Field(min_length=1)
    container: str = Field(min_length=1)
    subnets: tuple[str, ...] = Field(min_length=1)
    security_group: str = Field(min_length=1)


OptionalText = Annotated[str | None, BeforeValidator(_blank_is_none)]


class FilesSettings(FileWriteSettings):
    """The file function's environment."""

    # Above this a file is not read by the function: it is handed to the large-file
    # task, or, with the large-file path off, reported as too large for this stage.
    large_file_bytes: int = Field(alias="LARGE_FILE_BYTES", ge=1)
    large_files_cluster: OptionalText = Field(alias="LARGE_FILES_CLUSTER", default=None)
    large_files_task_definition: OptionalText = Field(
        alias="LARGE_FILES_TASK_DEFINITION", default=None
    )
    large_files_container: OptionalText = Field(alias="LARGE_FILES_CONTAINER", default=None)
    large_files_subnets: Annotated[tuple[str, ...], BeforeValidator(_comma_list)] = Field(
        alias="LARGE_FILES_SUBNETS", default=()
    )
    large_files_security_group: OptionalText = Field(
        alias="LARGE_FILES_SECURITY_GROUP", default=None
    )

    @model_validator(mode="after")
    def _all_or_none(self) -> Self:
        given = self._target_values()
        if any(given.values()) and not all(given.values()):
            missing = ", ".join(name for name, value in given.items() if not value)
            raise ValueError(f"the large-file task needs every LARGE_FILES_* variable: {missing}")
        return self

    def _target_values(self) -> dict[str, object]:
        return {
            "cluster": self.large_files_cluster,
            "task_definition": self.large_files_task_definition,
            "container": self.large_files_container,
            "subnets": self.large_files_subnets,
            "security_group": self.large_files_security_group,
        }

    @property
    def large_files(self) -> LargeFilesTarget | None:
        """The task to hand large files to; None when the path is off in this stage."""
        values = self._target_values()
        return LargeFilesTarget.model_validate(values) if all(values.values()) else None


class FileTaskSettings(FileWriteSettings):
    """The large-file task's environment: the task definition's plus, per run, the file."""

    bucket: str = Field(alias="FILE_BUCKET", min_length=1)
    key: str = Field(alias="FILE_KEY", min_length=1)
    version_id: OptionalText = Field(alias="FILE_VERSION_ID", default=None)
    dead_letter_queue_url: str = Field(alias="FILES_DEAD_LETTER_QUEUE_URL", min_length=1)


def override_names() -> tuple[str, str, str]:
    """The variables the function sets per run (bucket, key, version): the task's aliases."""
    fields = FileTaskSettings.model_fields
    return (
        str(fields["bucket"].alias),
        str(fields["key"].alias),
        str(fields["version_id"].alias),
    )
