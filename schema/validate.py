#!/usr/bin/env python3
"""Validate natscope --json documents against the published JSON Schemas (draft 2020-12).

Usage: validate.py DOCUMENT.json [...]   (each document names its schema in its "schema" key)
       validate.py --check-schemas       (every schema in this directory against the metaschema)

Needs Python's jsonschema (4.18 or later). Exit status 0 when every document is valid; 1 with
one line per error (document, JSON path, message) otherwise; 3 when jsonschema is missing.
"""
import json
import pathlib
import sys

try:
    import jsonschema
    from referencing import Registry, Resource
except ImportError:
    print("validate.py: Python's jsonschema (4.18 or later) is not installed", file=sys.stderr)
    sys.exit(3)

HERE = pathlib.Path(__file__).resolve().parent


def load_schemas():
    schemas = {}
    for path in sorted(HERE.glob("*.json")):
        with open(path, encoding="utf-8") as f:
            schema = json.load(f)
        schemas[schema["$id"]] = (path.name, schema)
    return schemas


def main(argv):
    schemas = load_schemas()
    registry = Registry().with_resources(
        (sid, Resource.from_contents(schema)) for sid, (_, schema) in schemas.items()
    )
    failures = 0
    if argv[:1] == ["--check-schemas"]:
        for sid, (name, schema) in schemas.items():
            try:
                jsonschema.Draft202012Validator.check_schema(schema)
            except jsonschema.SchemaError as e:
                print(f"{name}: not a valid draft 2020-12 schema: {e.message}")
                failures += 1
            if not name.startswith(sid.rsplit(":", 1)[-1]):
                print(f"{name}: $id {sid} does not match the file name")
                failures += 1
        return 1 if failures else 0
    for doc_path in argv:
        with open(doc_path, encoding="utf-8") as f:
            try:
                doc = json.load(f)
            except json.JSONDecodeError as e:
                print(f"{doc_path}: not JSON: {e}")
                failures += 1
                continue
        sid = doc.get("schema") if isinstance(doc, dict) else None
        if sid not in schemas:
            print(f"{doc_path}: names no known schema (schema key: {sid!r}; known: {sorted(schemas)})")
            failures += 1
            continue
        name, schema = schemas[sid]
        validator = jsonschema.Draft202012Validator(
            schema, registry=registry, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
        )
        for error in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
            print(f"{doc_path}: {name}: at {error.json_path}: {error.message}")
            failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
