#!/usr/bin/env python3
"""Encrypts (or decrypts) a file system image as dm-crypt's aes-xts-plain64 would inside a LUKS payload.

Usage: xts-encrypt.py encrypt|decrypt KEYFILE INPUT OUTPUT [SECTOR_SIZE]
The key file holds the raw volume key (64 bytes: AES-256-XTS, or 32 bytes: AES-128-XTS). Each sector is
encrypted on its own with the tweak = its number counted from the start of the payload (plain64: the number as
a little-endian 64-bit integer, zero-padded to 16 bytes). With a sector size above 512, the IV still counts
512-byte sectors (cryptsetup's default, no iv_large_sectors). cryptsetup open needs device-mapper, which build
machines do not have, so the fixtures are written with this independent implementation instead.
"""
import sys

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def main():
    if len(sys.argv) not in (5, 6) or sys.argv[1] not in ("encrypt", "decrypt"):
        sys.exit(__doc__)
    direction, key_path, in_path, out_path = sys.argv[1:5]
    sector = int(sys.argv[5]) if len(sys.argv) == 6 else 512
    key = open(key_path, "rb").read()
    if len(key) not in (32, 64):
        sys.exit(f"xts-encrypt: the volume key is {len(key)} bytes; XTS needs 32 or 64")
    data = open(in_path, "rb").read()
    if len(data) % sector:
        sys.exit(f"xts-encrypt: {in_path} is not a whole number of {sector}-byte sectors")
    out = bytearray()
    for i in range(0, len(data), sector):
        tweak = (i // 512).to_bytes(16, "little")
        cipher = Cipher(algorithms.AES(key), modes.XTS(tweak))
        op = cipher.encryptor() if direction == "encrypt" else cipher.decryptor()
        out += op.update(data[i:i + sector]) + op.finalize()
    open(out_path, "wb").write(out)


if __name__ == "__main__":
    main()
