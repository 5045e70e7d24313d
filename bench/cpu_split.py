#!/usr/bin/env python3
"""CPU ticks used so far by the parts of the loopback cluster (scripts/cluster.sh), and by
the whole machine, as one JSON line: `cpu_split.py CLUSTER_DIR`. bench/cluster.sh takes
two and divides the differences by the wall time: cores each part kept busy."""
import glob
import json
import os
import sys

directory = sys.argv[1]


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.readline().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def stats():
    """pid -> (ppid, ticks) of every process."""
    out = {}
    for path in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(path) as f:
                text = f.read()
        except OSError:
            continue
        # The command (field 2) may hold spaces: split after its closing parenthesis.
        fields = text[text.rindex(")") + 2 :].split()
        out[int(path.split("/")[2])] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    return out


processes = stats()


def with_children(roots):
    pids = {p for p in roots if p in processes}
    for pid, (ppid, _) in processes.items():
        if ppid in pids:
            pids.add(pid)
    return sum(processes[p][1] for p in pids)


groups = {
    "lorebase": with_children([read_pid(p) for p in glob.glob(f"{directory}/server-*.pid")]),
    "nginx": with_children([read_pid(f"{directory}/nginx/nginx.pid")]),
    "postgres": with_children(
        [read_pid(p) for p in glob.glob(f"{directory}/pg/*/postmaster.pid")]
    ),
    "pgbouncer": with_children([read_pid(f"{directory}/pgbouncer.pid")]),
}
with open("/proc/stat") as f:
    cpu = [int(v) for v in f.readline().split()[1:]]
# user, nice, system, irq, softirq; not idle, iowait, or steal (time the hypervisor gave
# to other guests, which no process here used).
groups["machine_busy"] = sum(cpu[0:3]) + cpu[5] + cpu[6]
groups["machine_steal"] = cpu[7]
groups["hz"] = os.sysconf("SC_CLK_TCK")
print(json.dumps(groups))
