"""Histories in Azure Table storage: the Function App's `HistoryStore` (shared/history_store.py).

One partition per room (PartitionKey = the room id) in table `streamhistory` (not
`codestreamHistory`: table names ignore case, and that one is the Durable task hub's). Rows:

- `m`, the head: `seq` (entries appended so far) and `last` (the version of the last entry or
  checkpoint). Every write is one transaction that also updates the head on the condition of
  its ETag, so two writers (a Room entity that moved between instances) cannot interleave.
- `e{version:012}{seq:012}`, an entry. Versions never go back along a history, so key order is
  append order, and "the entries after version V" start at one key.
- `c{~version:012}{~seq:012}`, a checkpoint after the `seq` entries before it, its text
  zlib-compressed; `~n` is 10**12 - 1 - n, so the latest checkpoint at or before V is the
  first row from key `c{~V}`: one row read, whatever the history's length.
- A row's payload is split over binary properties `b0`, `b1`, ... of 64 KiB (the property
  limit); what does not fit in one row (1 MiB an entity) goes on in rows `<key>~001`, ...,
  written before the row that names them (`x`, their number), so a 1 MB text or delta fits.

`TableHistory` is synchronous: the Room entity calls it in its own thread (docs/AZURE.md);
`TableHistoryStore` is the async `HistoryStore` over it for the HTTP functions.
"""

from __future__ import annotations

import asyncio
import functools
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableServiceClient, TableTransactionError, UpdateMode

from shared.history import (
    EMPTY,
    Entry,
    HistoryError,
    Page,
    Snapshot,
    check_entries,
    check_snapshot,
    decode_message,
    page,
    text_at,
)

from .table_names import HISTORY_TABLE, open_table

STORAGE = "AzureWebJobsStorage"  # the Functions host's own storage setting, in each of its forms

DIGITS = 12
KEY_LIMIT = 10**DIGITS  # versions and sequence numbers a key can hold
PART_BYTES = 64 * 1024  # Table storage's limit for one binary property
PARTS_PER_ROW = 8  # 512 KiB a row: under the 1 MiB an entity may hold also as base64 (Azurite counts that)
TRANSACTION_BYTES = 2 * 1024 * 1024  # payload a transaction: under its 4 MiB once base64-encoded
TRANSACTION_ROWS = 99  # and the head: 100 operations a transaction at most
HEAD = "m"
ATTEMPTS = 3  # writes retried after another writer moved the head
IF_UNMOVED = MatchConditions.IfNotModified


class TableConfigError(ValueError):
    """The storage settings name no table endpoint codestream can use."""


@dataclass(frozen=True)
class TableConnection:
    """Where the tables are, from the host's `AzureWebJobsStorage` setting in any of its forms.

    - a connection string (`UseDevelopmentStorage=true` is Azurite on its default ports);
    - the identity form `infra/` deploys: `__tableServiceUri` (or `__accountName`), with
      `__credential=managedidentity` and `__clientId` for a user-assigned identity.
    """

    connection_string: str | None = field(default=None, repr=False)
    endpoint: str | None = None
    client_id: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str], name: str = STORAGE) -> TableConnection:
        if env.get(name):
            return cls(connection_string=env[name])
        endpoint = env.get(f"{name}__tableServiceUri")
        account = env.get(f"{name}__accountName")
        if not endpoint and account:
            endpoint = f"https://{account}.table.core.windows.net"
        if not endpoint:
            raise TableConfigError(f"{name} (or {name}__accountName / __tableServiceUri) is not set")
        return cls(endpoint=endpoint.rstrip("/"), client_id=env.get(f"{name}__clientId") or None)

    def service(self) -> TableServiceClient:
        if self.connection_string is not None:
            return TableServiceClient.from_connection_string(self.connection_string)
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential(managed_identity_client_id=self.client_id)
        return TableServiceClient(self.endpoint, credential=credential)


@dataclass
class _Head:
    seq: int
    last: int
    etag: str | None  # None: not written yet


