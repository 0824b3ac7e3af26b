"""A value against an OpenAPI 3.0 schema (the subset /api/v1/openapi.json uses: $ref,
allOf, anyOf, type, nullable, enum, required, properties, additionalProperties, items), so that
the tests hold the server's answers to the document it publishes. Standard library only.

    problems(schema, value, document) -> ["$.steps.a.status: ...", ...]
"""

TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
}


def resolve(schema, document):
    while "$ref" in schema:
        node = document
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def problems(schema, value, document, at="$"):
    schema = resolve(schema, document)
    out = []
    for part in schema.get("allOf", []):
        out += problems(part, value, document, at)
    if "anyOf" in schema:
        found = [problems(part, value, document, at) for part in schema["anyOf"]]
        if all(found):
            out.append("%s: matches none of anyOf (%s)" % (
                at, "; ".join(", ".join(f) for f in found)))
    if value is None:
        if not schema.get("nullable") and ("type" in schema or "enum" in schema):
            out.append("%s: null, and the schema does not say nullable" % at)
        return out
    kind = schema.get("type")
    if kind and not TYPES[kind](value):
        return out + ["%s: %r is not of type %s" % (at, value, kind)]
    if "enum" in schema and value not in schema["enum"]:
        out.append("%s: %r is not one of %s" % (at, value, schema["enum"]))
    if isinstance(value, dict):
        for name in schema.get("required", []):
            if name not in value:
                out.append("%s: required '%s' is missing" % (at, name))
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for name, item in value.items():
            if name in props:
                out += problems(props[name], item, document, "%s.%s" % (at, name))
            elif isinstance(extra, dict):
                out += problems(extra, item, document, "%s.%s" % (at, name))
            elif extra is False:
                out.append("%s: '%s' is not allowed" % (at, name))
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            out += problems(schema["items"], item, document, "%s[%d]" % (at, i))
    return out


def answer_schema(document, path, method, status):
    """The schema the document gives an answer, or None when it gives none."""
    answer = document["paths"][path][method]["responses"].get(str(status))
    if answer is None:
        return None
    answer = resolve(answer, document)
    media = answer.get("content", {}).get("application/json")
    return media.get("schema") if media else None
