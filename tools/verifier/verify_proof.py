#!/usr/bin/env python3
"""Checks, outside the platform, that one event of the auction log is in a signed digest of it.

An auditor runs this with three files the platform hands out (docs/audit.md, "Digests and proofs: the formats"):

    verify_proof.py --digest DIGEST.json --proof PROOF.json --public-key KEY \
                    [--previous-digest PREV.json]

- DIGEST.json, a signed digest of the whole log: the root of a Merkle tree (RFC 6962, SHA-256)
  whose leaves are every stream's head (its last version and that event's chain hash);
- PROOF.json, an inclusion proof: the event's envelope and every later one of its stream up to
  the head the digest saw, the chain hash before it, and the audit path of that stream's leaf;
- KEY, the signing key's public half (KMS `GetPublicKey`: DER SubjectPublicKeyInfo, or PEM).

It checks the digest's RSASSA-PKCS1-v1_5 SHA-256 signature, that the proof names this digest
(sequence, tree size), that the envelopes are the stream's consecutive versions from the event
on, walks the hash chain over them to the head, and walks the audit path from that head's leaf
to the signed root. With --previous-digest it also checks that the digest links to the one
before it (its `previous` is the SHA-256 of that digest's signed bytes, whose sequence is one
less and whose signature verifies under the same key).

What it trusts: only the public key given to it. Everything else (digests, proofs, envelopes)
is checked. It must not depend on the project's code, its database or the network: it is one
file of Python 3.11's standard library (RSA and DER done by hand, deliberately small), so an
auditor can read all of it.

Exit status: 0 and one `OK: ...` line on stdout when every check passes; 1 and `FAILED: <the
check>` on stderr when one fails; 2 and `BAD INPUT: <reason>` on stderr when a file cannot be
read or is not in the format (invalid JSON, a missing or mistyped field, a key that is not an
RSA public key). From the AWS CLI, the key is
`aws kms get-public-key --key-id K --query PublicKey --output text | base64 -d > key.der`.
"""

import argparse
import base64
import hashlib
import hmac
import json
import re
import sys
from dataclasses import dataclass

GENESIS = "0" * 64
DIGEST_FORMAT = "auction-log-digest/1"
PROOF_FORMAT = "auction-log-proof/1"
SIGNATURE_ALGORITHM = "RSASSA_PKCS1_V1_5_SHA_256"
# DER of DigestInfo { AlgorithmIdentifier { id-sha256, NULL }, OCTET STRING (32 bytes) }, less
# the hash itself (RFC 8017, section 9.2, note 1).
SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
MIN_MODULUS_BITS = 2048
MAX_MODULUS_BITS = 16384
_HEX64 = re.compile(r"[0-9a-f]{64}")


class BadInput(Exception):
    """The input is unreadable or not in the format: nothing could be judged (exit 2)."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class ProofFailed(Exception):
    """A check failed: the proof does not show the event is in the signed digest (exit 1)."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


# --- JSON ------------------------------------------------------------------------------------


def _no_duplicates(pairs):
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate key {key!r}")
        obj[key] = value
    return obj


def _no_float(text):
    raise ValueError(f"floating-point number {text} (the format has integers only)")


def parse_json(data, what):
    """Parses UTF-8 JSON strictly: no duplicate keys, no floats, NaN or Infinity."""
    try:
        text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
        return json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_float=_no_float,
            parse_constant=_no_float,
        )
    except (ValueError, RecursionError) as error:  # JSONDecodeError, UnicodeDecodeError
        raise BadInput(f"{what} is not valid JSON: {error}") from None


def canonical_json(value):
    """The canonical JSON bytes of `value`: keys sorted, no whitespace, UTF-8 (docs/audit.md)."""
    try:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False)
        return text.encode("utf-8")
    except (UnicodeEncodeError, ValueError, TypeError, RecursionError) as error:
        raise BadInput(f"cannot be written as canonical JSON: {error}") from None


