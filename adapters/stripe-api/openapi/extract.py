#!/usr/bin/env python3
"""Re-extracts the parts of Stripe's published OpenAPI document that this project uses.

Stripe publishes its API as an OpenAPI document in github.com/stripe/openapi (openapi/spec3.json,
or spec3.yaml, and example objects in openapi/fixtures3.json). The whole document is megabytes;
this script keeps only:

- the operations in OPERATIONS: every call the `stripe-api` crate makes, plus the Connect calls
  that the local stack's localstripe launcher serves (tools/local-stack/localstripe_launcher.py),
  which validates its requests against this file;
- the component schemas in SCHEMAS: the objects the crate reads (and the sub-objects of the fields
  it relies on). A `$ref` to any other schema is left as it is and is opaque to the checks;
- the example objects in FIXTURES, from fixtures3.json of the same commit.

Descriptions and most `x-` annotations are dropped to keep the files small; `x-stripeBypassValidation`
stays because it tells a validator that an enum is not exhaustive.

Usage (the snapshot has no work tree, so the files are read with `git show`):

    python3 adapters/stripe-api/openapi/extract.py --git-dir PATH/TO/stripe/openapi/.git [--commit SHA]

It writes stripe-openapi.json and fixtures.json beside itself. The source commit and the API
version are recorded in stripe-openapi.json under `x-vendored`; the crate pins its Stripe-Version
header to `info.version` and a test fails if the two differ. Needs PyYAML only when the commit has
no spec3.json blob (the snapshot this was first run on lacks the large JSON files).
"""

import argparse
import json
import os
import subprocess
import sys

# The commit of github.com/stripe/openapi the vendored files come from: the newest one whose
# openapi/spec3.* was present in the snapshot used (later ones were too large to be mirrored).
DEFAULT_COMMIT = "63a674638635c68de26b9f3add13e58198f4df44"

OPERATIONS = [
    # Money.
    ("post", "/v1/payment_intents"),
    ("post", "/v1/refunds"),
    ("post", "/v1/payment_intents/{intent}/cancel"),
    ("post", "/v1/transfers"),
    ("post", "/v1/transfers/{id}/reversals"),
    # Reads.
    ("get", "/v1/customers/{customer}"),
    ("get", "/v1/payment_methods/{payment_method}"),
    ("get", "/v1/accounts/{account}"),
    ("get", "/v1/payment_intents/{intent}"),
    ("get", "/v1/payment_intents"),
    ("get", "/v1/transfers"),
    ("get", "/v1/refunds"),
    # Set-up.
    ("post", "/v1/customers"),
    ("post", "/v1/payment_methods"),
    ("post", "/v1/payment_methods/{payment_method}/attach"),
    ("post", "/v1/accounts"),
    # Served by the local stack's Connect emulation, not called by the crate.
    ("get", "/v1/accounts"),
    ("get", "/v1/transfers/{transfer}"),
    ("get", "/v1/transfers/{id}/reversals"),
]

SCHEMAS = [
    "account",
    "account_capabilities",
    "api_errors",
    "customer",
    "deleted_customer",
    "error",
    "payment_intent",
    "payment_method",
    "payment_method_card",
    "refund",
    "transfer",
    "transfer_reversal",
]

FIXTURES = [
    "account",
    "customer",
    "deleted_customer",
    "payment_intent",
    "payment_method",
    "refund",
    "transfer",
    "transfer_reversal",
]

KEPT_EXTENSIONS = {"x-stripeBypassValidation"}


def git_show(git_dir, commit, path):
    return subprocess.run(
        ["git", "--git-dir", git_dir, "show", f"{commit}:{path}"],
        check=True,
        capture_output=True,
    ).stdout


def has_blob(git_dir, commit, path):
    return (
        subprocess.run(
            ["git", "--git-dir", git_dir, "cat-file", "-e", f"{commit}:{path}"],
            capture_output=True,
        ).returncode
        == 0
    )


def load_spec(git_dir, commit):
    if has_blob(git_dir, commit, "openapi/spec3.json"):
        return "openapi/spec3.json", json.loads(git_show(git_dir, commit, "openapi/spec3.json"))
    import yaml  # only needed for the YAML form

    text = git_show(git_dir, commit, "openapi/spec3.yaml")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return "openapi/spec3.yaml", yaml.load(text, Loader=loader)


def prune(node, in_properties=False):
    """Drops documentation from a schema; `in_properties` marks a map of property names."""
    if isinstance(node, list):
        return [prune(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if not in_properties:
            if key in ("description", "summary") and isinstance(value, str):
                continue
            if key.startswith("x-") and key not in KEPT_EXTENSIONS:
                continue
        out[key] = prune(value, in_properties=(key == "properties" and not in_properties))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--git-dir", required=True, help="a clone of github.com/stripe/openapi")
    parser.add_argument("--commit", default=DEFAULT_COMMIT)
    args = parser.parse_args()
    commit = subprocess.run(
        ["git", "--git-dir", args.git_dir, "rev-parse", args.commit],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()

    source, spec = load_spec(args.git_dir, commit)
    fixtures = json.loads(git_show(args.git_dir, commit, "openapi/fixtures3.json"))

    paths = {}
    for method, path in OPERATIONS:
        operation = spec["paths"][path][method]
        paths.setdefault(path, {})[method] = prune(operation)
    schemas = {name: prune(spec["components"]["schemas"][name]) for name in SCHEMAS}
    version = spec["info"]["version"]
    document = {
        "openapi": spec["openapi"],
        "info": {"title": spec["info"]["title"], "version": version},
        "x-vendored": {
            "repository": "https://github.com/stripe/openapi",
            "commit": commit,
            "file": source,
            "api_version": version,
            "extracted_by": "adapters/stripe-api/openapi/extract.py",
            "note": "Only the operations and schemas listed in extract.py; a $ref to a schema "
            "not listed here is opaque.",
        },
        "paths": paths,
        "components": {"schemas": schemas},
    }
    examples = {
        "x-vendored": {"commit": commit, "file": "openapi/fixtures3.json"},
        "resources": {name: fixtures["resources"][name] for name in FIXTURES},
    }

    here = os.path.dirname(os.path.abspath(__file__))
    for name, content in (("stripe-openapi.json", document), ("fixtures.json", examples)):
        with open(os.path.join(here, name), "w") as file:
            json.dump(content, file, indent=1, sort_keys=True)
            file.write("\n")
    print(f"extracted {len(OPERATIONS)} operations and {len(SCHEMAS)} schemas of API version "
          f"{version} from {source} at {commit}", file=sys.stderr)


if __name__ == "__main__":
    main()
