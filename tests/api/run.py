#!/usr/bin/env python3
"""Schemathesis against the live local CDN: the OpenAPI document (`docs/openapi.json`, served at
/api/openapi.json) drives generated requests to every operation, valid and invalid, with the demo
token. The run fails on any 5xx, any reply that breaks the document (status, media type, headers,
schema), an operation that ignores its authentication or a missing `Allow` on 405, and, through
tests/api/hooks.py, on any refused request that reached an instance.

It runs its own local CDN on its own ports (it creates, changes and removes people and tokens, so
it must not share a CDN with other tests). `EDGEPURGE_API_EXAMPLES` (default 25) is the number of
generated cases per operation and phase; `EDGEPURGE_API_SEED` fixes the random seed (by default a
fixed one, so a failure reproduces; set another to explore).
"""
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "cdn"))
from localcdn import API_PORTS, INSTANCE_IPS, ROOT, LocalCDN  # noqa: E402


def main():
    schemathesis = ROOT / ".venv" / "bin" / "schemathesis"
    if not schemathesis.exists():
        print(f"{schemathesis} is missing: run scripts/setup", file=sys.stderr)
        return 2
    state = ROOT / ".state" / "api"
    examples = os.environ.get("EDGEPURGE_API_EXAMPLES", "25")
    seed = os.environ.get("EDGEPURGE_API_SEED", "20261130")
    # High limits: the run is about the contract, not about being throttled into 429s (the
    # limits themselves have their own e2e tests).
    limits = {name: "1000000" for name in ("RATE_LIMIT_PER_MINUTE", "READ_RATE_LIMIT_PER_MINUTE",
                                           "SIGN_IN_RATE_LIMIT_PER_MINUTE", "REFUSAL_BUDGET_PER_MINUTE")}
    cdn = LocalCDN(ports=API_PORTS, state=state, extra_vars=limits)
    with cdn:
        config = state / "schemathesis.toml"
        # The token reaches schemathesis through the environment, never a file or argv.
        config.write_text(
            "[auth.openapi.bearerToken]\n"
            'bearer = "${EDGEPURGE_API_TOKEN}"\n'
            "[auth.openapi.fastlyKey]\n"
            'api_key = "${EDGEPURGE_API_TOKEN}"\n'
        )
        env = {
            **os.environ,
            "EDGEPURGE_API_TOKEN": cdn.api_token,
            "EDGEPURGE_API_STATE": str(state),
            "EDGEPURGE_API_INSTANCES": str(len(INSTANCE_IPS)),
            "SCHEMATHESIS_HOOKS": "hooks",
            "PYTHONPATH": str(HERE),
        }
        argv = [
            str(schemathesis), "--config-file", str(config), "--no-color", "run", f"{cdn.api}/api/openapi.json",
            "--checks", "all", "--exclude-checks", "positive_data_acceptance",
            "--workers", "1", "--max-examples", examples, "--seed", seed,
            "--request-retries", "2", "--request-timeout", "30",
            "--generation-database", "none",
            "--report", "junit", "--report-junit-path", str(state / "schemathesis.xml"),
        ]
        code = subprocess.run(argv, env=env, cwd=state).returncode
        stats_file = state / "refused.json"
        stats = json.loads(stats_file.read_text()) if stats_file.exists() else {}
        print(f"\nschemathesis: {stats.get('calls', 0)} calls; {stats.get('refused_checked', 0)} refused ones "
              f"checked on the instances (no connection, no request); {stats.get('reached_instances', 0)} accepted "
              f"ones reached them; by status {stats.get('by_status', {})}")
    if code == 0 and not stats.get("reached_instances"):
        # The check is only worth something if the counters visibly move when a purge is sent.
        print("no call reached an instance: the refused-request check proved nothing", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
