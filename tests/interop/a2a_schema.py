"""JSON Schema of the A2A `AgentCard` message, derived from the protobuf descriptors of the
pinned a2a-sdk (requirements.txt): protobuf JSON field names, no unknown fields, fields with
`google.api.field_behavior = REQUIRED` required (non-empty strings and lists).

    python a2a_schema.py           print the schema
    python a2a_schema.py --check F exit 1 unless F holds exactly that schema
"""
import json
import sys
from importlib.metadata import version

from a2a.types import a2a_pb2
from google.api import field_behavior_pb2
from google.protobuf.descriptor import FieldDescriptor

A2A_SDK = version("a2a-sdk")

SCALARS = {
    FieldDescriptor.TYPE_STRING: {"type": "string"},
    FieldDescriptor.TYPE_BOOL: {"type": "boolean"},
    FieldDescriptor.TYPE_INT32: {"type": "integer"},
    FieldDescriptor.TYPE_UINT32: {"type": "integer"},
    FieldDescriptor.TYPE_DOUBLE: {"type": "number"},
    FieldDescriptor.TYPE_FLOAT: {"type": "number"},
    FieldDescriptor.TYPE_BYTES: {"type": "string"},
}
WELL_KNOWN = {"google.protobuf.Struct": {"type": "object"}}


def required(field):
    return field_behavior_pb2.REQUIRED in field.GetOptions().Extensions[field_behavior_pb2.field_behavior]


def value_schema(field, defs):
    if field.message_type is not None:
        name = field.message_type.full_name
        if name in WELL_KNOWN:
            return dict(WELL_KNOWN[name])
        message(field.message_type, defs)
        return {"$ref": f"#/$defs/{field.message_type.name}"}
    if field.enum_type is not None:
        return {"type": "string", "enum": [v.name for v in field.enum_type.values]}
    return dict(SCALARS.get(field.type, {"type": "string"}))


def field_schema(field, defs):
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        value = field.message_type.fields_by_name["value"]
        return {"type": "object", "additionalProperties": value_schema(value, defs)}
    item = value_schema(field, defs)
    if field.is_repeated:
        schema = {"type": "array", "items": item}
        if required(field):
            schema["minItems"] = 1
        return schema
    if required(field) and item.get("type") == "string":
        item["minLength"] = 1
    return item


def message(desc, defs):
    if desc.name in defs:
        return
    defs[desc.name] = {}
    props, req = {}, []
    for f in desc.fields:
        props[f.json_name] = field_schema(f, defs)
        if required(f):
            req.append(f.json_name)
    schema = {"type": "object", "properties": props, "additionalProperties": False}
    if req:
        schema["required"] = req
    defs[desc.name] = schema


def schema():
    defs = {}
    message(a2a_pb2.AgentCard.DESCRIPTOR, defs)
    root = defs.pop("AgentCard")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:agentidp:schema:a2a-agent-card:1.0",
        "title": f"A2A AgentCard v1.0 (lf.a2a.v1.AgentCard of a2a-sdk {A2A_SDK})",
        **root,
        "$defs": dict(sorted(defs.items())),
    }


if __name__ == "__main__":
    text = json.dumps(schema(), indent=2) + "\n"
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        with open(sys.argv[2]) as f:
            if f.read() != text:
                raise SystemExit(f"FAILED: {sys.argv[2]} differs from the schema of the pinned a2a-sdk; regenerate it with tests/interop/a2a_schema.py")
        print(f"ok: {sys.argv[2]} matches a2a-sdk {A2A_SDK}")
    else:
        sys.stdout.write(text)