# --- Hashes: the chain and the tree (RFC 6962 section 2.1, RFC 9162 section 2.1.3.2) ------------


def chain_hash(previous, envelope):
    """An event's chain hash: hex SHA-256(previous hex || "\\n" || the envelope's bytes)."""
    return hashlib.sha256(previous.encode("ascii") + b"\n" + envelope).hexdigest()


def leaf_hash(leaf):
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n):
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _subtree_root(hashes):
    if len(hashes) == 1:
        return hashes[0]
    k = _split(len(hashes))
    return node_hash(_subtree_root(hashes[:k]), _subtree_root(hashes[k:]))


def merkle_root(leaves):
    """RFC 6962's MTH of the leaves (their bytes, not their hashes)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    return _subtree_root([leaf_hash(leaf) for leaf in leaves])


def audit_path(leaves, index):
    """RFC 6962's PATH(index, leaves): the sibling hashes from the leaf up to the root."""
    if not 0 <= index < len(leaves):
        raise ValueError(f"leaf {index} is not in a tree of {len(leaves)} leaves")

    def path(m, hashes):
        if len(hashes) == 1:
            return []
        k = _split(len(hashes))
        if m < k:
            return path(m, hashes[:k]) + [_subtree_root(hashes[k:])]
        return path(m - k, hashes[k:]) + [_subtree_root(hashes[:k])]

    return path(index, [leaf_hash(leaf) for leaf in leaves])


def verify_inclusion(leaf_index, tree_size, leaf_hash_, path, root):
    """RFC 9162's check that `path` leads from leaf `leaf_index` of `tree_size` to `root`."""
    if not 0 <= leaf_index < tree_size:
        return False
    fn, sn, r = leaf_index, tree_size - 1, leaf_hash_
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and hmac.compare_digest(r, root)


# --- RSA public keys: a small DER reader ----------------------------------------------------------


@dataclass(frozen=True)
class RsaPublicKey:
    n: int
    e: int

    @property
    def size(self):
        """k: the modulus's length in bytes, which is every signature's."""
        return (self.n.bit_length() + 7) // 8


class _DerError(ValueError):
    pass


def _der_elements(data):
    """The (tag, content) of each DER element that `data` consists of, in order."""
    elements, pos = [], 0
    while pos < len(data):
        if len(data) - pos < 2:
            raise _DerError("truncated element")
        tag, first = data[pos], data[pos + 1]
        if tag & 0x1F == 0x1F:
            raise _DerError("unexpected high tag number")
        pos += 2
        if first < 0x80:
            length = first
        else:
            count = first & 0x7F
            if count == 0 or count > 4 or len(data) - pos < count:
                raise _DerError("bad length")
            length = int.from_bytes(data[pos:pos + count], "big")
            if length < 0x80 or data[pos] == 0:
                raise _DerError("length not in its shortest form")
            pos += count
        if len(data) - pos < length:
            raise _DerError("truncated element")
        elements.append((tag, data[pos:pos + length]))
        pos += length
    return elements


def _der_expect(data, tags, what):
    elements = _der_elements(data)
    if [tag for tag, _ in elements] != tags:
        raise _DerError(f"{what} is not the expected structure")
    return [content for _, content in elements]


def _der_integer(content):
    if not content:
        raise _DerError("empty INTEGER")
    if len(content) > 1 and (content[0] == 0 and content[1] < 0x80
                             or content[0] == 0xFF and content[1] >= 0x80):
        raise _DerError("INTEGER not in its shortest form")
    if content[0] & 0x80:
        raise _DerError("negative INTEGER")
    return int.from_bytes(content, "big")


def _der_oid(content):
    if not content or content[-1] & 0x80:
        raise _DerError("bad OBJECT IDENTIFIER")
    arcs, value = [], 0
    for byte in content:
        value = value << 7 | byte & 0x7F
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(a) for a in [first, arcs[0] - 40 * first] + arcs[1:])


