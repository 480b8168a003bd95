#!/usr/bin/env python3
"""Airbyte's source-twilio (PyPI `airbyte-source-twilio`), unchanged but for its base URL,
reading the `calls` stream of one account from the simulator; prints the Airbyte messages
(RECORD lines) on stdout and one `REQUEST <url>` line per HTTP request on stderr.

The connector's manifest hardcodes `https://api.twilio.com`; this script loads the packaged
manifest, replaces that prefix with --api-base, and runs the connector's own `read` through
the Airbyte CDK, as `source-twilio read` would (incremental, no state, from --from).

Usage (in a virtualenv with airbyte-source-twilio installed):
  airbyte_twilio.py --api-base URL --account AC... --from YYYY-MM-DD --to YYYY-MM-DD
The Auth Token comes from TWILIO_AUTH_TOKEN. --to is informational: the connector reads
through today (UTC), as it always does.
"""

import argparse
import json
import logging
import os
import pkgutil
import sys
import tempfile

import requests
from airbyte_cdk.entrypoint import launch
from airbyte_cdk.models import ConfiguredAirbyteCatalogSerializer
from airbyte_cdk.models.airbyte_protocol_serializers import AirbyteStreamSerializer
from airbyte_cdk.sources.declarative.yaml_declarative_source import YamlDeclarativeSource

_send = requests.Session.send


def counted_send(self, request, **kwargs):
    print(f"REQUEST {request.url}", file=sys.stderr, flush=True)
    return _send(self, request, **kwargs)


requests.Session.send = counted_send


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--api-base", required=True)
    p.add_argument("--account", required=True)
    p.add_argument("--from", dest="first", required=True)
    p.add_argument("--to", dest="last")
    args = p.parse_args()
    work = tempfile.mkdtemp()
    manifest = pkgutil.get_data("source_twilio", "manifest.yaml").decode()
    manifest_path = os.path.join(work, "manifest.yaml")
    with open(manifest_path, "w") as f:
        f.write(manifest.replace("https://api.twilio.com", args.api_base.rstrip("/")))
    config = {
        "account_sid": args.account,
        "auth_token": os.environ["TWILIO_AUTH_TOKEN"],
        "start_date": f"{args.first}T00:00:00Z",
    }
    config_path = os.path.join(work, "config.json")
    with open(config_path, "w") as f:
        json.dump(config, f)
    discovered = YamlDeclarativeSource(path_to_yaml=manifest_path, config=config).discover(
        logging.getLogger("airbyte"), config
    )
    calls = next(s for s in discovered.streams if s.name == "calls")
    catalog = {
        "streams": [
            {
                "stream": AirbyteStreamSerializer.dump(calls),
                "sync_mode": "incremental",
                "destination_sync_mode": "append",
                "cursor_field": calls.default_cursor_field or [],
            }
        ]
    }
    catalog_path = os.path.join(work, "catalog.json")
    with open(catalog_path, "w") as f:
        json.dump(catalog, f)
    configured = ConfiguredAirbyteCatalogSerializer.load(catalog)
    source = YamlDeclarativeSource(path_to_yaml=manifest_path, catalog=configured, config=config, state=[])
    launch(source, ["read", "--config", config_path, "--catalog", catalog_path])


if __name__ == "__main__":
    main()
