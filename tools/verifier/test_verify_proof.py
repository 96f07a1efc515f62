"""Tests of verify_proof.py, the auditor's standalone inclusion-proof verifier.

Run from the repository's root:

    python3 -m unittest discover -s tools/verifier -t tools/verifier

Every fixture is built here, with the standard library only: a fixed RSA-2048 key pair
(generated once with `openssl genrsa 2048` and embedded as integers; the test signs with
pow(EM, d, n)), its SubjectPublicKeyInfo built by a tiny DER encoder (and compared with the DER
openssl wrote), a log of five streams chained as the event store chains them, its leaves, tree,
two linked digests and the proofs. The tamper tests run the verifier both as a function and as
the command an auditor runs.
"""

import ast
import base64
import copy
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import unittest
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "verify_proof.py")
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import verify_proof as vp  # noqa: E402

# --- The test key pair (openssl genrsa 2048, once; e = 65537) --------------------------------

TEST_N = int(
    "bb6b22cad730819ed9228a702b9555a1d40f17b1b239cc263e099264a23a0738aa244cc7c8d09c25f04b0b98"
    "d931dfb78f3ae4fc3b9484cf5dea0a051e52c35bc7a675938ca3ddca10ff07900ae076c1151bbb5632dc996c"
    "004966c485ceea063ac0da063a1c53a06f747cbc534bd82817c68a13088ede5918bac6dbaadfef76c9f61708"
    "88f4b734278a7c2112e37c7416756f391956f486beef340d6df1d260f3d4a5e9d8f17e7c9a0170e398ac20e6"
    "a778601ec242cd3e8c5dd8acc14aed58dd825f487a5f5dc3336cf3ec843845710012bc1c8e3835d345312b3d"
    "de2c434d1e97a5e1c36b5dd6b1cc055ee2203c26d18ae098f6b07d05560e63db0e5ca02b",
    16,
)
TEST_D = int(
    "263230fe8ef9b34918eea9b12fa8b9318882e4ecd1aa66d95a6660000371f91bcacd281ac56a0290d6d6ac8f"
    "e39ffefcad83aebc5b362b150a0a532d74df203279cf8a81de355d53bbc0061e0ca16f826d57600832c873ba"
    "279ace077a4fcfb12253407be966f1822e84da911516cd806a4c0bc2d2492fb68fcc2d1002d4adbc3958e47f"
    "995bad408c25b0b673c37bb575e1f8da6ff18ee97b07fa455b8c8da0c1c13e203e0eed49922fea827ee42c39"
    "6d8a3317289a91ace4b6e062961652eccbf27fdb1cf7309d594700f4da34b5fbeb51e784a19128cc7162c6f2"
    "04897bb8c1021056a81d2a83f1447fddde462da0da56eb3e686a0bba22829f79c6049775",
    16,
)
TEST_E = 65537
# The modulus of another openssl key: "a different public key".
OTHER_N = int(
    "feb73811af15619ef3c440fada7e737fdec0d7525444d851f3958f472ec0d3fcd1ce5ec7be1587be1529b3ee"
    "6bb60aa061930eb5b0012eb771a2461d0d508f659cbeb20e0c3a9851d22af5e219867ad674e91847e568b305"
    "20dc4f52a7e10d7e0620e6021a8b8531abc2ac2a4c1c5475bd0d6d53c2d3f8e74b3eddddd008b55e9f2c7fc1"
    "1ae6e38ae78b859bf20c6b47466c4621cb3dd7da2b1b6fc0508f3d3bcb72c7aee10e35aa1e87a0140f70e8ce"
    "12b75fde4388b6cfa4d3425a39e36b925e85970e24c7dc4116a4e3a0ac9e4a8c22507e4306d0a9a92e2578dc"
    "1958206f4a9852e54a6f2326a244413d61f900456dcb9cdcb2a922d429dc6f91a71efce3",
    16,
)
# `openssl rsa -pubout -outform DER` of the test key.
OPENSSL_DER = base64.b64decode(
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu2siytcwgZ7ZIopwK5VVodQPF7GyOcwmPgmSZKI6Bziq"
    "JEzHyNCcJfBLC5jZMd+3jzrk/DuUhM9d6goFHlLDW8emdZOMo93KEP8HkArgdsEVG7tWMtyZbABJZsSFzuoGOsDa"
    "BjocU6BvdHy8U0vYKBfGihMIjt5ZGLrG26rf73bJ9hcIiPS3NCeKfCES43x0FnVvORlW9Ia+7zQNbfHSYPPUpenY"
    "8X58mgFw45isIOaneGAewkLNPoxd2KzBSu1Y3YJfSHpfXcMzbPPshDhFcQASvByOODXTRTErPd4sQ00el6Xhw2td"
    "1rHMBV7iIDwm0YrgmPawfQVWDmPbDlygKwIDAQAB"
)
# `openssl dgst -sha256 -sign` of OPENSSL_MESSAGE with the test key.
OPENSSL_MESSAGE = b'{"digest":"signed by openssl"}'
OPENSSL_SIGNATURE = base64.b64decode(
    "En+XSyBxP8oySgrGpvd8xT4/GytNHw77Cqh1SjhbirdM2WJXM9jbnY5s4v7MgXtCWaklXJxk8LlmoFlkn64Brsg0"
    "mdCa/ibKtNodzm1Hk6Xcg5MauqKk7Bq+2duiPo8O3zDjmZLCm4j92iHl39ns9FImi9tMNXREouUd2NGPFVvNsl8F"
    "L92JbrXTIhmG/HRnRbsvvdT4jYVI6GCH5ZAh+GKvWOwInYabKDUatZlMH2Ug241FxpkdBJ1/Q2SbhdRwBCSRItrQ"
    "nw/MnqgyM+bn3HFx0UnXaNxcJItaxqi+f4SuJDh25JUN/Ua3Am3TvtvPu4oofQgkbXiccQm4oYWvog=="
)
# `openssl ec -pubout` of a P-256 key: a public key, but not an RSA one.
EC_PEM = b"""-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEc/SKejzMuQ/AQilW66lrAPsZEarm
lfKoSBH1ahWiGtBL/p3WYxXzQ4snn6oiuaE9VPW5TFJ9fVlOIEa28X9A0A==
-----END PUBLIC KEY-----
"""

SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
# The same DigestInfo without the NULL parameters: a lenient verifier's encoding, not ours.
SHA256_DIGEST_INFO_NO_NULL = bytes.fromhex("302f300b0609608648016503040201" "0420")
RSA_ENCRYPTION_OID = bytes.fromhex("2a864886f70d010101")

# --- A tiny DER encoder -------------------------------------------------------------------------


def der(tag, content):
    if len(content) < 0x80:
        length = bytes([len(content)])
    else:
        size = len(content).to_bytes((len(content).bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(size)]) + size
    return bytes([tag]) + length + content


def der_integer(value):
    return der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def rsa_spki(n, e=TEST_E):
    algorithm = der(0x30, der(0x06, RSA_ENCRYPTION_OID) + der(0x05, b""))
    key = der(0x30, der_integer(n) + der_integer(e))
    return der(0x30, algorithm + der(0x03, b"\x00" + key))


def pem(data, label="PUBLIC KEY"):
    body = base64.b64encode(data).decode("ascii")
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return (f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n").encode()


def sign(message, n=TEST_N, d=TEST_D, digest_info=SHA256_DIGEST_INFO):
    k = (n.bit_length() + 7) // 8
    t = digest_info + hashlib.sha256(message).digest()
    em = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
    return pow(int.from_bytes(em, "big"), d, n).to_bytes(k, "big")


# --- A log of five streams, chained as the event store chains them ----------------------------

GENESIS = "0" * 64


def canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain(previous, text):
    return hashlib.sha256(previous.encode() + b"\n" + text.encode()).hexdigest()


def uuid_for(*parts):
    h = hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}"


AUCTION_A = ("Auction", uuid_for("auction", "a"))
AUCTION_B = ("Auction", uuid_for("auction", "b"))
AUCTION_C = ("Auction", uuid_for("auction", "c"))
AUCTION_D = ("Auction", uuid_for("auction", "d"))
ITEM_A = ("Item", uuid_for("item", "a"))


def bid(amount, bidder):
    return ("BidPlaced", {"amount": {"amountMinor": amount, "currency": "EUR"}, "bidder": bidder})


def created(title):
    return ("AuctionCreated", {"reserve": {"amountMinor": 1000, "currency": "EUR"},
                               "seller": "seller-1", "title": title})


HISTORIES = {
    AUCTION_A: [created("Vélo d’époque 🚲"), bid(1200, "u1"), bid(1300, "u2"), bid(1500, "u1"),
                bid(1700, "u3"), ("AuctionEnded", {"winner": "u3"})],
    AUCTION_B: [created("Lamp \"Tiffany\"\n"), bid(1100, "u2"), bid(1150, "u4"), bid(1200, "u2"),
                bid(1250, "u4")],
    AUCTION_C: [created("Chair")],
    AUCTION_D: [created("Desk"), bid(2000, "u5"), ("AuctionCancelled", {"reason": "seller"})],
    ITEM_A: [("ItemRegistered", {"owner": "seller-1"}),
             ("ItemTransferred", {"from": "seller-1", "to": "u3"})],
}


def envelope(stream, version, event):
    event_type, payload = event
    aggregate_type, aggregate_id = stream
    return {
        "aggregateId": aggregate_id,
        "aggregateType": aggregate_type,
        "eventId": uuid_for(aggregate_id, version, "event"),
        "eventType": event_type,
        "metadata": {"actor": payload.get("bidder", "seller-1"),
                     "causationId": uuid_for(aggregate_id, version, "causation"),
                     "correlationId": uuid_for(aggregate_id, version, "correlation"),
                     "idempotencyKey": f"k{version}"},
        "occurredAt": f"2026-01-01T00:{version:02d}:00.000Z",
        "payload": payload,
        "schemaVersion": 2,
        "version": version,
    }


class Log:
    """Streams of envelopes, each chained from GENESIS; `texts` are their canonical JSON."""

    def __init__(self, histories):
        self.envelopes = {s: [envelope(s, v, e) for v, e in enumerate(events, 1)]
                          for s, events in histories.items()}
        self.texts, self.hashes = {}, {}
        for stream, envelopes in self.envelopes.items():
            self.reseal(stream, envelopes)

    def reseal(self, stream, envelopes):
        self.envelopes[stream] = envelopes
        self.texts[stream] = [canonical(e).decode() for e in envelopes]
        head, hashes = GENESIS, []
        for text in self.texts[stream]:
            head = chain(head, text)
            hashes.append(head)
        self.hashes[stream] = hashes

    def streams(self):
        return sorted(self.envelopes, key=lambda s: (s[0].encode(), s[1].encode()))

    def leaves(self):
        return [canonical({"aggregateId": s[1], "aggregateType": s[0],
                           "head": self.hashes[s][-1], "version": len(self.hashes[s])})
                for s in self.streams()]


def make_digest(leaves, sequence, previous, n=TEST_N, d=TEST_D):
    root = vp.merkle_root(leaves).hex()
    body = {"algorithm": "RSASSA_PKCS1_V1_5_SHA_256", "format": "auction-log-digest/1",
            "keyId": "arn:aws:kms:eu-west-1:111122223333:key/test", "leaves":
            f"trees/{root}-{len(leaves)}.jsonl", "previous": previous, "root": root,
            "sequence": sequence,
            "time": f"2026-12-05T{10 + sequence}:00:00.000Z", "treeSize": len(leaves)}
    return {"digest": body, "signature": base64.b64encode(sign(canonical(body), n, d)).decode()}


