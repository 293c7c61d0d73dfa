"""Every size and count limit of the orders API, in one place.

The numbers are documented in docs/contracts.md; change both together.
"""

from typing import Final

KIB: Final = 1024

# SQS's classic per-message and per-batch cap (queues may allow 1 MiB today, but 256 KiB
# works whatever MaximumMessageSize the queue has). ALB itself caps Lambda bodies at 1 MB.
MAX_BODY_BYTES: Final = 256 * KIB
SQS_MAX_MESSAGE_BYTES: Final = 256 * KIB
SQS_MAX_BATCH_BYTES: Final = 256 * KIB

# One SendMessageBatch call takes at most 10 entries.
MAX_ORDERS_PER_REQUEST: Final = 10

# A status read of a whole order lists at most this many items (item URLs read any one).
MAX_STATUS_ITEMS: Final = 100

# Key attributes: 256 characters is at most 1024 UTF-8 bytes, DynamoDB's sort key limit.
MAX_KEY_CHARS: Final = 256

# qty is a positive integer up to this bound (a sanity bound, far below DynamoDB's range).
MAX_QTY: Final = 1_000_000

# Free-form fields the client may add next to order_id, item and qty.
MAX_EXTRA_FIELDS: Final = 50
MAX_FIELD_NAME_CHARS: Final = 128
# How many containers (objects/arrays) a free-form value may nest; DynamoDB allows 32.
MAX_NESTING_DEPTH: Final = 8

# The request id in a stamp (a Lambda request id is a 36-character UUID).
MAX_REQUEST_ID_CHARS: Final = 128

# DynamoDB numbers: up to 38 significant digits, magnitude 1E-130 .. 9.99..E+125.
DYNAMODB_MAX_DIGITS: Final = 38
DYNAMODB_MIN_EXPONENT: Final = -130
DYNAMODB_MAX_EXPONENT: Final = 125
