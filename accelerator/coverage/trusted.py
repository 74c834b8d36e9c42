"""Reading rows the service wrote itself without checking the contract's constraints again.

Every policy's terms went through :class:`~schemas.PolicyTerms`' constraints (patterns, lengths,
ranges) on their way into the registry, and the coverage check decodes the terms of every policy
of every seller it names: decoding them into ``PolicyTerms`` checked each pattern again, three
quarters of the decoding's cost (docs/performance.md, "Batch decisions' CPU"). A
:class:`TrustedReader` decodes into a twin of the type derived from it at import (the same
fields, defaults and types, without the ``Meta`` constraints and without ``__post_init__``) and
then builds the real type from the twin's values. The fields are declared once, on the
contract's type; a test holds the two decodings to the same values.

Only for rows the service wrote and validated itself: what a client or an insurer sends is
decoded with the contract's own types. Build the real values inside ``schemas.reading_stored()``,
as every read of stored rows does, so that ``__post_init__``'s bounds are skipped there too.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from typing import Any, Generic, TypeVar, Union

import msgspec

S = TypeVar("S", bound=msgspec.Struct)


def _plain(annotation: Any, twins: dict[type[msgspec.Struct], TrustedReader[Any]]) -> Any:
    """``annotation`` without ``Meta`` constraints, its structs replaced by their twins."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _plain(typing.get_args(annotation)[0], twins)
    if origin in (Union, types.UnionType):
        members = tuple(_plain(arg, twins) for arg in typing.get_args(annotation))
        return Union[members]  # noqa: UP007 - built from a tuple of members
    if origin in (list, tuple, dict, frozenset, set):
        args = typing.get_args(annotation)
        if any(isinstance(arg, type) and issubclass(arg, msgspec.Struct) for arg in args):
            # Rebuilding the structs inside a container is not written (no stored type needs it).
            raise TypeError(f"structs inside {annotation!r} are not supported")
        return origin[tuple(_plain(arg, twins) for arg in args)]
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        twin = twins.get(annotation)
        if twin is None:
            twin = twins[annotation] = TrustedReader(annotation)
        return twin.twin
    return annotation  # plain types, literals and enums: nothing to strip


class TrustedReader(Generic[S]):
    """Decodes JSON the service stored into ``struct`` without checking its constraints again."""

    def __init__(self, struct: type[S]) -> None:
        self.struct = struct
        twins: dict[type[msgspec.Struct], TrustedReader[Any]] = {}
        hints = typing.get_type_hints(struct, include_extras=True)
        fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
        for info in msgspec.structs.fields(struct):
            plain = _plain(hints[info.name], twins)
            if info.default is not msgspec.NODEFAULT:
                fields.append((info.name, plain, info.default))
            elif info.default_factory is not msgspec.NODEFAULT:
                fields.append(
                    (info.name, plain, msgspec.field(default_factory=info.default_factory))
                )
            else:
                fields.append((info.name, plain))
        config = struct.__struct_config__
        if config.tag is not None:
            raise TypeError(f"tagged structs are not supported: {struct.__name__}")
        renamed = dict(zip(struct.__struct_fields__, struct.__struct_encode_fields__, strict=True))
        self.twin: type[msgspec.Struct] = msgspec.defstruct(
            f"Stored{struct.__name__}",
            fields,
            kw_only=True,
            frozen=True,
            # Untracked by the cycle collector: a twin holds what JSON decodes to, a tree that
            # cannot lead back to it, and a batch check decodes thousands at once.
            gc=False,
            forbid_unknown_fields=config.forbid_unknown_fields,
            rename=renamed if any(k != v for k, v in renamed.items()) else None,
        )
        # The fields holding a struct: their twins are rebuilt as the real struct too.
        self._nested = tuple(
            (name, twin)
            for name in struct.__struct_fields__
            for twin in [_twin_of(hints[name], twins)]
            if twin is not None
        )
        self._decoder = msgspec.json.Decoder(self.twin)
        self._build = _builder(struct, self._nested)

    def decode(self, text: str | bytes) -> S:
        """The stored JSON as ``struct``, its constraints not checked."""
        return self.rebuild(self._decoder.decode(text))

    def decode_twin(self, text: str | bytes) -> Any:
        """The stored JSON as the twin: for a reader that needs only some of its fields as the
        real types (:meth:`field_reader` rebuilds those)."""
        return self._decoder.decode(text)

    def field_reader(self, name: str) -> TrustedReader[Any]:
        """The reader that rebuilds the struct field ``name`` holds."""
        return dict(self._nested)[name]

    def rebuild(self, value: Any) -> S:
        """``struct`` with the values of its twin ``value``. Its ``__post_init__`` runs, and
        checks nothing inside ``schemas.reading_stored()``."""
        built: S = self._build(value)
        return built


def _builder(
    struct: type[msgspec.Struct], nested: tuple[tuple[str, TrustedReader[Any]], ...]
) -> Callable[[Any], Any]:
    """A function building ``struct`` from its twin, each field passed by name as
    ``struct(a=twin.a, b=build_b(twin.b), ...)``, written out for this struct when it is read
    (as dataclasses write their ``__init__``): about half the CPU of collecting the twin's
    fields into a dict and passing that (0.9-1.2 against 1.8-2.3 µs for ``PolicyTerms``;
    two a policy a coverage check reads)."""
    readers = dict(nested)
    namespace: dict[str, Any] = {"struct": struct}
    arguments: list[str] = []
    for name in struct.__struct_fields__:  # field names are identifiers: safe to write out
        reader = readers.get(name)
        if reader is None:
            arguments.append(f"{name}=twin.{name}")
        else:
            namespace[f"build_{name}"] = reader._build  # its function: no method call between
            arguments.append(f"{name}=None if twin.{name} is None else build_{name}(twin.{name})")
    source = f"def build(twin):\n    return struct({', '.join(arguments)})\n"
    exec(source, namespace)  # noqa: S102 - the source is built above from field names only
    build: Callable[[Any], Any] = namespace["build"]
    return build


def _twin_of(
    annotation: Any, twins: dict[type[msgspec.Struct], TrustedReader[Any]]
) -> TrustedReader[Any] | None:
    """The reader of the struct a field holds (alone or or-None), if it holds one."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _twin_of(typing.get_args(annotation)[0], twins)
    if origin in (Union, types.UnionType):
        structs = [_twin_of(arg, twins) for arg in typing.get_args(annotation)]
        found = [twin for twin in structs if twin is not None]
        if len(found) > 1:
            raise TypeError(f"a union of several structs is not supported: {annotation!r}")
        return found[0] if found else None
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        return twins[annotation]
    return None