def make_proof(log, stream, version, digest):
    leaves = log.leaves()
    index = log.streams().index(stream)
    sequence = digest["digest"]["sequence"]
    return {"format": "auction-log-proof/1", "aggregateType": stream[0],
            "aggregateId": stream[1], "version": version,
            "digest": {"sequence": sequence, "key": f"digests/{sequence:012d}.json"},
            "previous": GENESIS if version == 1 else log.hashes[stream][version - 2],
            "envelopes": log.texts[stream][version - 1:],
            "leafIndex": index, "treeSize": len(leaves),
            "auditPath": [h.hex() for h in vp.audit_path(leaves, index)]}


LOG = Log(HISTORIES)
# The log when digest 6 was made: auction A at version 4, the item not yet transferred.
EARLIER = Log({**HISTORIES, AUCTION_A: HISTORIES[AUCTION_A][:4], ITEM_A: HISTORIES[ITEM_A][:1]})
PREVIOUS = make_digest(EARLIER.leaves(), 6, hashlib.sha256(b"digest 5").hexdigest())
DIGEST = make_digest(LOG.leaves(), 7, hashlib.sha256(canonical(PREVIOUS["digest"])).hexdigest())
PROOF = make_proof(LOG, AUCTION_A, 3, DIGEST)  # versions 3..6 of auction A
KEY = vp.RsaPublicKey(TEST_N, TEST_E)

_FILES = None


def setUpModule():
    global _FILES
    _FILES = tempfile.TemporaryDirectory(prefix="verify-proof-test-")


def tearDownModule():
    _FILES.cleanup()


def write(content, name):
    """`content` (a JSON value, or bytes as they are) in a fresh file; its path."""
    directory = tempfile.mkdtemp(dir=_FILES.name)
    path = os.path.join(directory, name)
    with open(path, "wb") as file:
        # Pretty, as the platform writes digests: only the signed part's canonical form counts.
        file.write(content if isinstance(content, bytes) else json.dumps(content, indent=2)
                   .encode())
    return path


def cli(*args, direct=False):
    """Runs the verifier; isolated (-I) and without site-packages (-S), since it needs only
    the standard library, or `direct`ly as an auditor would, through its #! line."""
    command = [SCRIPT] if direct else [sys.executable, "-I", "-S", SCRIPT]
    return subprocess.run([*command, *args], capture_output=True, timeout=60)


def run(digest=DIGEST, proof=PROOF, key=None, previous=None, direct=False):
    """Runs the CLI over the values (or raw bytes) given, written to files."""
    args = ["--digest", write(digest, "digest.json"), "--proof", write(proof, "proof.json"),
            "--public-key", write(pem(rsa_spki(TEST_N)) if key is None else key, "key")]
    if previous is not None:
        args += ["--previous-digest", write(previous, "previous.json")]
    return cli(*args, direct=direct)


def flip_hex(value, at=0):
    return value[:at] + ("1" if value[at] == "0" else "0") + value[at + 1:]


class OutputAssertions(unittest.TestCase):
    def assert_one_line(self, result, code, prefix, phrase=None):
        out, err = result.stdout.decode(errors="replace"), result.stderr.decode(errors="replace")
        shown = f"exit {result.returncode}\nstdout: {out}\nstderr: {err}"
        self.assertEqual(result.returncode, code, shown)
        self.assertNotIn("Traceback", out + err, shown)
        text = out if code == 0 else err
        self.assertEqual(out if code else err, "", shown)
        self.assertTrue(text.endswith("\n") and text.count("\n") == 1, shown)
        self.assertTrue(text.startswith(prefix), shown)
        if phrase is not None:
            self.assertIn(phrase, text, shown)
        return text

    def assert_fails(self, phrase, digest=DIGEST, proof=PROOF, previous=None, n=TEST_N):
        """The check named by `phrase` fails, called as a function and as the CLI."""
        with self.assertRaises(vp.ProofFailed) as caught:
            vp.verify(digest, proof, vp.RsaPublicKey(n, TEST_E), previous)
        self.assertIn(phrase, caught.exception.reason)
        result = run(digest, proof, pem(rsa_spki(n)), previous)
        self.assert_one_line(result, 1, "FAILED: ", phrase)

    def assert_bad_input(self, result, phrase=None):
        text = self.assert_one_line(result, 2, "BAD INPUT: ", phrase)
        self.assertNotIn("unexpected", text)  # named by a check, not by the last-resort catch
        return text


# --- The tree ------------------------------------------------------------------------------------

RFC6962_LEAVES = [b"", b"\x00", b"\x10", b"\x20\x21", b"\x30\x31", b"\x40\x41\x42\x43",
                  b"\x50\x51\x52\x53\x54\x55\x56\x57", bytes(range(0x60, 0x70))]
RFC6962_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
MAX_TREE = 40


def sides(m, n):
    """Where each sibling of PATH(m, D[n]) sits, leaf up, by RFC 6962's recursion: an
    independent statement of the path's shape."""
    if n == 1:
        return []
    k = 1 << ((n - 1).bit_length() - 1)
    return sides(m, k) + ["right"] if m < k else sides(m - k, n - k) + ["left"]


class MerkleTreeTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.leaves = [b"leaf %d" % i for i in range(MAX_TREE)]
        cls.roots = {n: vp.merkle_root(cls.leaves[:n]) for n in range(1, MAX_TREE + 1)}
        cls.paths = {(m, n): vp.audit_path(cls.leaves[:n], m)
                     for n in range(1, MAX_TREE + 1) for m in range(n)}

    def test_given_the_rfc_6962_leaves_when_the_first_n_are_hashed_then_each_root_is_the_published_one(self):
        for n, expected in enumerate(RFC6962_ROOTS, start=1):
            with self.subTest(n=n):
                self.assertEqual(vp.merkle_root(RFC6962_LEAVES[:n]).hex(), expected)

    def test_given_no_leaves_when_hashed_then_the_root_is_the_sha256_of_nothing(self):
        self.assertEqual(vp.merkle_root([]), hashlib.sha256(b"").digest())

    def test_given_a_leaf_and_two_nodes_when_hashed_then_the_domain_separation_bytes_are_used(self):
        self.assertEqual(vp.leaf_hash(b"x"), hashlib.sha256(b"\x00x").digest())
        self.assertEqual(vp.node_hash(b"l", b"r"), hashlib.sha256(b"\x01lr").digest())

    def test_given_every_tree_up_to_40_leaves_when_each_leafs_path_is_checked_then_it_leads_to_the_root(self):
        for (m, n), path in self.paths.items():
            leaf = vp.leaf_hash(self.leaves[m])
            self.assertTrue(vp.verify_inclusion(m, n, leaf, path, self.roots[n]), (m, n))

    def test_given_every_tree_up_to_40_leaves_when_the_rfc_6962_root_is_computed_by_its_definition_then_it_matches(self):
        def mth(leaves):
            if len(leaves) == 1:
                return hashlib.sha256(b"\x00" + leaves[0]).digest()
            k = 1 << ((len(leaves) - 1).bit_length() - 1)
            return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()

        for n in range(1, MAX_TREE + 1):
            self.assertEqual(self.roots[n], mth(self.leaves[:n]), n)

    def test_given_a_leafs_path_when_checked_at_any_other_index_then_it_fails(self):
        for (m, n), path in self.paths.items():
            leaf = vp.leaf_hash(self.leaves[m])
            for other in range(-1, n + 1):
                if other != m:
                    self.assertFalse(
                        vp.verify_inclusion(other, n, leaf, path, self.roots[n]), (m, n, other))

    def test_given_a_leafs_path_when_checked_for_another_tree_size_then_it_fails_unless_that_tree_has_the_same_shape(self):
        # The root binds the leaves; the tree size binds the path's shape. A path of leaf m of
        # n also verifies, against the same root, for a size n' whose path to m has the same
        # sides (e.g. leaf 0 of 3 and of 4): the digest signs its tree size for that reason.
        for (m, n), path in self.paths.items():
            leaf = vp.leaf_hash(self.leaves[m])
            for other in range(0, MAX_TREE + 2):
                if other == n:
                    continue
                same_shape = m < other and sides(m, other) == sides(m, n)
                self.assertEqual(
                    vp.verify_inclusion(m, other, leaf, path, self.roots[n]), same_shape,
                    (m, n, other))
                if other in self.roots:
                    self.assertFalse(
                        vp.verify_inclusion(m, other, leaf, path, self.roots[other]),
                        (m, n, other))

    def test_given_a_leafs_path_with_a_byte_of_any_element_flipped_when_checked_then_it_fails(self):
        for (m, n), path in self.paths.items():
            leaf = vp.leaf_hash(self.leaves[m])
            for i, element in enumerate(path):
                at = (m + i) % 32
                flipped = element[:at] + bytes([element[at] ^ 0x01]) + element[at + 1:]
                bad = path[:i] + [flipped] + path[i + 1:]
                self.assertFalse(vp.verify_inclusion(m, n, leaf, bad, self.roots[n]), (m, n, i))

    def test_given_a_leafs_path_with_an_element_added_or_removed_when_checked_then_it_fails(self):
        for (m, n), path in self.paths.items():
            leaf = vp.leaf_hash(self.leaves[m])
            self.assertFalse(
                vp.verify_inclusion(m, n, leaf, path + [self.roots[n]], self.roots[n]), (m, n))
            if path:
                self.assertFalse(
                    vp.verify_inclusion(m, n, leaf, path[:-1], self.roots[n]), (m, n))

    def test_given_a_path_longer_than_the_tree_allows_when_checked_against_the_root_it_leads_to_then_it_fails(self):
        # One element more hashes the real root with it: a root this tree size cannot have.
        extra = hashlib.sha256(b"extra").digest()
        for (m, n), path in self.paths.items():
            leaf = vp.leaf_hash(self.leaves[m])
            for beyond in (vp.node_hash(extra, self.roots[n]), vp.node_hash(self.roots[n], extra)):
                self.assertFalse(vp.verify_inclusion(m, n, leaf, path + [extra], beyond), (m, n))

    def test_given_a_leaf_that_is_not_in_the_tree_when_checked_with_a_real_path_then_it_fails(self):
        for (m, n), path in self.paths.items():
            stranger = vp.leaf_hash(b"not a leaf")
            self.assertFalse(vp.verify_inclusion(m, n, stranger, path, self.roots[n]), (m, n))

    def test_given_a_tree_of_n_leaves_when_paths_are_computed_then_they_follow_rfc_6962_and_the_longest_has_ceil_log2_n(self):
        for n in range(1, MAX_TREE + 1):
            lengths = [len(self.paths[(m, n)]) for m in range(n)]
            self.assertEqual(max(lengths), (n - 1).bit_length(), n)  # ceil(log2 n)
            for m in range(n):
                self.assertEqual(lengths[m], len(sides(m, n)), (m, n))


# --- Keys, signatures, canonical JSON and the chain ---------------------------------------------


