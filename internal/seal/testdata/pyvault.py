#!/usr/bin/env python3
"""Reference for package seal, written independently of the Go code.

python_service_encrypt/decrypt do what the Python Auth Manager service does to
a token (AES-256-CBC, PKCS7, random IV, hex columns); reference_mac is the v1
MAC of package seal, built from its specification only.

  pyvault.py gen KEYHEX < plaintexts.json > python_vectors.json
      seal each plaintext the Python service's way (and add the v1 MAC for an
      identity), so Go tests can check both without Python at run time.
  pyvault.py check KEYHEX < go_sealed.json
      decrypt Go-sealed rows the Python service's way and verify their MAC.

Needs the `cryptography` package (pip install cryptography).
"""
import hashlib
import hmac
import json
import os
import sys

from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def python_service_encrypt(token: str, key: bytes, iv: bytes = None):
    iv = iv or os.urandom(16)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(token.encode("utf-8")) + padder.finalize()
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    ct = enc.update(padded) + enc.finalize()
    return ct.hex(), iv.hex()


def python_service_decrypt(ct_hex: str, iv_hex: str, key: bytes) -> str:
    dec = Cipher(algorithms.AES(key), modes.CBC(bytes.fromhex(iv_hex))).decryptor()
    padded = dec.update(bytes.fromhex(ct_hex)) + dec.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return (unpadder.update(padded) + unpadder.finalize()).decode("utf-8")


def hkdf(key: bytes, info: bytes, n: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=n, salt=None, info=info).derive(key)


def key_id(key: bytes) -> str:
    return hkdf(key, b"auth-manager/vault/key-id/v1", 8).hex()


def field(b: bytes) -> bytes:
    return len(b).to_bytes(8, "big") + b


def reference_mac(key: bytes, ct_hex, iv_hex, row_id, user_id, token_type) -> str:
    kid = key_id(key)
    msg = bytes([1]) + b"".join(field(x) for x in (
        kid.encode(), bytes.fromhex(iv_hex), bytes.fromhex(ct_hex),
        row_id.encode(), user_id.encode(), token_type.encode()))
    tag = hmac.new(hkdf(key, b"auth-manager/vault/mac/v1", 32), msg, hashlib.sha256).digest()
    return (bytes([1]) + tag).hex()


def gen(key: bytes):
    out = []
    for i, pt in enumerate(json.load(sys.stdin)):
        ct, iv = python_service_encrypt(pt, key)
        ident = {"row_id": f"00000000-0000-4000-8000-{i:012d}",
                 "user_id": "5f8d1c2a-3b4e-4f60-8a71-92b3c4d5e6f7",
                 "token_type": "OFFLINE" if i % 2 else "REFRESH"}
        out.append({"plaintext": pt, "encrypted_token": ct, "iv": iv,
                    "token_hash": hashlib.sha256(pt.encode("utf-8")).hexdigest(),
                    **ident, "key_id": key_id(key),
                    "mac": reference_mac(key, ct, iv, **ident)})
    json.dump(out, sys.stdout, indent=1, ensure_ascii=False)
    print()


def check(key: bytes):
    rows = json.load(sys.stdin)
    for r in rows:
        assert python_service_decrypt(r["encrypted_token"], r["iv"], key) == r["plaintext"], r["row_id"]
        assert r["key_id"] == key_id(key), r["row_id"]
        want = reference_mac(key, r["encrypted_token"], r["iv"], r["row_id"], r["user_id"], r["token_type"])
        assert hmac.compare_digest(r["mac"], want), r["row_id"]
    print(f"{len(rows)} rows: Python decrypts every Go-sealed token, key ids and MACs match the reference")


if __name__ == "__main__":
    {"gen": gen, "check": check}[sys.argv[1]](bytes.fromhex(sys.argv[2]))
