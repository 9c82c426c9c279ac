"""The DynamoDB store (`dynamodb://`): the `[dynamodb]` extra; `backend` has the design.

Inside the package, `items` is the vocabulary (attributes, keys, records, API calls and their
errors) that `backend`, `writes` (the write requests), `feed` (the change feed) and `table`
(table management) share.
"""

from .backend import MAX_ACTIVE_PER_OWNER, MAX_RECORD_BYTES, DynamoDBBackend

__all__ = ["MAX_ACTIVE_PER_OWNER", "MAX_RECORD_BYTES", "DynamoDBBackend"]
