#!/usr/bin/env python3
"""Rewrites the gateway's variables in .railway/template.json from `gateway variables --json`.

Usage: python3 scripts/sync-railway-template.py [gateway binary]   (default .build/debug/gateway)

Keeps each variable's value (references, generated secrets) and description; adds new
variables with the binary's summary; drops variables the binary no longer has; takes default,
required and auth mode from the binary. tests/python/test_deploy_files.py checks the result.
"""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
binary = sys.argv[1] if len(sys.argv) > 1 else str(REPO / ".build" / "debug" / "gateway")
variables = json.loads(subprocess.run([binary, "variables", "--json"], check=True, capture_output=True, text=True).stdout)
path = REPO / ".railway" / "template.json"
document = json.loads(path.read_text())
gateway = next(service for service in document["services"] if service["name"] == "gateway")
previous = gateway["variables"]
updated = {}
for variable in variables:
    name = variable["name"]
    old = previous.get(name, {})
    entry = {
        "value": old.get("value"),
        "description": old.get("description") or variable["description"],
        "required": variable["required"] == "serve",
        "generated": old.get("generated", False),
        "default": variable["default"],
    }
    if variable["auth_mode"]:
        entry["required_with_auth_mode"] = variable["auth_mode"]
    updated[name] = entry
gateway["variables"] = updated
path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
print(f"{path.relative_to(REPO)}: {len(updated)} variables")