class SignatureTests(OutputAssertions):
    def test_given_the_test_key_when_encoded_here_as_der_then_it_is_the_bytes_openssl_wrote(self):
        self.assertEqual(rsa_spki(TEST_N), OPENSSL_DER)

    def test_given_the_public_key_as_der_or_as_pem_when_loaded_then_both_give_its_modulus_and_exponent(self):
        self.assertEqual(vp.load_public_key(OPENSSL_DER), KEY)
        self.assertEqual(vp.load_public_key(pem(OPENSSL_DER)), KEY)
        self.assertEqual(vp.load_public_key(pem(OPENSSL_DER).replace(b"\n", b"\r\n")), KEY)
        self.assertEqual(KEY.size, 256)

    def test_given_a_pkcs1_rsa_public_key_pem_when_loaded_then_it_is_the_same_key(self):
        bare = der(0x30, der_integer(TEST_N) + der_integer(TEST_E))
        self.assertEqual(vp.load_public_key(pem(bare, "RSA PUBLIC KEY")), KEY)

    def test_given_a_signature_openssl_made_when_verified_then_it_passes_for_its_message_only(self):
        self.assertTrue(vp.verify_signature(KEY, OPENSSL_MESSAGE, OPENSSL_SIGNATURE))
        self.assertEqual(sign(OPENSSL_MESSAGE), OPENSSL_SIGNATURE)  # PKCS#1 v1.5 is deterministic
        self.assertFalse(vp.verify_signature(KEY, OPENSSL_MESSAGE + b" ", OPENSSL_SIGNATURE))
        other = vp.RsaPublicKey(OTHER_N, TEST_E)
        self.assertFalse(vp.verify_signature(other, OPENSSL_MESSAGE, OPENSSL_SIGNATURE))

    def test_given_a_signature_of_the_wrong_length_when_verified_then_it_is_rejected(self):
        # A signature whose first byte is 0 (found once by trying b"m0", b"m1", ...): the same
        # integer in 255 bytes is still refused.
        message = b"m271"
        signature = sign(message)
        self.assertEqual(signature[0], 0)
        self.assertTrue(vp.verify_signature(KEY, message, signature))
        self.assertFalse(vp.verify_signature(KEY, message, signature[1:]))
        self.assertFalse(vp.verify_signature(KEY, message, b"\x00" + signature))
        self.assertFalse(vp.verify_signature(KEY, message, b""))

    def test_given_a_signature_whose_integer_is_not_below_the_modulus_when_verified_then_it_is_rejected(self):
        # s + n is congruent to s, so (s + n)^e mod n matches: only the range check refuses it.
        message = next(m for m in (b"m%d" % i for i in range(5000))
                       if int.from_bytes(sign(m), "big") + TEST_N < 1 << 2048)
        s = int.from_bytes(sign(message), "big")
        self.assertTrue(vp.verify_signature(KEY, message, s.to_bytes(256, "big")))
        self.assertFalse(vp.verify_signature(KEY, message, (s + TEST_N).to_bytes(256, "big")))
        self.assertFalse(vp.verify_signature(KEY, message, TEST_N.to_bytes(256, "big")))

    def test_given_a_signature_over_a_digest_info_without_its_null_when_verified_then_it_is_rejected(self):
        lenient = sign(b"m", digest_info=SHA256_DIGEST_INFO_NO_NULL)
        self.assertFalse(vp.verify_signature(KEY, b"m", lenient))

    def test_given_the_event_stores_own_examples_when_written_canonically_then_the_bytes_match(self):
        # adapters/event-store/src/chain.rs's tests of the same rule.
        value = {"b": 1, "a": {"d": [3, {"f": "x", "e": None}], "c": True}}
        self.assertEqual(vp.canonical_json(value),
                         b'{"a":{"c":true,"d":[3,{"e":null,"f":"x"}]},"b":1}')
        self.assertEqual(vp.canonical_json({'k"': "a\nb"}), b'{"k\\"":"a\\nb"}')
        self.assertEqual(vp.canonical_json({"t": "é🚲\x01"}), '{"t":"é🚲\\u0001"}'.encode())

    def test_given_an_envelope_when_chained_then_the_hash_covers_previous_newline_and_bytes(self):
        self.assertEqual(vp.chain_hash(GENESIS, b"{}"),
                         hashlib.sha256(b"0" * 64 + b"\n{}").hexdigest())
        for stream in LOG.streams():
            head = GENESIS
            for text, expected in zip(LOG.texts[stream], LOG.hashes[stream]):
                head = vp.chain_hash(head, text.encode())
                self.assertEqual(head, expected)


# --- Valid proofs and the previous digest ------------------------------------------------------


class ValidProofTests(OutputAssertions):
    def test_given_a_valid_proof_when_verified_then_it_passes(self):
        result = vp.verify(DIGEST, PROOF, KEY)
        self.assertEqual((result.aggregate_type, result.aggregate_id), AUCTION_A)
        self.assertEqual(result.version, 3)
        self.assertEqual(result.head_version, 6)
        self.assertEqual(result.head, LOG.hashes[AUCTION_A][-1])
        self.assertEqual((result.sequence, result.tree_size), (7, 5))

    def test_given_a_valid_proof_of_every_version_of_every_stream_when_verified_then_each_passes(self):
        for stream in LOG.streams():
            for version in range(1, len(LOG.envelopes[stream]) + 1):
                proof = make_proof(LOG, stream, version, DIGEST)
                self.assertEqual(vp.verify(DIGEST, proof, KEY).head_version,
                                 len(LOG.envelopes[stream]))
        self.assertEqual(vp.verify(DIGEST, PROOF, OPENSSL_DER).version, 3)  # a key as bytes

    def test_given_a_valid_proof_when_the_cli_runs_with_a_pem_key_then_it_exits_0_with_one_ok_line(self):
        text = self.assert_one_line(run(key=pem(rsa_spki(TEST_N))), 0, "OK: ")
        self.assertEqual(text, f"OK: Auction {AUCTION_A[1]} version 3 is in digest 7 (5 streams, "
                               "signed 2026-12-05T17:00:00.000Z), chained to its head at version "
                               "6\n")

    def test_given_a_valid_proof_when_the_cli_runs_with_a_der_key_then_it_exits_0_with_one_ok_line(self):
        self.assert_one_line(run(key=OPENSSL_DER), 0, "OK: ", "version 3 is in digest 7")
        self.assert_one_line(run(key=OPENSSL_DER, direct=True), 0, "OK: ")  # as ./verify_proof.py

    def test_given_the_previous_digest_when_the_cli_checks_the_link_then_it_passes(self):
        self.assertEqual(vp.verify(DIGEST, PROOF, KEY, PREVIOUS).sequence, 7)
        self.assert_one_line(run(previous=PREVIOUS), 0, "OK: ")
        # The earlier digest proves the earlier log too.
        self.assertEqual(vp.verify(PREVIOUS, make_proof(EARLIER, AUCTION_A, 2, PREVIOUS),
                                   KEY).head_version, 4)

    def test_given_another_digest_of_the_previous_sequence_when_the_link_is_checked_then_it_fails(self):
        fork = make_digest(LOG.leaves(), 6, PREVIOUS["digest"]["previous"])
        self.assert_fails("previous digest link", previous=fork)

    def test_given_a_previous_digest_of_the_wrong_sequence_when_the_link_is_checked_then_it_fails(self):
        older = make_digest(EARLIER.leaves(), 5, hashlib.sha256(b"digest 4").hexdigest())
        link = hashlib.sha256(canonical(older["digest"])).hexdigest()
        linked = make_digest(LOG.leaves(), 7, link)
        self.assert_fails("previous digest link", digest=linked, previous=older)

    def test_given_a_previous_digest_with_a_bad_signature_when_the_link_is_checked_then_it_fails(self):
        forged = copy.deepcopy(PREVIOUS)  # the signed bytes, so the hash link, are untouched
        forged["signature"] = base64.b64encode(sign(b"something else")).decode()
        self.assert_fails("previous digest link", previous=forged)

    def test_given_the_digest_itself_as_its_previous_when_the_link_is_checked_then_it_fails(self):
        self.assert_fails("previous digest link", previous=DIGEST)


