"""An independent verifier of Sotto proof files, written from docs/proof-format.md alone (not
from Sotto's code), with the `cryptography` package and a small CBOR reader. The end-to-end tests
run it against proofs `sotto history proof` writes, to show the spec is precise enough.

usage: python proof_verifier.py FILE.json   → prints one verdict per exchange; exit 0 / 3
"""
import base64
import datetime
import hashlib
import json
import struct
import sys

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

AWS_ROOT_SHA256 = "641A0321A3E244EFE456463195D606317ED7CDCC3C1756E09893F3C68F79BB5B"


class Failed(Exception):
    pass


def cbor(data, at=0):
    """Decodes one CBOR item; returns (value, next offset)."""
    head = data[at]
    major, info = head >> 5, head & 31
    at += 1
    if info < 24:
        arg = info
    elif info in (24, 25, 26, 27):
        size = 1 << (info - 24)
        arg = int.from_bytes(data[at:at + size], "big")
        at += size
    else:
        raise Failed("indefinite or reserved CBOR lengths are not used here")
    if major == 0:
        return arg, at
    if major == 1:
        return -1 - arg, at
    if major in (2, 3):
        raw = data[at:at + arg]
        return (bytes(raw) if major == 2 else raw.decode()), at + arg
    if major == 4:
        items = []
        for _ in range(arg):
            item, at = cbor(data, at)
            items.append(item)
        return items, at
    if major == 5:
        out = {}
        for _ in range(arg):
            key, at = cbor(data, at)
            if key in out:
                raise Failed("duplicate CBOR map key")
            out[key], at = cbor(data, at)
        return out, at
    if major == 6:
        return cbor(data, at)  # the tag (18, COSE_Sign1) carries no meaning here
    if major == 7:
        return {20: False, 21: True, 22: None}.get(info), at
    raise Failed("unknown CBOR item")


def cbor_bytes_head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    if n < 256:
        return bytes([major << 5 | 24, n])
    if n < 65536:
        return bytes([major << 5 | 25]) + struct.pack(">H", n)
    return bytes([major << 5 | 26]) + struct.pack(">I", n)


def check_attestation(att):
    bundle = json.loads(base64.b64decode(att["bundle"]))
    document = base64.b64decode(bundle["document"])
    key_config = base64.b64decode(bundle["ohttp_key_config"])
    receipt_key = base64.b64decode(bundle["receipt_public_key"])
    root_der = base64.b64decode(att["trust_root"])
    checked_at = datetime.datetime.fromtimestamp(att["checked_at_ms"] / 1000, datetime.timezone.utc)
    if not att["expected_pcrs"]:
        raise Failed("no expected measurements")

    sign1, _ = cbor(document)
    protected_raw, _unprotected, payload, signature = sign1
    protected, _ = cbor(protected_raw)
    if protected.get(1) != -35:
        raise Failed("the COSE algorithm is not ES384")
    doc, _ = cbor(payload)

    # The chain: cabundle[0] is the trusted root, then the intermediates, then the leaf.
    if not doc["cabundle"] or doc["cabundle"][0] != root_der:
        raise Failed("the document does not name the trusted root")
    chain = [x509.load_der_x509_certificate(c) for c in doc["cabundle"]] + [x509.load_der_x509_certificate(doc["certificate"])]
    for parent, child in zip(chain, chain[1:]):
        try:
            parent.public_key().verify(child.signature, child.tbs_certificate_bytes, ec.ECDSA(child.signature_hash_algorithm))
        except InvalidSignature:
            raise Failed("the certificate chain does not verify")
    for cert in chain[1:]:
        if not cert.not_valid_before_utc <= checked_at <= cert.not_valid_after_utc:
            raise Failed("a certificate was not valid at the time of the check")

    # The COSE signature: over ["Signature1", protected, b"", payload], raw r ‖ s.
    sig_structure = (
        cbor_bytes_head(4, 4) + cbor_bytes_head(3, 10) + b"Signature1"
        + cbor_bytes_head(2, len(protected_raw)) + protected_raw
        + cbor_bytes_head(2, 0)
        + cbor_bytes_head(2, len(payload)) + payload
    )
    if len(signature) != 96:
        raise Failed("the COSE signature is not 96 bytes")
    der = encode_dss_signature(int.from_bytes(signature[:48], "big"), int.from_bytes(signature[48:], "big"))
    try:
        chain[-1].public_key().verify(der, sig_structure, ec.ECDSA(hashes.SHA384()))
    except InvalidSignature:
        raise Failed("the attestation document's signature does not verify")

    for index, expected in att["expected_pcrs"].items():
        if doc["pcrs"].get(int(index), b"").hex() != expected.lower():
            raise Failed(f"PCR{index} is not the expected value")
    if doc.get("nonce") != bytes.fromhex(att["nonce"]):
        raise Failed("the nonce differs")
    age_ms = att["checked_at_ms"] - doc["timestamp"]
    if age_ms < -5000 or age_ms > att["max_document_age_s"] * 1000:
        raise Failed("the document's age is out of bounds")
    if doc.get("user_data") != hashlib.sha256(key_config).digest() + hashlib.sha256(receipt_key).digest():
        raise Failed("the document does not bind the receipt key")
    hardware = hashlib.sha256(root_der).hexdigest().upper() == AWS_ROOT_SHA256
    return receipt_key, hardware


def check_receipt(ex, receipt_key):
    r = ex["receipt"]
    if r["version"] != 2 or r.get("scheme"):
        raise Failed("not a Sotto v2 receipt")
    key_id = hashlib.sha256(receipt_key).digest()[:8]
    if r["key_id"] != key_id.hex():
        raise Failed("the receipt names another key")
    model = r["model"].encode()
    message = (
        b"sotto-receipt-v2\0" + struct.pack(">H", r["status"]) + bytes.fromhex(r["request_hash"]) + bytes.fromhex(r["output_hash"])
        + struct.pack(">QQ", r["timestamp_ms"], r["chunks"]) + key_id + struct.pack(">H", len(model)) + model
    )
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(receipt_key).verify(base64.b64decode(r["signature"]), message)
    except InvalidSignature:
        raise Failed("the receipt's signature does not verify")
    if r["status"] != ex["reply_status"] or ex["reply_status"] != 200:
        raise Failed("the status differs, or is not a reply")
    if r["request_hash"] != ex["request_sha256"] or r["output_hash"] != ex["reply_sha256"]:
        raise Failed("the receipt covers another exchange")
    for field, digest in (("request", "request_sha256"), ("reply", "reply_sha256")):
        if field in ex and hashlib.sha256(base64.b64decode(ex[field])).hexdigest() != ex[digest]:
            raise Failed(f"the {field}'s bytes do not match its hash")


def main(path):
    proof = json.load(open(path))
    if proof.get("format") != "sotto-proof" or proof.get("version") != 1 or not proof.get("exchanges"):
        print("failed: not a sotto-proof version 1 file")
        return 3
    failures = 0
    for ex in proof["exchanges"]:
        try:
            receipt_key, hardware = check_attestation(ex["attestation"])
            check_receipt(ex, receipt_key)
            print(f"message {ex['message']}: verified ({'hardware-protected' if hardware else 'development enclave'})")
        except (Failed, KeyError, ValueError, TypeError, IndexError) as e:
            failures += 1
            print(f"message {ex.get('message')}: failed: {e}")
    return 3 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
