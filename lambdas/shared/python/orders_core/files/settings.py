"""The file processor's settings: the function's and the large-file task's.

Both read and write files the same way (``FileWriteSettings``); the function also knows
where to hand a file too large for one invocation (``LARGE_FILES_*``, all or none: none
means the large-file path is off in this stage), the task which file to read and where to
report its own failure.
"""

from dataclasses import dataclass, fields

from orders_core.settings import (
    CommonSettings,
    comma_list,
    integer,
    ledger_currency,
    optional_text,
    text,
    variable,
)


@dataclass(frozen=True, kw_only=True)
class FileWriteSettings(CommonSettings):
    """What reading a file and writing the ledger's tables needs, wherever it runs."""

    transactions_table_name: str = variable("TRANSACTIONS_TABLE_NAME")
    customers_table_name: str = variable("CUSTOMERS_TABLE_NAME")
    ledger_currency: str = variable("LEDGER_CURRENCY", ledger_currency)
    # A larger file is not read: it is reported as unreadable (one entry) and moved.
    file_max_bytes: int = variable("FILE_MAX_BYTES", integer(low=1))
    # Threads writing to DynamoDB while one reads (see files/writers.py).
    writer_threads: int = variable("FILE_WRITER_THREADS", integer(low=1, high=32), default=8)


@dataclass(frozen=True)
class LargeFilesTarget:
    """Where the function starts the large-file task (ecs:RunTask's arguments)."""

    cluster: str
    task_definition: str
    container: str
    subnets: tuple[str, ...]
    security_group: str


@dataclass(frozen=True, kw_only=True)
class FilesSettings(FileWriteSettings):
    """The file function's environment."""

    # Above this a file is not read by the function: it is handed to the large-file
    # task, or, with the large-file path off, reported as too large for this stage.
    large_file_bytes: int = variable("LARGE_FILE_BYTES", integer(low=1))
    large_files_cluster: str | None = variable("LARGE_FILES_CLUSTER", optional_text, None)
    large_files_task_definition: str | None = variable(
        "LARGE_FILES_TASK_DEFINITION", optional_text, None
    )
    large_files_container: str | None = variable("LARGE_FILES_CONTAINER", optional_text, None)
    large_files_subnets: tuple[str, ...] = variable("LARGE_FILES_SUBNETS", comma_list, ())
    large_files_security_group: str | None = variable(
        "LARGE_FILES_SECURITY_GROUP", optional_text, None
    )

    def __post_init__(self) -> None:
        given = self._target_values()
        if any(given.values()) and not all(given.values()):
            missing = ", ".join(name for name, value in given.items() if not value)
            raise ValueError(f"the large-file task needs every LARGE_FILES_* variable: {missing}")

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
        return LargeFilesTarget(**values) if all(values.values()) else None  # type: ignore[arg-type]


@dataclass(frozen=True, kw_only=True)
class FileTaskSettings(FileWriteSettings):
    """The large-file task's environment: the task definition's plus, per run, the file."""

    bucket: str = variable("FILE_BUCKET", text)
    key: str = variable("FILE_KEY", text)
    version_id: str | None = variable("FILE_VERSION_ID", optional_text, None)
    dead_letter_queue_url: str = variable("FILES_DEAD_LETTER_QUEUE_URL", text)


def override_names() -> tuple[str, str, str]:
    """The variables the function sets per run (bucket, key, version): the task's names."""
    by_field = {field.name: field.metadata["env"] for field in fields(FileTaskSettings)}
    return (by_field["bucket"], by_field["key"], by_field["version_id"])
