# SPDX-License-Identifier: GPL-2.0-or-later
"""The AWS store: two DynamoDB tables (keys and indexes in :mod:`.schema`).

It behaves like the SQLite store and encodes records as
:mod:`lkml_assistant.repositories.encoding` says. An upsert first reads the stored
fingerprints (BatchGetItem, 100 keys a call) and writes only the items whose fingerprint
changed, so a re-run with nothing new issues no write request at all
(``DynamoDbStore.write_requests`` counts them). Large payloads are zlib-compressed and, if
still too large for one 400 KB item, split over part items (:mod:`.payload`). ``expires_at``
(TTL) is set from a record's date when ``retention_days`` > 0, and expired items are never
returned.

``client`` holds the request helpers every repository shares, ``keys`` the item keys,
``changelog`` the change log's format; one module per concept holds its repository.
boto3 is imported by the store's constructor only, so importing this package stays cheap.
"""

from lkml_assistant.repositories.dynamodb.client import WRITE_OPERATIONS
from lkml_assistant.repositories.dynamodb.store import DynamoDbStore
from lkml_assistant.repositories.dynamodb.tables import create_tables

__all__ = ["WRITE_OPERATIONS", "DynamoDbStore", "create_tables"]
