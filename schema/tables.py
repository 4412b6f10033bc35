#!/usr/bin/env python3
"""Print the README's Markdown key table for a schema: its top-level keys (and, with
--depth 2, their object keys), each with its type and description.

Usage: tables.py probe-1.json [--depth 2]
"""
import json
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent


def type_words(node, root):
    node = resolve(node, root)
    if "type" in node:
        t = node["type"]
        return t if isinstance(t, list) else [t]
    words = []
    for key in ("anyOf", "oneOf"):
        for branch in node.get(key, []):
            words += [w for w in type_words(branch, root) if w not in words]
    return words


def resolve(node, root):
    ref = node.get("$ref")
    if not ref:
        return node
    doc, _, pointer = ref.partition("#")
    target = root
    if doc:
        for path in HERE.glob("*.json"):
            other = json.loads(path.read_text(encoding="utf-8"))
            if other.get("$id") == doc:
                target = other
    for part in [p for p in pointer.split("/") if p]:
        target = target[part]
    return target


def rows(node, root, prefix, depth):
    node = resolve(node, root)
    for key, sub in node.get("properties", {}).items():
        words = type_words(sub, root)
        text = sub.get("description") or resolve(sub, root).get("description", "")
        yield f"| `{prefix}{key}` | {' or '.join(words)} | {text} |"
        if depth > 1 and "object" in words and "$ref" not in sub:
            yield from rows(sub, root, f"{prefix}{key}.", depth - 1)


def main(argv):
    name = argv[0]
    depth = int(argv[argv.index("--depth") + 1]) if "--depth" in argv else 1
    schema = json.loads((HERE / name).read_text(encoding="utf-8"))
    print("| key | type | value |")
    print("|---|---|---|")
    for row in rows(schema, schema, "", depth):
        print(row)


if __name__ == "__main__":
    main(sys.argv[1:])
