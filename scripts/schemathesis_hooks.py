"""Schemathesis hooks for scripts/schemathesis.sh (loaded through SCHEMATHESIS_HOOKS).

They keep the cases that schemathesis calls valid ("positive") within the document, so that
"valid data accepted" needs no 400 among its expected statuses:

- A list's `cursor` is opaque: only a `next_cursor` the server issued is valid, and which
  strings those are no schema can say (the document gives the alphabet). A generated cursor
  is 400 however well formed, so positive cases do not send one; negative cases keep
  theirs, and tests/api pages through real cursors.
- Schemathesis 4.32.5's coverage phase sends header values outside the header's declared
  `pattern` and `maxLength` when the pattern needs a character other than letters and
  digits (`Lorebase-Consistency` is `0/16B3740`: it sends `aaaaaaaaaaaaaaaaaa`) and still
  labels the case positive. Such a value is left out of a positive case, as the document
  says no client would send it.
"""

import re

import schemathesis


def _outside_schema(value, schema):
    if not isinstance(value, str) or not isinstance(schema, dict):
        return False
    pattern = schema.get("pattern")
    if isinstance(pattern, str) and re.search(pattern, value) is None:
        return True
    max_length = schema.get("maxLength")
    return isinstance(max_length, int) and len(value) > max_length


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return
    if case.query and "cursor" in case.query:
        del case.query["cursor"]
    if case.headers:
        for parameter in case.operation.headers:
            name = parameter.name
            if name in case.headers and _outside_schema(
                case.headers[name], parameter.definition.get("schema")
            ):
                del case.headers[name]