def _inverse(n: int) -> str:
    return f"{KEY_LIMIT - 1 - n:0{DIGITS}d}"


def entry_key(version: int, seq: int) -> str:
    return f"e{version:0{DIGITS}d}{seq:0{DIGITS}d}"


def checkpoint_key(version: int, seq: int) -> str:
    return f"c{_inverse(version)}{_inverse(seq)}"


def _check_key_room(version: int) -> None:
    if version >= KEY_LIMIT:
        raise HistoryError(f"version {version} is past what the table's keys hold")


def _rows(room_id: str, key: str, payload: bytes, props: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The row for `key` holding `payload` (and `props`), and the rows its payload goes on in."""
    parts = [payload[i : i + PART_BYTES] for i in range(0, len(payload), PART_BYTES)]
    groups = [parts[i : i + PARTS_PER_ROW] for i in range(0, len(parts), PARTS_PER_ROW)] or [[]]
    main = {"PartitionKey": room_id, "RowKey": key, "x": len(groups) - 1, **props, **_parts(groups[0])}
    more = [{"PartitionKey": room_id, "RowKey": f"{key}~{n:03d}", **_parts(g)} for n, g in enumerate(groups[1:], 1)]
    return main, more


def _parts(parts: list[bytes]) -> dict[str, bytes]:
    return {f"b{i}": part for i, part in enumerate(parts)}


def _payload(row: Mapping[str, Any]) -> bytes:
    chunks, i = [], 0
    while (part := row.get(f"b{i}")) is not None:
        chunks.append(bytes(part))
        i += 1
    return b"".join(chunks)


def _records(rows: Iterable[Mapping[str, Any]]) -> Iterator[tuple[Mapping[str, Any], bytes]]:
    """Each row with its whole payload (its continuation rows joined), in key order.

    Continuation rows without their row (a write that stopped half-way) are skipped.
    """
    current: Mapping[str, Any] | None = None
    chunks: list[bytes] = []
    for row in rows:
        key = row["RowKey"]
        if "~" in key:
            if current is not None and key.startswith(current["RowKey"] + "~"):
                chunks.append(_payload(row))
            continue
        if current is not None:
            yield _whole(current, chunks)
        current, chunks = row, [_payload(row)]
    if current is not None:
        yield _whole(current, chunks)


def _whole(row: Mapping[str, Any], chunks: list[bytes]) -> tuple[Mapping[str, Any], bytes]:
    if len(chunks) != int(row.get("x", 0)) + 1:
        raise HistoryError(f"stored history row {row['RowKey']} lacks part of its payload")
    return row, b"".join(chunks)


def _entry(row: Mapping[str, Any], payload: bytes) -> Entry:
    version = int(row["RowKey"][1 : 1 + DIGITS])
    try:
        raw = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise HistoryError(f"stored history entry {row['RowKey']} is damaged") from None
    return Entry(version, float(row["t"]), decode_message(version, raw))


class TableHistory:
    """The history store's work, synchronous: each call is a few Table storage requests."""

    def __init__(self, service: Any, table: str = HISTORY_TABLE) -> None:
        self.service = service
        self.table_name = table
        self._heads: dict[str, _Head] = {}  # what this process last wrote or read of each head

    @functools.cached_property
    def table(self) -> Any:
        return open_table(self.service, self.table_name)  # on first use: most functions touch no table

    # --- writing ---

    def append(self, room_id: str, entries: Sequence[Entry]) -> None:
        def rows(head: _Head | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
            encoded = check_entries(entries, None if head is None else head.last)
            seq = 0 if head is None else head.seq
            mains, more = [], []
            for entry, raw in zip(entries, encoded, strict=True):
                _check_key_room(entry.version)
                seq += 1
                main, extra = _rows(room_id, entry_key(entry.version, seq), raw.encode("utf-8"), {"t": float(entry.at)})
                mains.append(main)
                more += extra
            return mains, more

        if entries:
            self._write(room_id, rows)

    def checkpoint(self, room_id: str, snapshot: Snapshot) -> None:
        def rows(head: _Head | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
            content = check_snapshot(snapshot, None if head is None else head.last)
            _check_key_room(snapshot.version)
            seq = 0 if head is None else head.seq
            props: dict[str, Any] = {"t": float(snapshot.at)}
            if snapshot.language is not None:
                props["l"] = snapshot.language
            main, more = _rows(room_id, checkpoint_key(snapshot.version, seq), zlib.compress(content), props)
            return [main], more

        self._write(room_id, rows)

    def _write(self, room_id: str, rows: Any) -> None:
        """Write `rows(head)`: the continuation rows, then the rows with the head, in as few transactions as fit."""
        for attempt in range(ATTEMPTS):
            head = self._head(room_id, cached=attempt == 0)
            mains, more = rows(head)
            for row in more:  # before the rows naming them: a reader never finds a row without its parts
                self.table.upsert_entity(row, mode=UpdateMode.REPLACE)
            committed = 0
            try:
                for group in _transactions(mains):
                    head = self._commit(room_id, group, head)
                    committed += 1
                return
            except TableTransactionError:
                self._heads.pop(room_id, None)  # another writer moved the head: read it again
                if committed or attempt == ATTEMPTS - 1:  # part of it is in: written again it would repeat
                    raise

    def _commit(self, room_id: str, group: list[dict[str, Any]], head: _Head | None) -> _Head:
        """One transaction: the rows, and the head moved past them on the condition that it did not move."""
        seq, last = _seq_of(group[-1]), _version_of(group[-1])
        head_row = {"PartitionKey": room_id, "RowKey": HEAD, "seq": str(seq), "last": str(last)}
        operations: list[Any] = [("upsert", row, {"mode": UpdateMode.REPLACE}) for row in group]
        if head is None or head.etag is None:
            operations.append(("create", head_row))
        else:
            operations.append(
                ("update", head_row, {"mode": UpdateMode.REPLACE, "etag": head.etag, "match_condition": IF_UNMOVED})
            )
        result = self.table.submit_transaction(operations)
        new_head = _Head(seq, last, result[-1].get("etag"))
        self._heads[room_id] = new_head
        return new_head

    def _head(self, room_id: str, cached: bool = True) -> _Head | None:
        if cached and room_id in self._heads:
            return self._heads[room_id]
        try:
            row = self.table.get_entity(room_id, HEAD)
        except ResourceNotFoundError:
            self._heads.pop(room_id, None)
            return None
        head = _Head(int(row["seq"]), int(row["last"]), row.metadata.get("etag"))
        self._heads[room_id] = head
        return head

    def delete_history(self, room_id: str) -> None:
        """Every row of the room, its head last: a delete that stopped half-way is seen and done again."""
        self._heads.pop(room_id, None)
        keys = [
            row["RowKey"]
            for row in self.table.query_entities("PartitionKey eq @p", parameters={"p": room_id}, select=["RowKey"])
        ]
        keys.sort(key=lambda key: key == HEAD)
        for start in range(0, len(keys), 100):
            batch = [("delete", {"PartitionKey": room_id, "RowKey": key}) for key in keys[start : start + 100]]
            self.table.submit_transaction(batch)

    # --- reading ---

    def read_text(self, room_id: str, version: int | None = None) -> Snapshot | None:
        """Two reads: the checkpoint, then the entries after it up to `version`."""
        base, after = self._checkpoint_at(room_id, version), "e"
        if base is not None:
            checkpoint, seq = base
            after = entry_key(checkpoint.version, seq)
        upper = "f" if version is None or version + 1 >= KEY_LIMIT else entry_key(version + 1, 0)
        entries = [_entry(row, data) for row, data in _records(self._range(room_id, after, upper, include_low=False))]
        if base is None and not entries and not self._has_history(room_id):
            return None
        return text_at(base[0] if base else EMPTY, entries, version)

    def read_page(self, room_id: str, after: int | None, limit: int) -> Page | None:
        if limit < 1:
            raise HistoryError("a page holds at least one entry")
        entries: list[Entry] = []
        if after is None or after + 1 < KEY_LIMIT:
            low = "e" if after is None else entry_key(after + 1, 0)
            # `page` needs a prefix holding the page's last version group and one entry more.
            for row, data in _records(self._range(room_id, low, "f", per_page=min(1000, limit + 2))):
                entries.append(_entry(row, data))
                if len(entries) > limit and entries[-1].version != entries[0].version:
                    break
        if not entries and not self._has_history(room_id):
            return None
        return page(entries, after, limit)

    def _has_history(self, room_id: str) -> bool:
        """Whether the room has a head: read only when a read found no row (nothing yet, or no history)."""
        return self._head(room_id, cached=False) is not None

    def _checkpoint_at(self, room_id: str, version: int | None) -> tuple[Snapshot, int] | None:
        """The latest checkpoint at or before `version` (None: the latest) and its seq."""
        low = "c" if version is None else "c" + _inverse(min(version, KEY_LIMIT - 1))
        found = next(iter(self._range(room_id, low, "d", per_page=1)), None)
        if found is None:
            return None
        key = found["RowKey"]
        rows = [found]
        if int(found.get("x", 0)):
            rows += list(self._range(room_id, key + "~", key + "~~"))
        (row, data), *_ = list(_records(rows))
        checkpoint_version = KEY_LIMIT - 1 - int(key[1 : 1 + DIGITS])
        seq = KEY_LIMIT - 1 - int(key[1 + DIGITS :])
        try:
            content = zlib.decompress(data).decode("utf-8")
        except (zlib.error, UnicodeDecodeError):
            raise HistoryError(f"stored checkpoint {key} is damaged") from None
        return Snapshot(checkpoint_version, float(row["t"]), content, row.get("l")), seq

    def _range(
        self, room_id: str, low: str, high: str, include_low: bool = True, per_page: int | None = None
    ) -> Iterator[Any]:
        relation = "ge" if include_low else "gt"
        query = f"PartitionKey eq @p and RowKey {relation} @low and RowKey lt @high"
        parameters = {"p": room_id, "low": low, "high": high}
        return iter(self.table.query_entities(query, parameters=parameters, results_per_page=per_page))


def _transactions(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """`rows` in groups that each fit one transaction with the head."""
    group: list[dict[str, Any]] = []
    size = 0
    for row in rows:
        row_size = sum(len(v) for k, v in row.items() if k.startswith("b"))
        if group and (len(group) >= TRANSACTION_ROWS or size + row_size > TRANSACTION_BYTES):
            yield group
            group, size = [], 0
        group.append(row)
        size += row_size
    if group:
        yield group


def _seq_of(row: Mapping[str, Any]) -> int:
    key = row["RowKey"]
    return int(key[1 + DIGITS :]) if key[0] == "e" else KEY_LIMIT - 1 - int(key[1 + DIGITS :])


def _version_of(row: Mapping[str, Any]) -> int:
    key = row["RowKey"]
    return int(key[1 : 1 + DIGITS]) if key[0] == "e" else KEY_LIMIT - 1 - int(key[1 : 1 + DIGITS])


class TableHistoryStore:
    """The async `HistoryStore` over `TableHistory`: each call runs in a thread, off the event loop."""

    def __init__(self, history: TableHistory) -> None:
        self.history = history

    async def append(self, room_id: str, entries: Sequence[Entry]) -> None:
        await asyncio.to_thread(self.history.append, room_id, list(entries))

    async def checkpoint(self, room_id: str, snapshot: Snapshot) -> None:
        await asyncio.to_thread(self.history.checkpoint, room_id, snapshot)

    async def read_text(self, room_id: str, version: int | None = None) -> Snapshot | None:
        return await asyncio.to_thread(self.history.read_text, room_id, version)

    async def read_page(self, room_id: str, after: int | None, limit: int) -> Page | None:
        return await asyncio.to_thread(self.history.read_page, room_id, after, limit)

    async def delete_history(self, room_id: str) -> None:
        await asyncio.to_thread(self.history.delete_history, room_id)
