"""OpenGradient's own Python client code as the peer of Sotto's tests.

Loads `tee_ohttp.py`, `tee_verify.py` and `tee_ohttp_client.py` from the installed
`opengradient` wheel by path (importing the package itself pulls in web3 and much more), and
runs one command, reading JSON on stdin and writing JSON on stdout:

  canonical  [body, ...]                  -> [{"canonical": str, "request_hash": hex}, ...]
  chat       {"relay", "tee", "body", "stream"} -> the SDK's verified reply, or {"error"}
  sign       {"canonical", "output", "timestamp"} -> a receipt signed as the TEE gateway signs

Only the test harness uses this file; nothing of the SDK is copied into Sotto.
"""

import base64
import importlib.util
import json
import sys
import types

# Where the wheel is installed, found without running opengradient/__init__.py.
CLIENT_DIR = importlib.util.find_spec("opengradient").submodule_search_locations[0] + "/client"


def load_sdk():
    # A bare package for the three modules, so their relative imports resolve without running
    # opengradient/client/__init__.py. tee_registry's web3 import is stubbed: only its
    # TEEEndpoint dataclass is used here.
    web3 = types.ModuleType("web3")
    web3.Web3 = object
    sys.modules.setdefault("web3", web3)
    pkg = types.ModuleType("ogsdk")
    pkg.__path__ = [CLIENT_DIR]
    sys.modules["ogsdk"] = pkg
    mods = {}
    for name in ["_utils", "tee_ohttp", "tee_verify", "tee_registry", "tee_ohttp_client"]:
        spec = importlib.util.spec_from_file_location(f"ogsdk.{name}", f"{CLIENT_DIR}/{name}.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[f"ogsdk.{name}"] = mod
        spec.loader.exec_module(mod)
        mods[name] = mod
    return mods


def main():
    sdk = load_sdk()
    verify = sdk["tee_verify"]
    command = sys.argv[1]
    arg = json.load(sys.stdin)
    if command == "canonical":
        out = []
        for body in arg:
            try:
                _wire, canonical = verify.build_inner_request(body)
                raw = verify.canonical_request_bytes(canonical)
                from eth_hash.auto import keccak

                out.append({"canonical": raw.decode("utf-8"), "request_hash": keccak(raw).hex()})
            except verify.UnsupportedRequestError as exc:
                out.append({"error": str(exc)})
        print(json.dumps(out))
    elif command == "chat":
        registry = sdk["tee_registry"]
        client_mod = sdk["tee_ohttp_client"]
        t = arg["tee"]
        tee = registry.TEEEndpoint(
            tee_id=t["tee_id"],
            endpoint=t["endpoint"],
            tls_cert_der=b"",
            payment_address="",
            signing_public_key_der=bytes.fromhex(t["signing_key_der"]),
            ohttp_config=registry.OhttpConfig(
                key_id=t["key_id"], kem_id=0x20, kdf_id=1, aead_id=3,
                public_key=bytes.fromhex(t["ohttp_public_key"]), key_config=b"", registered_at=0,
            ),
            pcr_hash=t["pcr_hash"],
        )
        client = client_mod.OhttpRelayClient(
            arg["relay"].rstrip("/") + "/api/v1/chat/ohttp", tee,
            auth_headers=lambda: {"Authorization": "Bearer test-token"}, timeout=60,
        )
        try:
            if arg["stream"]:
                r = client.stream_chat_completion(arg["body"])
            else:
                r = client.chat_completion(arg["body"])
            print(json.dumps({"content": r.content, "tee_id": r.proof.tee_id, "request_hash": r.proof.request_hash,
                              "output_hash": r.proof.output_hash, "frames": len(r.stream_frames or [])}))
        except Exception as exc:  # the test reads the reason
            print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
    elif command == "sign":
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding, rsa
        from eth_hash.auto import keccak

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        req = keccak(verify.canonical_request_bytes(arg["canonical"]))
        out_hash = keccak(arg["output"].encode("utf-8"))
        msg = keccak(req + out_hash + int(arg["timestamp"]).to_bytes(32, "big"))
        sig = key.sign(msg, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
        pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        print(json.dumps({"signing_key_der": der.hex(), "tee_id": verify.tee_id_for_key(pem), "tee_signature": base64.b64encode(sig).decode(),
                          "tee_request_hash": req.hex(), "tee_output_hash": out_hash.hex(), "tee_timestamp": int(arg["timestamp"])}))
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main()
