#!/usr/bin/env python3
"""Compares two exports of the same world (lorebase export / GET .../export): equal
except for ids and `exported_at` (also those in summaries' `[[id]]` mentions). Ids differ
after an import, and so does the order of
elements of the same depth (they are ordered by id), so each element is compared by its
content together with its ancestors' content, and each relation by its content with its
ends'. Exits 1 naming the first difference."""
import json
import re
import sys


def load(path):
    header, kinds, elements, relations = None, [], {}, []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = json.loads(line)
            if number == 1:
                line.pop("exported_at", None)
                header = line
            elif "kind" in line:
                kinds.append(line["kind"])
            elif "element" in line:
                elements[line["element"]["id"]] = line["element"]
            elif "relation" in line:
                relations.append(line["relation"])
            else:
                sys.exit(f"{path}:{number}: unknown line {line}")
    return header, kinds, elements, relations


MENTION = re.compile(r"\[\[([0-9a-fA-F-]{36})(?=\]\]|\|)")


def canonical(path):
    header, kinds, elements, relations = load(path)
    keys = {}

    # A mention names an element by id, which an import maps: compare what it names (the
    # element's own fields but its summary), or `?` for an id that is no element of the file.
    def named(match):
        element = elements.get(match.group(1))
        if element is None:
            return "[[?"
        own = {k: v for k, v in element.items() if k not in ("id", "parent_id", "summary")}
        return "[[" + json.dumps(own, sort_keys=True)

    for element in elements.values():
        if element.get("summary"):
            element["summary"] = MENTION.sub(named, element["summary"])

    def key(element_id):
        if element_id is None:
            return ""
        if element_id not in keys:
            element = elements[element_id]
            content = {k: v for k, v in element.items() if k not in ("id", "parent_id")}
            keys[element_id] = json.dumps(content, sort_keys=True) + " < " + key(element["parent_id"])
        return keys[element_id]

    element_keys = sorted(key(i) for i in elements)
    relation_keys = sorted(
        json.dumps({k: v for k, v in r.items() if k not in ("id", "source_id", "target_id")}, sort_keys=True)
        + " : " + key(r["source_id"]) + " -> " + key(r["target_id"])
        for r in relations
    )
    return header, kinds, element_keys, relation_keys


def main():
    first, second = sys.argv[1], sys.argv[2]
    a, b = canonical(first), canonical(second)
    for name, x, y in zip(("header", "kinds", "elements", "relations"), a, b):
        if x != y:
            if isinstance(x, list) and len(x) == len(y):
                diff = next(i for i, (p, q) in enumerate(zip(x, y)) if p != q)
                sys.exit(f"{name} differ at {diff}:\n  {x[diff][:300]}\n  {y[diff][:300]}")
            sys.exit(f"{name} differ: {len(x) if isinstance(x, list) else x} vs {len(y) if isinstance(y, list) else y}")
    print(f"equal but for ids and exported_at: {len(a[2])} elements, {len(a[3])} relations, {len(a[1])} kinds")


if __name__ == "__main__":
    main()