_KNOWN_ALGORITHMS = {"1.2.840.10045.2.1": "EC", "1.3.101.112": "Ed25519", "1.3.101.110": "X25519",
                     "1.2.840.10040.4.1": "DSA", "1.2.840.113549.1.1.10": "RSASSA-PSS"}


def _rsa_public_key(der):
    """RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER } (RFC 8017)."""
    (body,) = _der_expect(der, [0x30], "RSAPublicKey")
    n, e = (_der_integer(c) for c in _der_expect(body, [0x02, 0x02], "RSAPublicKey"))
    bits = n.bit_length()
    if bits < MIN_MODULUS_BITS or bits > MAX_MODULUS_BITS:
        raise BadInput(f"the RSA key has a {bits}-bit modulus; this verifier takes "
                       f"{MIN_MODULUS_BITS} to {MAX_MODULUS_BITS} bits")
    if n % 2 == 0 or e % 2 == 0 or not 3 <= e < n:
        raise BadInput("the RSA key's modulus or exponent is not valid")
    return RsaPublicKey(n, e)


def _spki(der):
    """SubjectPublicKeyInfo ::= SEQUENCE { AlgorithmIdentifier, BIT STRING } (RFC 5280)."""
    (body,) = _der_expect(der, [0x30], "SubjectPublicKeyInfo")
    algorithm, bits = _der_expect(body, [0x30, 0x03], "SubjectPublicKeyInfo")
    parts = _der_elements(algorithm)
    if not parts or parts[0][0] != 0x06:
        raise _DerError("AlgorithmIdentifier has no OBJECT IDENTIFIER")
    oid = _der_oid(parts[0][1])
    if oid != RSA_ENCRYPTION:
        name = _KNOWN_ALGORITHMS.get(oid, "algorithm")
        raise BadInput(f"not an RSA public key: the key is {name} ({oid})")
    if parts[1:] not in ([], [(0x05, b"")]):
        raise _DerError("rsaEncryption with parameters other than NULL")
    if not bits or bits[0] != 0:
        raise _DerError("BIT STRING with unused bits")
    return _rsa_public_key(bits[1:])


_PEM = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\s*(.*?)\s*-----END \1-----", re.S)


def load_public_key(data):
    """An RSA public key from DER or PEM SubjectPublicKeyInfo (or PEM `RSA PUBLIC KEY`)."""
    if not isinstance(data, (bytes, bytearray)):
        raise BadInput("the public key must be bytes")
    data = bytes(data)
    try:
        if b"-----BEGIN " in data:
            match = _PEM.search(data)
            if not match:
                raise BadInput("the key file's PEM block has no matching END line")
            label = match.group(1).decode("ascii")
            if "PRIVATE" in label:
                raise BadInput(f"the key file holds a private key ({label}); give the public key")
            if label not in ("PUBLIC KEY", "RSA PUBLIC KEY"):
                raise BadInput(f"the key file holds a {label}, not a public key")
            der = base64.b64decode(b"".join(match.group(2).split()), validate=True)
            return _spki(der) if label == "PUBLIC KEY" else _rsa_public_key(der)
        return _spki(data)
    except (_DerError, ValueError, IndexError) as error:  # binascii.Error is a ValueError
        raise BadInput(f"the key is not an RSA public key in DER or PEM: {error}") from None


# --- RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017, sections 8.2.2 and 9.2) ----------------------------


def _signature_problem(key, message, signature):
    k = key.size
    t = SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
    if k < len(t) + 11:
        return "cannot be checked: the key's modulus is too short for SHA-256"
    if len(signature) != k:
        return f"is {len(signature)} bytes; this key's signatures are {k}"
    s = int.from_bytes(signature, "big")
    if s >= key.n:
        return "is, as an integer, not less than the key's modulus"
    encoded = pow(s, key.e, key.n).to_bytes(k, "big")
    expected = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
    if not hmac.compare_digest(encoded, expected):
        return "does not verify under this public key"
    return None


