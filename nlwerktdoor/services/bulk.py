"""Inserting many rows at once (a matching run stores tens of thousands of matches and digests)."""
from __future__ import annotations

from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import make_transient_to_detached

from ..extensions import db

M = TypeVar("M")


def insert_rows(model: type[M], rows: list[dict]) -> list[M]:
    """Insert `rows` (column values by attribute name) as batched multi-row INSERTs in the session's
    transaction and return them as persistent objects, in the order given.

    Only the ids come back from the database: reading every inserted column back (a JSON column
    parsed again) cost more than the insert itself. So every column is written explicitly: the
    given value, else the column's Python default, else NULL; the objects then hold exactly what
    the rows hold and reading them asks the database nothing."""
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
    # render_nulls: NULLs as values, so that every row has the same columns and one statement
    # serves them all (rows with other columns left out go into batches of their own).
    ids = db.session.scalars(sa.insert(model).returning(model.id, sort_by_parameter_order=True), complete,
                             execution_options={"render_nulls": True}).all()
    objects = []
    for object_id, values in zip(ids, complete):
        obj = model(id=object_id, **values)
        make_transient_to_detached(obj)  # as if loaded: no INSERT when added, no query when read
        # merge, not add: after a rollback the session may still hold an object of the same id.
        objects.append(db.session.merge(obj, load=False))
    return objects