# --- Tampering ----------------------------------------------------------------------------------


def edited(**fields):
    proof = copy.deepcopy(PROOF)
    proof.update(fields)
    return proof


ROOT_MISSED = "audit path does not lead to the root"


class TamperTests(OutputAssertions):
    def test_given_an_envelope_whose_amount_was_edited_when_verified_then_the_audit_path_does_not_lead_to_the_root(self):
        envelopes = list(PROOF["envelopes"])
        changed = json.loads(envelopes[1])
        changed["payload"]["amount"]["amountMinor"] = 150
        envelopes[1] = canonical(changed).decode()
        self.assert_fails(ROOT_MISSED, proof=edited(envelopes=envelopes))

    def test_given_an_edited_previous_hash_when_verified_then_the_audit_path_does_not_lead_to_the_root(self):
        self.assert_fails(ROOT_MISSED, proof=edited(previous=LOG.hashes[AUCTION_A][0]))

    def test_given_two_envelopes_swapped_when_verified_then_one_is_not_the_next_version(self):
        e = PROOF["envelopes"]
        self.assert_fails("envelope 2 is version 5, not the next version (4)",
                          proof=edited(envelopes=[e[0], e[2], e[1], e[3]]))

    def test_given_the_first_envelope_swapped_with_the_second_when_verified_then_it_is_not_the_proofs_version(self):
        e = PROOF["envelopes"]
        self.assert_fails("envelope 1 is version 4, not the proof's version (3)",
                          proof=edited(envelopes=[e[1], e[0], e[2], e[3]]))

    def test_given_an_envelope_removed_from_the_middle_when_verified_then_the_next_is_not_the_next_version(self):
        e = PROOF["envelopes"]
        self.assert_fails("envelope 2 is version 5, not the next version (4)",
                          proof=edited(envelopes=[e[0], e[2], e[3]]))

    def test_given_the_last_envelope_removed_when_verified_then_the_chain_ends_early_and_misses_the_root(self):
        self.assert_fails(ROOT_MISSED, proof=edited(envelopes=PROOF["envelopes"][:-1]))

    def test_given_an_envelope_of_another_stream_when_verified_then_it_is_named_as_another_streams(self):
        envelopes = list(PROOF["envelopes"])
        envelopes[1] = LOG.texts[AUCTION_B][3]  # auction B's version 4: the right version
        self.assert_fails(f"envelope 2 belongs to another stream (Auction {AUCTION_B[1]})",
                          proof=edited(envelopes=envelopes))

    def test_given_a_wrong_leaf_index_when_verified_then_the_audit_path_does_not_lead_to_the_root(self):
        for index in {PROOF["leafIndex"] + 1, PROOF["leafIndex"] - 1} & set(range(5)):
            self.assert_fails(ROOT_MISSED, proof=edited(leafIndex=index))

    def test_given_a_leaf_index_beyond_the_tree_when_verified_then_the_leaf_index_check_fails(self):
        self.assert_fails("leaf index: 5 is not in a tree of 5 leaves", proof=edited(leafIndex=5))

    def test_given_a_wrong_tree_size_when_verified_then_the_tree_size_check_fails(self):
        self.assert_fails("tree size", proof=edited(treeSize=6))
        self.assert_fails("tree size", proof=edited(treeSize=4))

    def test_given_a_proof_for_another_digest_when_verified_then_the_sequence_check_fails(self):
        self.assert_fails("sequence: the proof is for digest 8",
                          proof=edited(digest={"sequence": 8, "key": "digests/000000000008.json"}))

    def test_given_a_flipped_audit_path_element_when_verified_then_the_audit_path_does_not_lead_to_the_root(self):
        for i, element in enumerate(PROOF["auditPath"]):
            path = list(PROOF["auditPath"])
            path[i] = flip_hex(element, at=7)
            with self.assertRaises(vp.ProofFailed) as caught:
                vp.verify(DIGEST, edited(auditPath=path), KEY)
            self.assertIn(ROOT_MISSED, caught.exception.reason)
        path = list(PROOF["auditPath"])
        path[-1] = flip_hex(path[-1])
        self.assert_fails(ROOT_MISSED, proof=edited(auditPath=path))

    def test_given_a_digest_whose_root_was_edited_when_verified_then_the_signature_fails(self):
        digest = copy.deepcopy(DIGEST)
        digest["digest"]["root"] = flip_hex(digest["digest"]["root"], at=63)
        self.assert_fails("signature", digest=digest)

    def test_given_a_digest_whose_tree_size_was_edited_to_match_the_proof_when_verified_then_the_signature_fails(self):
        digest = copy.deepcopy(DIGEST)
        digest["digest"]["treeSize"] = 6
        self.assert_fails("signature", digest=digest, proof=edited(treeSize=6))

    def test_given_a_flipped_signature_when_verified_then_the_signature_fails(self):
        signature = bytearray(base64.b64decode(DIGEST["signature"]))
        signature[100] ^= 0x10
        digest = dict(DIGEST, signature=base64.b64encode(bytes(signature)).decode())
        self.assert_fails("signature", digest=digest)

    def test_given_a_truncated_signature_when_verified_then_the_signature_fails(self):
        signature = base64.b64decode(DIGEST["signature"])[:-1]
        digest = dict(DIGEST, signature=base64.b64encode(signature).decode())
        self.assert_fails("signature: the digest's signature is 255 bytes", digest=digest)

    def test_given_another_public_key_when_verified_then_the_signature_fails(self):
        self.assert_fails("signature", n=OTHER_N)

    def test_given_a_stream_rewritten_with_a_recomputed_chain_when_verified_then_its_head_does_not_match_the_anchored_leaf(self):
        rewritten = Log(HISTORIES)
        envelopes = copy.deepcopy(rewritten.envelopes[AUCTION_A])
        envelopes[3]["payload"]["amount"]["amountMinor"] = 1450  # version 4, chained again
        rewritten.reseal(AUCTION_A, envelopes)
        proof = make_proof(rewritten, AUCTION_A, 3, DIGEST)
        self.assertEqual(proof["auditPath"], PROOF["auditPath"])  # the other leaves are intact
        head = GENESIS if proof["version"] == 1 else proof["previous"]
        for text in proof["envelopes"]:  # and its own chain is consistent
            head = chain(head, text)
        self.assertEqual(head, rewritten.hashes[AUCTION_A][-1])
        self.assertNotEqual(head, LOG.hashes[AUCTION_A][-1])
        self.assert_fails("chain head does not match", proof=proof)
        self.assert_fails(ROOT_MISSED, proof=proof)

    def test_given_a_first_version_proof_not_chained_from_zeros_when_verified_then_the_previous_check_fails(self):
        proof = make_proof(LOG, AUCTION_B, 1, DIGEST)
        vp.verify(DIGEST, proof, KEY)
        proof["previous"] = flip_hex(GENESIS)
        self.assert_fails("previous: version 1 chains from 64 0s", proof=proof)


