"""Schemathesis hooks for tests/api/run.py: one check of our own on top of schemathesis's.

`no_purge_when_refused`: a request refused with a problem (4xx or 5xx `application/problem+json`)
must not have reached any instance. Each instance's varnishstat counters of client connections
and requests are read before and after every call (schemathesis runs one worker, so nothing else
touches the instances meanwhile); a refused call that moved them fails the run. How many refused
calls were checked, and how many calls did reach the instances (proof that the counters
move when something is sent), is written to refused.json in the local CDN's state directory.
"""
import atexit
import json
import os
import subprocess
from pathlib import Path

import schemathesis

STATE = Path(os.environ["EDGEPURGE_API_STATE"])
INSTANCES = int(os.environ.get("EDGEPURGE_API_INSTANCES", "3"))
COUNTERS = ("MAIN.sess_conn", "MAIN.client_req")

_last = {"before": None, "after": None}
_stats = {"calls": 0, "refused_checked": 0, "reached_instances": 0, "by_status": {}}


# The app group's varnishd, and the Pipely-like ones of the plain and the misdeclared groups.
NAMES = [f"varnish-{i + 1}" for i in range(INSTANCES)] + ["plain-1", "plain-2", "legacy-1"]


def counters():
    """(sess_conn, client_req) of every instance, read from its varnishstat."""
    seen = []
    for name in NAMES:
        argv = ["varnishstat", "-n", str(STATE / name), "-1"]
        for counter in COUNTERS:
            argv += ["-f", counter]
        out = subprocess.run(argv, check=True, capture_output=True, text=True, timeout=30).stdout
        values = {line.split()[0]: int(line.split()[1]) for line in out.splitlines() if line.strip()}
        seen.append(tuple(values[counter] for counter in COUNTERS))
    return tuple(seen)


@schemathesis.hook
def before_call(context, case, kwargs):
    _last["before"] = counters()


@schemathesis.hook
def after_call(context, case, response):
    _last["after"] = counters()
    _stats["calls"] += 1
    if _last["after"] != _last["before"]:
        _stats["reached_instances"] += 1
    key = str(response.status_code)
    _stats["by_status"][key] = _stats["by_status"].get(key, 0) + 1


@schemathesis.check
def no_purge_when_refused(ctx, response, case):
    """A request refused with a problem sent nothing to any instance."""
    content_type = response.headers.get("content-type", [""])
    content_type = content_type[0] if isinstance(content_type, list) else content_type
    if not content_type.startswith("application/problem+json"):
        return None
    before, after = _last["before"], _last["after"]
    if before is None or after is None:
        raise AssertionError("the instance counters were not read around this call")
    _stats["refused_checked"] += 1
    if before != after:
        raise AssertionError(
            f"refused with {response.status_code}, yet the instances saw traffic: "
            f"(connections, requests) per instance went from {before} to {after}"
        )
    return None


@atexit.register
def _write_stats():
    (STATE / "refused.json").write_text(json.dumps(_stats, sort_keys=True))
