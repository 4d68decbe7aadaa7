"""Inserting many rows at once (a matching run stores tens of thousands of matches and digests;
the generator loads millions of rows into a bench database)."""
from __future__ import annotations

import json
from itertools import islice
from typing import Iterable, Iterator, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import class_mapper, make_transient_to_detached

from ..extensions import db

M = TypeVar("M")
T = TypeVar("T")


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """`items` in lists of `size` (the last one shorter): rows written a batch at a time, or ids
    asked a slice per IN (...) query, below every database's limit on parameters."""
    items = iter(items)
    while chunk := list(islice(items, size)):
        yield chunk


def insert_rows(model: type[M], rows: list[dict], encoded: dict[str, list[str]] | None = None,
                objects: bool = True) -> list[M] | list[int]:
    """Insert `rows` (column values by attribute name) in the session's transaction and return them
    as persistent objects, in the order given (with `objects` False, only their ids: a run's digests
    are counted, not read back, and making and merging their objects was an eighth of queuing them).
    `encoded`: JSON columns the caller has encoded already (attribute name -> the text of each
    row's value), written as they are by COPY.

    PostgreSQL: COPY, with ids drawn from the table's sequence. Elsewhere: multi-row INSERTs that
    return only the ids. Reading every inserted column back (a JSON column parsed again) cost more
    than the insert itself. So every column is written explicitly: the given value, else the
    column's Python default, else NULL; the objects then hold exactly what the rows hold and
    reading them asks the database nothing."""
    if not rows:
        return []
    columns = [column for column in sa.inspect(model).columns if not column.primary_key]
    complete = []
    for row in rows:
        values = {}
        for column in columns:
            if column.key in row:
                values[column.key] = row[column.key]
            elif column.default is not None and column.default.is_scalar:
                values[column.key] = column.default.arg
            elif column.default is not None and column.default.is_callable:
                values[column.key] = column.default.arg(None)
            else:
                values[column.key] = None
        complete.append(values)
    table = model.__table__
    if _on_postgres():
        # COPY: the fastest way in, by far. The ids are taken from the table's sequence first.
        db.session.flush()
        ids = db.session.scalars(sa.text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) "
                                         "FROM generate_series(1, :count)"),
                                 {"table": table.name, "count": len(complete)}).all()
        names = {column.key: column.name for column in columns}
        copy_rows(table, [{"id": object_id, **{names[key]: value for key, value in values.items()}}
                          for object_id, values in zip(ids, complete)],
                  encoded={names[key]: texts for key, texts in (encoded or {}).items()})
    else:
        # render_nulls: NULLs as values, so that every row has the same columns and one statement
        # serves them all (rows with other columns left out go into batches of their own).
        ids = db.session.scalars(sa.insert(model).returning(model.id, sort_by_parameter_order=True), complete,
                                 execution_options={"render_nulls": True}).all()
    if not objects:
        return list(ids)
    manager = class_mapper(model).class_manager  # configures the mappers if nothing has yet
    return [_persistent(manager, object_id, values) for object_id, values in zip(ids, complete)]


def _persistent(manager, object_id: int, values: dict):
    """An object of the model `manager` instruments (its mapper's class_manager, looked up once per
    insert), as if loaded from its row (id and values): in the session, with nothing to flush and
    nothing to read. Its attributes are filled in directly, not through the
    constructor's attribute events, and it is added as it is unless the session still holds an
    object of that id (after a rollback, where SQLite hands out the id again): then merged. Each
    event and the merge's copy cost about as much as the COPY of the row (a national run stores
    918,000 matches)."""
    obj = manager.new_instance()
    obj.__dict__.update(values, id=object_id)
    make_transient_to_detached(obj)  # the values count as loaded: no INSERT when added, no query when read
    if sa.inspect(obj).key in db.session.identity_map:
        return db.session.merge(obj, load=False)
    db.session.add(obj)
    return obj


def copy_rows(table: sa.Table, rows: list[dict], encoded: dict[str, list[str]] | None = None) -> None:
    """`rows` (values by column name, the same columns in each) into `table` with COPY, in the
    session's transaction (PostgreSQL only). JSON columns are serialised here, unless `encoded`
    has their text already (column name -> one text per row)."""
    if not rows:
        return
    columns = list(rows[0])
    encoded = encoded or {}
    json_columns = {c.name for c in table.columns if isinstance(c.type, sa.JSON)} - set(encoded)
    cursor = db.session.connection().connection.cursor()
    with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for n, row in enumerate(rows):
            # (None in a JSON column is JSON null, as the ORM writes it.)
            copy.write_row([encoded[c][n] if c in encoded else json.dumps(row[c]) if c in json_columns else row[c]
                            for c in columns])


def _on_postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"