def verify_signature(key, message, signature):
    """True if `signature` is `key`'s RSASSA-PKCS1-v1_5 SHA-256 signature of `message`."""
    return _signature_problem(key, message, signature) is None


# --- The formats ---------------------------------------------------------------------------------


def _json_type(value):
    if isinstance(value, bool):
        return "a boolean"
    names = {dict: "an object", list: "an array", str: "a string", int: "an integer",
             type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _field(obj, key, where, kind):
    if key not in obj:
        raise BadInput(f"{where} has no field {key!r}")
    value = obj[key]
    if type(value) is not kind:  # not isinstance: a boolean is not an integer here
        raise BadInput(f"{key!r} in {where} must be {_json_type(kind())}, "
                       f"not {_json_type(value)}")
    return value


def _object(value, where):
    if type(value) is not dict:
        raise BadInput(f"{where} must be a JSON object, not {_json_type(value)}")
    return value


def _count(obj, key, where, minimum=0):
    value = _field(obj, key, where, int)
    if value < minimum:
        raise BadInput(f"{key!r} in {where} must be at least {minimum}, not {value}")
    return value


def _hex64(value, where):
    if type(value) is not str or not _HEX64.fullmatch(value):
        raise BadInput(f"{where} must be a hash: 64 lowercase hex digits")
    return value


@dataclass(frozen=True)
class _Digest:
    signed: bytes
    signature: bytes
    sequence: int
    tree_size: int
    root: bytes
    previous: str
    time: str


def _parse_digest(obj, what):
    obj = _object(obj, what)
    body = _field(obj, "digest", what, dict)
    where = f"{what}'s signed part"
    algorithm = _field(body, "algorithm", where, str)
    if algorithm != SIGNATURE_ALGORITHM:
        raise BadInput(f"{what}'s algorithm is {algorithm!r}; this verifier checks "
                       f"{SIGNATURE_ALGORITHM}")
    if _field(body, "format", where, str) != DIGEST_FORMAT:
        raise BadInput(f"{what}'s format is not {DIGEST_FORMAT!r}")
    _field(body, "keyId", where, str)
    _field(body, "leaves", where, str)
    encoded = _field(obj, "signature", what, str)
    try:
        signature = base64.b64decode(encoded, validate=True)
    except ValueError:
        raise BadInput(f"{what}'s signature is not base64") from None
    return _Digest(
        signed=canonical_json(body),
        signature=signature,
        sequence=_count(body, "sequence", where),
        tree_size=_count(body, "treeSize", where),
        root=bytes.fromhex(_hex64(_field(body, "root", where, str), f"'root' in {where}")),
        previous=_hex64(_field(body, "previous", where, str), f"'previous' in {where}"),
        time=_field(body, "time", where, str),
    )


@dataclass(frozen=True)
class _Proof:
    aggregate_type: str
    aggregate_id: str
    version: int
    sequence: int
    previous: str
    envelopes: list
    leaf_index: int
    tree_size: int
    audit_path: list


def _parse_proof(obj):
    obj = _object(obj, "the proof")
    where = "the proof"
    if _field(obj, "format", where, str) != PROOF_FORMAT:
        raise BadInput(f"the proof's format is not {PROOF_FORMAT!r}")
    digest = _field(obj, "digest", where, dict)
    _field(digest, "key", "the proof's digest", str)
    envelopes = _field(obj, "envelopes", where, list)
    if not envelopes:
        raise BadInput("the proof has no envelopes")
    for i, envelope in enumerate(envelopes):
        if type(envelope) is not str:
            raise BadInput(f"the proof's envelope {i + 1} must be a string of canonical JSON, "
                           f"not {_json_type(envelope)}")
    path = _field(obj, "auditPath", where, list)
    return _Proof(
        aggregate_type=_field(obj, "aggregateType", where, str),
        aggregate_id=_field(obj, "aggregateId", where, str),
        version=_count(obj, "version", where, minimum=1),
        sequence=_count(digest, "sequence", "the proof's digest"),
        previous=_hex64(_field(obj, "previous", where, str), "'previous' in the proof"),
        envelopes=envelopes,
        leaf_index=_count(obj, "leafIndex", where),
        tree_size=_count(obj, "treeSize", where),
        audit_path=[bytes.fromhex(_hex64(p, f"auditPath[{i}] in the proof"))
                    for i, p in enumerate(path)],
    )


def _envelope(text, position):
    """The envelope's exact bytes (what the chain hashes) and its stream and version."""
    what = f"the proof's envelope {position}"
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput(f"{what} is not valid Unicode") from None
    envelope = _object(parse_json(data, what), what)
    stream = (_field(envelope, "aggregateType", what, str),
              _field(envelope, "aggregateId", what, str))
    return data, stream, _count(envelope, "version", what, minimum=1)


# --- Verification --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verified:
    aggregate_type: str
    aggregate_id: str
    version: int
    head_version: int
    head: str
    leaf_index: int
    sequence: int
    tree_size: int
    time: str

    def line(self):
        return (f"OK: {self.aggregate_type} {self.aggregate_id} version {self.version} is in "
                f"digest {self.sequence} ({self.tree_size} streams, signed {self.time}), "
                f"chained to its head at version {self.head_version}")


def _check_link(digest, prev, key):
    problem = _signature_problem(key, prev.signed, prev.signature)
    if problem:
        raise ProofFailed(f"previous digest link: the previous digest's signature {problem}")
    if digest.sequence == 0:
        raise ProofFailed("previous digest link: digest 0 is the first; nothing comes before it")
    if prev.sequence + 1 != digest.sequence:
        raise ProofFailed(f"previous digest link: the previous digest is digest {prev.sequence}, "
                          f"not {digest.sequence - 1}")
    linked = hashlib.sha256(prev.signed).hexdigest()
    if not hmac.compare_digest(linked, digest.previous):
        raise ProofFailed(f"previous digest link: digest {digest.sequence} links to "
                          f"{digest.previous}, not to this digest {prev.sequence} ({linked})")


def verify(digest_obj, proof_obj, public_key, previous_digest_obj=None):
    """Checks that the proof's event is in the signed digest; returns a Verified.

    `digest_obj`, `proof_obj` and `previous_digest_obj` are parsed JSON; `public_key` an
    RsaPublicKey or the key file's bytes. Raises BadInput for input not in the format and
    ProofFailed, naming the check, for the first check that fails.
    """
    key = public_key if isinstance(public_key, RsaPublicKey) else load_public_key(public_key)
    digest = _parse_digest(digest_obj, "the digest")
    proof = _parse_proof(proof_obj)
    stream = (proof.aggregate_type, proof.aggregate_id)
    envelopes = [_envelope(text, i + 1) for i, text in enumerate(proof.envelopes)]
    prev = None
    if previous_digest_obj is not None:
        prev = _parse_digest(previous_digest_obj, "the previous digest")

    # 1. The digest is signed by the key.
    problem = _signature_problem(key, digest.signed, digest.signature)
    if problem:
        raise ProofFailed(f"signature: the digest's signature {problem}")
    if prev is not None:
        _check_link(digest, prev, key)

    # 2. The proof is for this digest.
    if proof.sequence != digest.sequence:
        raise ProofFailed(f"sequence: the proof is for digest {proof.sequence}, "
                          f"this is digest {digest.sequence}")
    if proof.tree_size != digest.tree_size:
        raise ProofFailed(f"tree size: the proof is for a tree of {proof.tree_size} leaves, "
                          f"the digest's has {digest.tree_size}")

    # 3. The envelopes are the stream's versions from the proof's on, in order.
    expected = proof.version
    for position, (_, envelope_stream, version) in enumerate(envelopes, start=1):
        if envelope_stream != stream:
            raise ProofFailed(f"envelope {position} belongs to another stream "
                              f"({' '.join(envelope_stream)}), not {' '.join(stream)}")
        if version != expected:
            which = "the proof's version" if position == 1 else "the next version"
            raise ProofFailed(f"envelope {position} is version {version}, not {which} "
                              f"({expected})")
        expected += 1

    # 4. The chain from `previous` over the envelopes' exact bytes gives the head.
    if proof.version == 1 and proof.previous != GENESIS:
        raise ProofFailed("previous: version 1 chains from 64 0s, the proof's previous is "
                          f"{proof.previous}")
    head = proof.previous
    for data, _, _ in envelopes:
        head = chain_hash(head, data)
    head_version = envelopes[-1][2]

    # 5. The stream's leaf at that head is in the signed tree.
    if proof.leaf_index >= digest.tree_size:
        raise ProofFailed(f"leaf index: {proof.leaf_index} is not in a tree of "
                          f"{digest.tree_size} leaves")
    leaf = canonical_json({"aggregateId": proof.aggregate_id,
                           "aggregateType": proof.aggregate_type,
                           "head": head, "version": head_version})
    if not verify_inclusion(proof.leaf_index, digest.tree_size, leaf_hash(leaf),
                            proof.audit_path, digest.root):
        raise ProofFailed(f"chain head does not match the digest: the audit path does not lead "
                          f"to the root from leaf {proof.leaf_index} ({' '.join(stream)} at "
                          f"version {head_version}, head {head})")

    return Verified(proof.aggregate_type, proof.aggregate_id, proof.version, head_version, head,
                    proof.leaf_index, digest.sequence, digest.tree_size, digest.time)


# --- The command line ----------------------------------------------------------------------------


def _one_line(text):
    """`text` with control and other unprintable characters escaped: one line, no terminal
    escape sequences."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise BadInput(message)


def _read(path, what):
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as error:
        raise BadInput(f"cannot read the {what} {path}: {error.strerror or error}") from None


def main(argv=None):
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError):
            pass
    parser = _Parser(description="Check that an event of the auction log is in a signed digest.")
    parser.add_argument("--digest", required=True, metavar="DIGEST.json")
    parser.add_argument("--proof", required=True, metavar="PROOF.json")
    parser.add_argument("--public-key", required=True, metavar="KEY",
                        help="the signing key's public half, DER SubjectPublicKeyInfo or PEM")
    parser.add_argument("--previous-digest", metavar="PREV.json",
                        help="the digest before DIGEST, to check that DIGEST links to it")
    try:
        args = parser.parse_args(argv)
        key = load_public_key(_read(args.public_key, "public key"))
        digest = parse_json(_read(args.digest, "digest"), f"the digest {args.digest}")
        proof = parse_json(_read(args.proof, "proof"), f"the proof {args.proof}")
        previous = None
        if args.previous_digest is not None:
            previous = parse_json(_read(args.previous_digest, "previous digest"),
                                  f"the previous digest {args.previous_digest}")
        result = verify(digest, proof, key, previous)
    except ProofFailed as failure:
        print(f"FAILED: {_one_line(failure.reason)}", file=sys.stderr)
        return 1
    except BadInput as bad:
        print(f"BAD INPUT: {_one_line(bad.reason)}", file=sys.stderr)
        return 2
    except RecursionError:
        print("BAD INPUT: the input is nested too deeply", file=sys.stderr)
        return 2
    except Exception as error:  # never a traceback; nothing unexpected passes as OK
        print(f"BAD INPUT: unexpected {type(error).__name__}: {_one_line(str(error))}",
              file=sys.stderr)
        return 2
    try:
        print(_one_line(result.line()))
        sys.stdout.flush()
    except OSError:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
