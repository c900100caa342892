#!/usr/bin/env python3
"""Encrypts an image as dm-crypt does, with python's cryptography package (never with bootscript's code).

Usage: encrypt.py xts|cbc-essiv KEYFILE INPUT OUTPUT [SECTOR_SIZE]
xts:       aes-xts-plain64, the IV is the sector number as a little-endian 128-bit tweak (32/64-byte keys).
cbc-essiv: aes-cbc-essiv:sha256, IV = AES-ECB under SHA-256(key) of the sector number (16/32-byte keys).
Each sector is encrypted on its own; with SECTOR_SIZE above 512 the IV still counts 512-byte units, as
dm-crypt does without iv_large_sectors (cryptsetup's LUKS2 default).
"""
import hashlib
import sys

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def main():
    if len(sys.argv) not in (5, 6) or sys.argv[1] not in ("xts", "cbc-essiv"):
        sys.exit(__doc__)
    mode, key_path, in_path, out_path = sys.argv[1:5]
    sector = int(sys.argv[5]) if len(sys.argv) == 6 else 512
    key = open(key_path, "rb").read()
    data = open(in_path, "rb").read()
    if len(data) % sector:
        sys.exit(f"encrypt.py: {in_path} is not a whole number of {sector}-byte sectors")
    essiv = Cipher(algorithms.AES(hashlib.sha256(key).digest()), modes.ECB()).encryptor()
    out = bytearray()
    for i in range(0, len(data), sector):
        number = (i // 512).to_bytes(16, "little")
        if mode == "xts":
            cipher = Cipher(algorithms.AES(key), modes.XTS(number))
        else:
            cipher = Cipher(algorithms.AES(key), modes.CBC(essiv.update(number)))
        op = cipher.encryptor()
        out += op.update(data[i:i + sector]) + op.finalize()
    open(out_path, "wb").write(out)


if __name__ == "__main__":
    main()
