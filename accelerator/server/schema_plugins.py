"""How the OpenAPI document shows msgspec types: as strictly as the service decodes them.

Litestar's schema generation leaves out what the service enforces in three places; each plugin
here puts it back (``create_app`` passes them to Litestar, before its own):

- :class:`ClosedStructSchema`: a Struct that refuses unknown fields says so;
- :class:`MetaConstraintsSchema`: a ``msgspec.Meta`` inside a list or a union is documented;
- :class:`DecodedAsSchema`: a value the handler decodes itself is shown as its type.
"""

from __future__ import annotations

from typing import Any, cast

import msgspec

# Litestar's plugin for msgspec Structs, extended below; it has no public import path.
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.plugins import OpenAPISchemaPlugin
from litestar.typing import FieldDefinition

from schemas import DecodedAs


class ClosedStructSchema(StructSchemaPlugin):
    """A Struct that refuses unknown fields (``forbid_unknown_fields``: what clients send us)
    says so: ``additionalProperties: false``. Litestar's own plugin leaves it open, which tells
    clients (and schemathesis) that extra fields are accepted."""

    def is_plugin_supported_field(self, field_definition: FieldDefinition) -> bool:
        return super().is_plugin_supported_field(field_definition) and bool(
            field_definition.type_.__struct_config__.forbid_unknown_fields
        )

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: Any) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        schema.additional_properties = False
        return schema


class MetaConstraintsSchema(OpenAPISchemaPlugin):
    """Every ``msgspec.Meta`` constraint the service enforces is in the document, wherever the
    annotated type sits. Litestar documents a Struct field's own ``Meta`` but not one inside a
    list or a union (a list of ``CountryCode``s, an optional ``Annotated[float, Meta(gt=0)]``),
    and drops ``gt``/``lt`` on an optional field; so the document said more was accepted than is.
    """

    def is_plugin_supported_field(self, field_definition: FieldDefinition) -> bool:
        return any(isinstance(meta, msgspec.Meta) for meta in field_definition.metadata)

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: Any) -> Schema:
        metas = [m for m in field_definition.metadata if isinstance(m, msgspec.Meta)]
        bare = schema_creator.for_field_definition(
            FieldDefinition.from_annotation(field_definition.annotation)
        )
        # A Struct is a reference: its constraints live in its component; wrap it to describe it.
        schema = bare if isinstance(bare, Schema) else Schema(all_of=[bare])
        for meta in metas:
            _apply_meta(schema, meta)
        return schema


def _apply_meta(schema: Schema, meta: msgspec.Meta) -> None:
    kinds = schema.type if isinstance(schema.type, list) else [schema.type]
    if OpenAPIType.ARRAY in kinds:
        schema.min_items, schema.max_items = (
            _first(meta.min_length, schema.min_items),
            _first(meta.max_length, schema.max_items),
        )
    elif OpenAPIType.OBJECT in kinds:
        schema.min_properties = _first(meta.min_length, schema.min_properties)
        schema.max_properties = _first(meta.max_length, schema.max_properties)
    else:
        schema.min_length = _first(meta.min_length, schema.min_length)
        schema.max_length = _first(meta.max_length, schema.max_length)
    schema.pattern = _first(meta.pattern, schema.pattern)
    schema.minimum = _first(meta.ge, schema.minimum)
    schema.maximum = _first(meta.le, schema.maximum)
    schema.exclusive_minimum = _first(meta.gt, schema.exclusive_minimum)
    schema.exclusive_maximum = _first(meta.lt, schema.exclusive_maximum)
    schema.multiple_of = _first(meta.multiple_of, schema.multiple_of)
    # What Meta cannot state (the window of an instant, the form of a decimal string, the list
    # of currencies) travels as JSON Schema in extra_json_schema: its "pattern" and "enum".
    extra = meta.extra_json_schema or {}
    schema.pattern = extra.get("pattern", schema.pattern)
    schema.enum = extra.get("enum", schema.enum)
    schema.title = _first(meta.title, schema.title)
    schema.description = _first(meta.description, schema.description)
    if meta.examples:
        schema.examples = list(meta.examples)


def _first(value: Any, fallback: Any) -> Any:
    return fallback if value is None else value


class DecodedAsSchema(OpenAPISchemaPlugin):
    """Documents a value marked ``Annotated[..., DecodedAs(T)]`` as ``T`` (the batch's items,
    which the handler decodes one by one)."""

    def is_plugin_supported_field(self, field_definition: FieldDefinition) -> bool:
        return any(isinstance(meta, DecodedAs) for meta in field_definition.metadata)

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: Any) -> Schema:
        marker = next(m for m in field_definition.metadata if isinstance(m, DecodedAs))
        result = schema_creator.for_field_definition(FieldDefinition.from_annotation(marker.type))
        return cast("Schema", result)


__all__ = ["ClosedStructSchema", "DecodedAsSchema", "MetaConstraintsSchema"]
