"""The journal's SQLite store: append-only tables chained by hashes.

Every row of every table gets a global sequence number ``seq`` and carries ``prev_hash`` (the hash of
the row with ``seq - 1``, whatever its table) and its own ``hash`` = sha256 of the canonical JSON of
(table, seq, prev_hash, columns). The ``chain_head`` row holds the last seq/hash so that removing the
newest rows is detected too. Rows are never updated: a status change is a new row.

Concurrency: WAL mode, a busy timeout, and every append in ``BEGIN IMMEDIATE`` (the write lock is taken
before the chain head is read), so any number of processes (two deployments at once, each with its own
forks) append one after the other and the chain stays linear. Only the standard library is used, so
the callback plugin can load this module under plain ansible-playbook or AWX.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from typing import Any, Dict, Iterable, List, Optional

GENESIS = "0" * 64
BUSY_TIMEOUT_MS = 60000

# table -> its own columns (besides seq, ts, prev_hash, hash); JSON columns end with "_json"
TABLES: Dict[str, List[str]] = {
    "deployments": ["deployment", "status", "site", "template_digest", "inputs_json", "owner", "grp", "note"],
    "runs": ["run_id", "deployment", "action", "phase", "rc", "status", "stats_json", "artifacts", "source"],
    "attempts": ["run_id", "deployment", "attempt", "site", "outcome", "error_class", "message"],
    "resources": ["run_id", "deployment", "site", "kind", "resource_id", "name", "change", "detail_json"],
    "host_events": ["run_id", "deployment", "host", "play", "task", "action", "status", "message"],
}
INDEXES = {
    "deployments": ["deployment"],
    "runs": ["run_id", "deployment"],
    "attempts": ["run_id"],
    "resources": ["deployment"],
    "host_events": ["run_id"],
}


class JournalError(Exception):
    """The journal cannot be opened or written (bad path, corrupt file, unknown table)."""


def record_hash(table: str, seq: int, ts: float, prev_hash: str, values: Dict[str, Any]) -> str:
    body = {"table": table, "seq": seq, "ts": repr(float(ts)), "prev": prev_hash,
            "values": {col: values.get(col) for col in TABLES[table]}}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _schema() -> str:
    parts = ["CREATE TABLE IF NOT EXISTS chain_head (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL);"]
    for table, cols in TABLES.items():
        coldefs = ", ".join("%s %s" % (c, "INTEGER" if c in ("rc", "attempt") else "TEXT") for c in cols)
        parts.append("CREATE TABLE IF NOT EXISTS %s (seq INTEGER PRIMARY KEY, ts REAL NOT NULL, %s, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);"
                     % (table, coldefs))
        for col in INDEXES.get(table, []):
            parts.append("CREATE INDEX IF NOT EXISTS %s_%s ON %s (%s);" % (table, col, table, col))
    return "\n".join(parts)


class JournalStore:
    """One connection to ``path``; cheap to create, use one per process (not shared across forks)."""

    def __init__(self, path: str):
        self.path = str(path)
        directory = os.path.dirname(os.path.abspath(self.path))
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
            # created 0600 before SQLite opens it: its -wal and -shm files take the main file's mode
            os.close(os.open(self.path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
            self.conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000.0, isolation_level=None)
            self.conn.row_factory = sqlite3.Row
            self.conn.execute("PRAGMA busy_timeout = %d" % BUSY_TIMEOUT_MS)
            self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute("PRAGMA synchronous = NORMAL")
            self._init_schema()
        except (OSError, sqlite3.Error) as exc:
            raise JournalError("journal %s: %s" % (self.path, exc))
        try:
            os.chmod(self.path, 0o600)  # inputs and messages are redacted, but still private
        except OSError:
            pass
        from ansible_collections.indigo.paas.plugins.plugin_utils.journal import lease  # pylint: disable=import-outside-toplevel

        lease.close_dead_runs(self)  # a run whose process died is interrupted, not running forever

    def _init_schema(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            # statements one by one: executescript() would COMMIT implicitly and drop the lock
            for statement in _schema().split(";\n"):
                statement = statement.strip().rstrip(";")
                if statement:
                    self.conn.execute(statement)
            self.conn.execute("INSERT OR IGNORE INTO chain_head (id, seq, hash) VALUES (1, 0, ?)", (GENESIS,))
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self.conn.close()

    def append(self, table: str, **values: Any) -> int:
        """Append one row to ``table``; returns its seq. Unknown columns are an error (caught in tests)."""
        return self.append_many([(table, values)])[-1]

    def append_many(self, rows: Iterable[tuple]) -> List[int]:
        """Append several ``(table, values)`` rows in one transaction (one lock, one fsync)."""
        rows = list(rows)
        prepared = []
        for table, values in rows:
            if table not in TABLES:
                raise JournalError("unknown journal table %r" % table)
            unknown = set(values) - set(TABLES[table])
            if unknown:
                raise JournalError("table %s has no column(s) %s" % (table, ", ".join(sorted(unknown))))
            prepared.append((table, {col: _column_value(col, values.get(col)) for col in TABLES[table]}))
        seqs = []
        for attempt in range(5):
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as exc:  # busy beyond the timeout: wait and retry a few times
                if "locked" not in str(exc) or attempt == 4:
                    raise JournalError("journal %s is locked: %s" % (self.path, exc))
                time.sleep(0.5 * (attempt + 1))
        try:
            head = self.conn.execute("SELECT seq, hash FROM chain_head WHERE id = 1").fetchone()
            seq, prev = head["seq"], head["hash"]
            for table, values in prepared:
                seq += 1
                ts = time.time()
                digest = record_hash(table, seq, ts, prev, values)
                cols = TABLES[table]
                self.conn.execute(
                    "INSERT INTO %s (seq, ts, %s, prev_hash, hash) VALUES (?, ?, %s, ?, ?)"
                    % (table, ", ".join(cols), ", ".join("?" * len(cols))),
                    [seq, ts] + [values[c] for c in cols] + [prev, digest])
                seqs.append(seq)
                prev = digest
            self.conn.execute("UPDATE chain_head SET seq = ?, hash = ? WHERE id = 1", (seq, prev))
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        return seqs

    def rows(self, table: str, where: str = "", params: Iterable[Any] = ()) -> List[Dict[str, Any]]:
        if table not in TABLES:
            raise JournalError("unknown journal table %r" % table)
        sql = "SELECT * FROM %s %s ORDER BY seq" % (table, ("WHERE " + where) if where else "")
        return [_decode(dict(r)) for r in self.conn.execute(sql, list(params))]

    def head(self) -> Dict[str, Any]:
        """The last seq and hash: keep a copy elsewhere to anchor the chain against a full rewrite."""
        row = self.conn.execute("SELECT seq, hash FROM chain_head WHERE id = 1").fetchone()
        return {"seq": row["seq"], "hash": row["hash"]} if row else {"seq": None, "hash": None}

    def verify(self) -> Dict[str, Any]:
        """Recompute the chain. Returns ``{ok, records, problems: [{seq, table, problem}]}``; the first
        problem names the first edited or removed record."""
        records = []
        for table in TABLES:
            for row in self.conn.execute("SELECT * FROM %s" % table):
                records.append((table, dict(row)))
        records.sort(key=lambda item: item[1]["seq"])
        problems: List[Dict[str, Any]] = []
        expected_seq, prev = 1, GENESIS
        for table, row in records:
            seq = row["seq"]
            if seq != expected_seq:
                problems.append({"seq": expected_seq, "table": None,
                                 "problem": "record(s) %d..%d removed (next present is %s #%d)" % (expected_seq, seq - 1, table, seq)})
                prev = row["prev_hash"]  # resynchronise so one gap is reported once
            if row["prev_hash"] != prev:
                problems.append({"seq": seq, "table": table, "problem": "previous-hash link broken (record before it edited or removed)"})
            values = {c: row[c] for c in TABLES[table]}
            if record_hash(table, seq, row["ts"], row["prev_hash"], values) != row["hash"]:
                problems.append({"seq": seq, "table": table, "problem": "content edited (hash mismatch)"})
            prev, expected_seq = row["hash"], seq + 1
        head = self.conn.execute("SELECT seq, hash FROM chain_head WHERE id = 1").fetchone()
        last = records[-1][1]["seq"] if records else 0
        if head is None or head["seq"] != last or head["hash"] != prev:
            head_seq = head["seq"] if head else "?"
            problems.append({"seq": last + 1 if head is None or head["seq"] > last else head_seq, "table": None,
                             "problem": "chain head says last record is #%s but the last present is #%d%s"
                             % (head_seq, last, " (newest record(s) removed)" if head is not None and head["seq"] > last else "")})
        return {"ok": not problems, "records": len(records), "problems": problems}


def _column_value(col: str, value: Any) -> Any:
    if col.endswith("_json"):
        return json.dumps(value, sort_keys=True, default=str) if value is not None else None
    if value is None or isinstance(value, (int, float, str)) and not isinstance(value, bool):
        return value
    return str(value)


def _decode(row: Dict[str, Any]) -> Dict[str, Any]:
    for col in list(row):
        if col.endswith("_json"):
            text = row.pop(col)
            row[col[:-5]] = json.loads(text) if text else None
    if "grp" in row:
        row["group"] = row.pop("grp")
    return row


def open_store(path: Optional[str] = None) -> JournalStore:
    return JournalStore(path or default_path())


def default_path() -> str:
    home = os.environ.get("INDIGO_HOME") or os.path.expanduser("~/.indigo")
    return os.path.join(home, "journal.sqlite")
