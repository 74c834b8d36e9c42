"""The hot paths' plain statements: written once, compiled once per database, bound by name.

A few paths run on nearly every request, or many times a request, and skip SQLAlchemy's
execution layer (docs/architecture.md, "Storage"): their statements run on the driver's own
connections (``infra.lookups``, ``infra.driver_writes``). Their SQL is still SQLAlchemy's:

- a :class:`Statement` is built from Core over the models' columns and compiled at import for
  asyncpg (``$n``) and aiosqlite (``?``), so a column renamed in a model is renamed here;
- its parameters are passed **by name**, and each database gets them in the order its own SQL
  numbers them, so no two databases can disagree on which value goes where;
- only what Core cannot express (PostgreSQL's data-modifying CTEs over ``unnest``) is written
  as text, with named parameters (``:name``; casts as ``CAST(:name AS type)``, since text()
  reads ``:name::type`` as no parameter at all), and compiled the same way.

Every statement is registered in :data:`REGISTERED`; ``tests/infra/test_statements.py``
prepares each one on both migrated databases, so a statement the schema no longer fits fails CI.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from sqlalchemy import TextClause, text
from sqlalchemy.dialects.postgresql import asyncpg as postgresql_asyncpg
from sqlalchemy.dialects.sqlite import aiosqlite as sqlite_aiosqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

DialectName = Literal["postgresql", "sqlite"]
DIALECTS: Final[Mapping[DialectName, Dialect]] = {
    "postgresql": postgresql_asyncpg.dialect(),  # type: ignore[no-untyped-call]
    "sqlite": sqlite_aiosqlite.dialect(),
}

#: A statement's Core construct, the same for both databases or built for each.
Build = ClauseElement | Callable[[DialectName], ClauseElement]


@dataclass(frozen=True, slots=True)
class Compiled:
    """One statement in one database's SQL, and the parameter bound at each position."""

    sql: str
    names: tuple[str, ...]
    # Values Core bound itself (a literal in a WHERE clause, a constant in VALUES).
    fixed: Mapping[str, Any]
    # How many distinct parameters the caller gives.
    given: int

    def args(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        """The positional arguments for ``params``: exactly the statement's own parameters."""
        if len(params) != self.given:
            raise TypeError(f"statement takes {self.given} parameters, given {sorted(params)}")
        try:
            return tuple(
                self.fixed[name] if name in self.fixed else params[name] for name in self.names
            )
        except KeyError as missing:
            raise TypeError(f"statement parameter {missing} not given") from None


class Statement:
    """One plain statement, compiled for PostgreSQL and SQLite; registered for the drift test."""

    __slots__ = ("_compiled", "name")

    def __init__(
        self,
        name: str,
        build: Build,
        *,
        dialects: Sequence[DialectName] = tuple(DIALECTS),
        register: bool = True,
    ) -> None:
        self.name = name
        self._compiled = {
            dialect: _compile(build(dialect) if callable(build) else build, DIALECTS[dialect])
            for dialect in dialects
        }
        if register:  # only tests build statements over tables of their own
            REGISTERED.append(self)

    @classmethod
    def text(
        cls,
        name: str,
        *,
        postgresql: str | None = None,
        sqlite: str | None = None,
        register: bool = True,
    ) -> Statement:
        """A statement Core cannot express, in each given database's SQL, with ``:name``
        parameters; only those databases can run it."""
        sql: dict[DialectName, str] = {}
        if postgresql is not None:
            sql["postgresql"] = postgresql
        if sqlite is not None:
            sql["sqlite"] = sqlite
        return cls(name, lambda dialect: text(sql[dialect]), dialects=tuple(sql), register=register)

    @property
    def dialects(self) -> tuple[DialectName, ...]:
        return tuple(self._compiled)

    def compiled(self, dialect: DialectName) -> Compiled:
        return self._compiled[dialect]

    def parameters(self, dialect: DialectName) -> frozenset[str]:
        """The names a caller must give (those Core did not bind itself)."""
        compiled = self._compiled[dialect]
        return frozenset(compiled.names) - frozenset(compiled.fixed)

    def __repr__(self) -> str:
        return f"Statement({self.name!r})"


def _compile(construct: ClauseElement, dialect: Dialect) -> Compiled:
    compiled = construct.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    if compiled.post_compile_params or compiled.literal_execute_params:
        # An expanding IN is compiled again for each list length: pass a list as one array
        # (PostgreSQL) or JSON text (SQLite, json_each) instead, as sellers_with_events does.
        raise ValueError("a plain statement cannot take an expanding IN (…) parameter")
    names = tuple(compiled.positiontup or ())
    fixed: dict[str, Any] = {}
    for name in names:
        bind = compiled.binds[name]
        # A parameter without a value is the caller's; one with a value (a literal Core bound
        # itself) keeps it. Text statements' parameters are always the caller's.
        if not isinstance(construct, TextClause) and not bind.required and bind.value is not None:
            fixed[name] = bind.value
    return Compiled(compiled.string, names, fixed, len(set(names) - set(fixed)))


@dataclass(frozen=True)
class Part:
    """One kind of row a :class:`BatchWrite` writes: ``columns`` is the layout of its rows, and
    the SQLite statement (run once per row) names its parameters after them."""

    name: str
    columns: tuple[str, ...]
    sqlite: Statement


class BatchWrite:
    """Rows of several kinds written in one transaction.

    On SQLite, one transaction in which each part's statement runs for each of its rows; on
    PostgreSQL a single statement (data-modifying CTEs) that takes each part's column ``c`` as
    the array parameter ``<part>_<c>``: atomic by itself and one round trip, where BEGIN, each
    statement and COMMIT were one round trip each. Both are checked at import against the
    parts' columns, so a column added to one database's statement and not the other's fails at
    once rather than binding a value to the wrong column.
    """

    def __init__(
        self, name: str, parts: Sequence[Part], *, postgresql: str, register: bool = True
    ) -> None:
        self.name = name
        self.parts = tuple(parts)
        self.postgresql = Statement.text(name, postgresql=postgresql, register=register)
        arrays = {f"{part.name}_{column}" for part in self.parts for column in part.columns}
        if self.postgresql.parameters("postgresql") != arrays:
            raise ValueError(f"{name}: the PostgreSQL statement must take exactly {sorted(arrays)}")
        self.sqlite_positions: tuple[tuple[int, ...], ...] = tuple(
            _positions(part) for part in self.parts
        )

    def postgresql_arrays(self, rows: Sequence[Sequence[tuple[Any, ...]]]) -> dict[str, list[Any]]:
        """Each part's rows as column arrays, by parameter name."""
        arrays: dict[str, list[Any]] = {}
        for part, part_rows in zip(self.parts, rows, strict=True):
            columns = zip(*part_rows, strict=True) if part_rows else ([] for _ in part.columns)
            for column, values in zip(part.columns, columns, strict=True):
                arrays[f"{part.name}_{column}"] = list(values)
        return arrays


def _positions(part: Part) -> tuple[int, ...]:
    """Where each of the SQLite statement's parameters is in a row of ``part``."""
    compiled = part.sqlite.compiled("sqlite")
    if part.sqlite.parameters("sqlite") != frozenset(part.columns):
        raise ValueError(f"{part.sqlite.name}: parameters must be exactly {part.columns}")
    if compiled.fixed:
        raise ValueError(f"{part.sqlite.name}: a batch part binds only its columns")
    return tuple(part.columns.index(name) for name in compiled.names)


#: Every statement built so far (importing the domains' repositories builds theirs).
REGISTERED: list[Statement] = []