# --- Bad input ----------------------------------------------------------------------------------


def without(obj, *path):
    obj = copy.deepcopy(obj)
    target = obj
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return obj


def replaced(obj, value, *path):
    obj = copy.deepcopy(obj)
    target = obj
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return obj


class BadInputTests(OutputAssertions):
    def assert_rejected(self, phrase, digest=DIGEST, proof=PROOF, previous=None):
        with self.assertRaises(vp.BadInput) as caught:
            vp.verify(digest, proof, KEY, previous)
        self.assertIn(phrase, caught.exception.reason)

    def test_given_malformed_json_when_the_cli_runs_then_it_exits_2_with_one_line(self):
        self.assert_bad_input(run(digest=b'{"digest": {'), "the digest")
        self.assert_bad_input(run(proof=b'{"format": "auction-log-proof/1",}'), "the proof")
        self.assert_bad_input(run(previous=b"not json"), "the previous digest")

    def test_given_a_missing_field_when_verified_then_it_is_bad_input_naming_the_field(self):
        for field in PROOF:
            self.assert_rejected(repr(field), proof=without(PROOF, field))
        self.assert_rejected("'sequence'", proof=without(PROOF, "digest", "sequence"))
        for field in DIGEST["digest"]:
            self.assert_rejected(repr(field), digest=without(DIGEST, "digest", field))
        self.assert_rejected("'signature'", digest=without(DIGEST, "signature"))
        self.assert_rejected("'version'", proof=edited(envelopes=[
            canonical(without(LOG.envelopes[AUCTION_A][2], "version")).decode()]))
        self.assert_bad_input(run(proof=without(PROOF, "auditPath")), "'auditPath'")

    def test_given_json_with_floats_constants_or_duplicate_keys_when_parsed_then_it_is_bad_input(self):
        for text in (b'{"a": 1.5}', b'{"a": 1e3}', b'{"a": NaN}', b'{"a": -Infinity}',
                     b'{"a": 1, "a": 1}', b'{"a": {"b": 1, "b": 2}}', b"\xef\xbb\xbf{}"):
            with self.subTest(text):
                with self.assertRaises(vp.BadInput):
                    vp.parse_json(text, "the input")
        self.assertEqual(vp.parse_json(b'{"a": [1, -2, "\\u00e9"]}', "x"), {"a": [1, -2, "é"]})

    def test_given_a_version_as_a_string_when_the_cli_runs_then_it_is_bad_input(self):
        self.assert_bad_input(run(proof=edited(version="3")), "'version' in the proof must be an integer")
        self.assert_rejected("must be an integer, not a boolean", proof=edited(version=True))
        self.assert_rejected("'treeSize' in the digest's signed part must be an integer",
                             digest=replaced(DIGEST, "5", "digest", "treeSize"))
        self.assert_rejected("'version' in the proof must be at least 1", proof=edited(version=0))
        self.assert_rejected("must be an array", proof=edited(auditPath="00"))

    def test_given_a_hash_that_is_not_64_lowercase_hex_digits_when_the_cli_runs_then_it_is_bad_input(self):
        self.assert_bad_input(run(proof=edited(previous="zz" * 32)), "'previous' in the proof must be a hash")
        self.assert_rejected("auditPath[0]", proof=edited(auditPath=["ab" * 31]))
        self.assert_rejected("auditPath[1]",
                             proof=edited(auditPath=[PROOF["auditPath"][0], "AB" * 32]))
        self.assert_rejected("'root' in the digest's signed part must be a hash",
                             digest=replaced(DIGEST, "0x" + "0" * 62, "digest", "root"))

    def test_given_a_key_that_is_not_rsa_when_the_cli_runs_then_it_is_bad_input(self):
        self.assert_bad_input(run(key=EC_PEM), "not an RSA public key: the key is EC")

    def test_given_a_garbage_or_private_or_small_key_file_when_the_cli_runs_then_it_is_bad_input(self):
        self.assert_bad_input(run(key=b"\x30\x82\xff\xff garbage"), "not an RSA public key")
        self.assert_bad_input(run(key=b""), "not an RSA public key")
        self.assert_bad_input(run(key=b"hello, I am a key"), "not an RSA public key")
        self.assert_bad_input(run(key=pem(b"\x00\x01", "PRIVATE KEY")), "private key")
        self.assert_bad_input(run(key=pem(OPENSSL_DER)[:-30]), "no matching END")
        self.assert_bad_input(run(key=OPENSSL_DER + b"\x00"), "not an RSA public key")
        small = (1 << 1023) | 1
        self.assert_bad_input(run(key=rsa_spki(small)), "1024-bit modulus")

    def test_given_a_missing_file_when_the_cli_runs_then_it_is_bad_input(self):
        missing = os.path.join(_FILES.name, "no-such-file.json")
        key = write(OPENSSL_DER, "key.der")
        proof = write(PROOF, "proof.json")
        self.assert_bad_input(cli("--digest", missing, "--proof", proof, "--public-key", key),
                              "cannot read the digest")
        self.assert_bad_input(cli("--digest", proof, "--proof", proof, "--public-key", missing),
                              "cannot read the public key")
        self.assert_bad_input(cli("--digest", _FILES.name, "--proof", proof, "--public-key", key),
                              "cannot read the digest")

    def test_given_missing_or_unknown_arguments_when_the_cli_runs_then_it_is_one_bad_input_line(self):
        self.assert_bad_input(cli(), "required")
        self.assert_bad_input(cli("--digest", "d", "--proof", "p", "--public-key", "k", "--x"))

    def test_given_hostile_inputs_when_the_cli_runs_then_each_is_one_bad_input_line_and_never_a_traceback(self):
        proof_text = json.dumps(PROOF)
        version = '"version": 3'
        surrogate = PROOF["envelopes"][0].replace('"eventType":"', '"eventType":"\ud800')
        bad_input = {
            "an empty file": dict(proof=b""),
            "a JSON array": dict(digest=b"[]"),
            "a float": dict(proof=proof_text.replace(version, '"version": 3.0').encode()),
            "NaN": dict(proof=proof_text.replace(version, '"version": NaN').encode()),
            "a duplicate key": dict(proof=proof_text.replace(version, version + ", " + version)
                                    .encode()),
            "deep nesting": dict(proof=b"[" * 100000 + b"]" * 100000),
            "invalid UTF-8": dict(proof=b'{"format": "\xff"}'),
            "a lone surrogate in an envelope": dict(proof=edited(envelopes=[surrogate])),
            "a huge integer": dict(proof=proof_text.replace(version, '"version": ' + "9" * 5000)
                                   .encode()),
            "a signature not in base64": dict(digest=dict(DIGEST, signature="!!")),
            "an envelope not a string": dict(proof=edited(envelopes=[{"version": 3}])),
            "an envelope not JSON": dict(proof=edited(envelopes=["{not json"])),
            "an envelope an array": dict(proof=edited(envelopes=["[]"])),
            "no envelopes": dict(proof=edited(envelopes=[])),
            "another proof format": dict(proof=edited(format="auction-log-proof/2")),
            "another algorithm": dict(digest=replaced(DIGEST, "ECDSA_SHA_256", "digest",
                                                      "algorithm")),
            "a digest that is an array": dict(digest=replaced(DIGEST, [], "digest")),
        }
        with ThreadPoolExecutor(4) as pool:  # processes, each in its own files: in parallel
            results = dict(zip(bad_input, pool.map(lambda files: run(**files), bad_input.values())))
        for name, result in results.items():
            with self.subTest(name):
                self.assert_bad_input(result)
        # Well-formed, but naming a stream its envelopes are not of: one escaped line.
        for name in ("\ud800", "\x1b[31m\nline\u2028"):
            with self.subTest(name):
                text = self.assert_one_line(run(proof=edited(aggregateType=name)), 1, "FAILED: ",
                                            "another stream")
                self.assertNotIn("\x1b", text)

    def test_given_random_corruptions_when_verified_then_only_bad_input_or_proof_failed_is_raised(self):
        rng = random.Random(6962)
        texts = {"digest": json.dumps(DIGEST).encode(), "proof": json.dumps(PROOF).encode(),
                 "key": OPENSSL_DER}
        outcomes = {"ok": 0, "failed": 0, "bad": 0}
        for _ in range(600):
            which = rng.choice(list(texts))
            data = bytearray(texts[which])
            for _ in range(rng.randint(1, 3)):
                at = rng.randrange(len(data))
                data[at] = rng.choice([rng.randrange(256), ord("0"), ord("a"), ord('"')])
            files = dict(texts, **{which: bytes(data)})
            try:
                key = vp.load_public_key(files["key"])
                vp.verify(vp.parse_json(files["digest"], "digest"),
                          vp.parse_json(files["proof"], "proof"), key)
                outcomes["ok"] += 1
            except vp.ProofFailed:
                outcomes["failed"] += 1
            except vp.BadInput:
                outcomes["bad"] += 1
        self.assertGreater(outcomes["failed"], 50, outcomes)
        self.assertGreater(outcomes["bad"], 50, outcomes)


class IndependenceTests(unittest.TestCase):
    def test_given_the_verifier_when_its_imports_are_read_then_they_are_all_the_standard_library(self):
        with open(SCRIPT, encoding="utf-8") as file:
            tree = ast.parse(file.read())
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                self.assertEqual(node.level, 0)
                imported.add(node.module.split(".")[0])
        self.assertEqual(imported - sys.stdlib_module_names, set())

    def test_given_the_verifier_when_listed_then_it_is_an_executable_python_3_script(self):
        with open(SCRIPT, "rb") as file:
            self.assertEqual(file.readline(), b"#!/usr/bin/env python3\n")
        self.assertTrue(os.access(SCRIPT, os.X_OK))


if __name__ == "__main__":
    unittest.main()
