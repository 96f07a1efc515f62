#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into fuzz/corpus/<target>/ from the event
contract's golden samples (events/samples) and the API's example bodies.

Deterministic: running it again rewrites the same files. Inputs that long runs discover are
merged with `scripts/fuzz merge`, not here. See docs/fuzzing.md.
"""

import glob
import hashlib
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")


def compact(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def write(target, name, data):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def samples():
    found = []
    for path in sorted(glob.glob(os.path.join(ROOT, "events", "samples", "*.json"))):
        with open(path, encoding="utf-8") as f:
            found.append((os.path.basename(path)[: -len(".json")], json.load(f)))
    return found


def item(envelope):
    """The DynamoDB item the event store writes for an envelope (DynamoDB JSON)."""
    hash_hex = hashlib.sha256(compact(envelope).encode()).hexdigest()
    image = {
        "aggregateId": {"S": envelope["aggregateId"]},
        "version": {"N": str(envelope["version"])},
        "eventId": {"S": envelope["eventId"]},
        "aggregateType": {"S": envelope["aggregateType"]},
        "eventType": {"S": envelope["eventType"]},
        "schemaVersion": {"N": str(envelope["schemaVersion"])},
        "occurredAt": {"S": envelope["occurredAt"]},
        "payload": {"S": compact(envelope["payload"])},
        "metadata": {"S": compact(envelope["metadata"])},
        "hash": {"S": hash_hex},
    }
    metadata = envelope["metadata"]
    if metadata.get("idempotencyKey"):
        actor = metadata["actor"]
        scope = f"user:{actor['id']}" if actor["kind"] == "user" else f"system:{actor['name']}"
        image["commandKey"] = {"S": f"{scope}#{metadata['idempotencyKey']}"}
    return image


def record(envelope, sequence, event_name="INSERT"):
    """A Lambda DynamoDB stream record carrying the item, as tests/tests/suite/projector.rs
    builds them."""
    image = item(envelope)
    change = {
        "ApproximateCreationDateTime": 1767225600,
        "Keys": {"aggregateId": image["aggregateId"], "version": image["version"]},
        "SequenceNumber": f"{sequence:021d}",
        "SizeBytes": 700,
        "StreamViewType": "NEW_IMAGE",
    }
    if event_name != "REMOVE":
        change["NewImage"] = image
    return {
        "eventID": f"event-{sequence}",
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": change,
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:000000000000:table/Events/stream/x",
    }


def envelope_corpus(found):
    for name, envelope in found:
        write("envelope", f"{name}.json", json.dumps(envelope, indent=2) + "\n")
    history = [envelope for _, envelope in sorted(found, key=lambda s: s[1]["version"])]
    write("envelope", "history.json", compact(history))
    started = dict(found[0][1])
    for name, envelope in found:
        if name == "AuctionStarted.v1":
            started = dict(envelope)
    write("envelope", "schema-too-new.json", compact({**started, "schemaVersion": 99}))
    write("envelope", "unknown-type.json", compact({**started, "eventType": "AuctionExploded"}))
    write("envelope", "version-zero.json", compact({**started, "version": 0}))


def stored_event_corpus(found):
    for name, envelope in found:
        write("stored_event", f"{name}.json", compact(item(envelope)))
    name, envelope = found[0]
    broken = item(envelope)
    broken["payload"] = {"S": "{"}
    write("stored_event", "payload-not-json.json", compact(broken))
    broken = item(envelope)
    broken["version"] = {"S": "1"}
    write("stored_event", "version-as-string.json", compact(broken))


def stream_record_corpus(found):
    for sequence, (name, envelope) in enumerate(found, start=1):
        write("stream_record", f"{name}.json", compact(record(envelope, sequence)))
    batch = [record(envelope, sequence) for sequence, (_, envelope) in enumerate(found, start=100)]
    write("stream_record", "batch.json", compact({"Records": batch}))
    write("stream_record", "modify.json", compact(record(found[0][1], 500, "MODIFY")))
    write("stream_record", "remove.json", compact(record(found[0][1], 501, "REMOVE")))


def api_corpus():
    create = {
        "title": "Brass telescope",
        "description": "Victorian, working",
        "currency": "EUR",
        "startingPrice": 1000,
        "reservePrice": 5000,
        "buyNowPrice": 20000,
        "increment": {"kind": "fixed", "amountMinor": 100},
        "endsAt": "2026-06-02T12:00:00Z",
        "softClose": {"windowSeconds": 120, "extensionSeconds": 120},
    }
    bodies = {
        "create-full": b"C" + compact(create).encode(),
        "create-minimal": b"C"
        + compact(
            {"title": "Tin drum", "currency": "JPY", "startingPrice": 500, "endsAt": "2026-06-01T13:00:00Z"}
        ).encode(),
        "create-scheduled-tiered": b"C"
        + compact(
            {
                **create,
                "startsAt": "2026-06-03T12:00:00.123Z",
                "endsAt": "2026-06-10T12:00:00+02:00",
                "increment": {
                    "kind": "tiered",
                    "bands": [
                        {"fromMinor": 0, "incrementMinor": 5},
                        {"fromMinor": 1000, "incrementMinor": 50},
                    ],
                },
            }
        ).encode(),
        "create-duplicate-key": b'C{"title":"a","title":"b","currency":"EUR","startingPrice":1,"endsAt":"2026-06-02T12:00:00Z"}',
        "create-unicode-title": b"C"
        + compact({**create, "title": "\u202eepocselet\u0000 \U0001f52d"}).encode(),
        "create-i64-bounds": b"C"
        + compact({**create, "startingPrice": 9223372036854775807, "reservePrice": -9223372036854775808}).encode(),
        "bid": b'b{"amount":1100,"currency":"EUR"}',
        "bid-proxy": b'b{"amount":1200,"maxAmount":9000,"currency":"EUR"}',
        "bid-float": b'b{"amount":1.1e3,"currency":"EUR"}',
        "bid-lone-surrogate": b'b{"amount":1100,"currency":"\\ud800"}',
        "bid-nested": b"b" + b"[" * 200 + b"]" * 200,
        "cancel-reason": b'x{"reason":"sold elsewhere"}',
        "cancel-empty": b"x",
        "cancel-object": b"x{}",
    }
    for name, body in bodies.items():
        write("api_bodies", name, body)


def main():
    found = samples()
    envelope_corpus(found)
    stored_event_corpus(found)
    stream_record_corpus(found)
    api_corpus()


if __name__ == "__main__":
    main()
