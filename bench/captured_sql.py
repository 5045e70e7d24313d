#!/usr/bin/env python3
"""Turns the statements the server ran (PostgreSQL's log with log_statement=all) into
pgbench scripts that run the same SQL with the same parameters as bind variables.

usage: captured_sql.py LOG FIRST_LINE OUT_DIR
Requests are separated by `SELECT 'bench-marker-NAME'` statements; the statements after
a marker become OUT_DIR/NAME.sql with OUT_DIR/NAME.defs (pgbench -D assignments).
"""
import re
import sys

log_path, first_line, out_dir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
lines = open(log_path, encoding="utf-8", errors="replace").read().splitlines()[first_line - 1:]
requests, current = {}, None
for i, line in enumerate(lines):
    marker = re.search(r"statement: SELECT 'bench-marker-([a-z_]+)'", line)
    if marker:
        current = requests.setdefault(marker.group(1), [])
        continue
    executed = re.search(r"LOG:  execute [^:]+: (.*)$", line)
    if executed and current is not None:
        sql = executed.group(1)
        detail = lines[i + 1] if i + 1 < len(lines) else ""
        params = re.findall(r"\$(\d+) = '((?:[^']|'')*)'", detail) if "DETAIL:  parameters:" in detail else []
        current.append((sql, [(n, v.replace("''", "'")) for n, v in params]))
for name, statements in requests.items():
    if not statements:
        sys.exit(f"no statements captured for {name}")
    script, defs = [], []
    for k, (sql, params) in enumerate(statements):
        script.append(re.sub(r"\$(\d+)", lambda m: f":s{k}p{m.group(1)}", sql) + ";")
        defs += [f"s{k}p{n}={v}" for n, v in params]
    with open(f"{out_dir}/{name}.sql", "w") as f:
        f.write("\n".join(script) + "\n")
    with open(f"{out_dir}/{name}.defs", "w") as f:
        f.write("\n".join(defs) + "\n")
    print(f"{name}: {len(statements)} statement(s)")
