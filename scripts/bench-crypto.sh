#!/usr/bin/env bash
# PBKDF2-HMAC-SHA1/-SHA256 iterations per second, ours against OpenSSL on this machine in the same run,
# and our AES-XTS decryption rate. "Iterations" are PBKDF2's iteration count for a 64-byte key (what a
# LUKS key slot with a 512-bit key asks), so both sides do the same work per iteration.
# Usage: scripts/bench-crypto.sh [seconds per measurement, default 1]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-1}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}

cargo build -q --release -p bootscript-crypto --example bench
ours=$("$CARGO_TARGET_DIR/release/examples/bench" "$seconds")

# OpenSSL's PBKDF2 through `openssl kdf`, timed around a run long enough to hide process start-up.
openssl_rate() {
  local digest=$1 iterations=$2 start end
  start=$(date +%s.%N)
  openssl kdf -keylen 64 -kdfopt "digest:$digest" -kdfopt pass:passphrase \
    -kdfopt salt:0123456789abcdef0123456789abcdef -kdfopt "iter:$iterations" PBKDF2 >/dev/null
  end=$(date +%s.%N)
  python3 -c "print(round($iterations / ($end - $start)))"
}

value() { sed -n "s/^$1 //p" <<<"$ours"; }

printf '%-28s %14s %14s %7s\n' "PBKDF2 (64-byte key)" "ours it/s" "OpenSSL it/s" "ratio"
for hash in sha1 sha256; do
  mine=$(value "pbkdf2_${hash}_iterations_per_second")
  # Size OpenSSL's run to about the same wall time as ours.
  iterations=$(python3 -c "print(max(100000, int($mine * $seconds / 3)))")
  theirs=$(openssl_rate "${hash^^}" "$iterations")
  ratio=$(python3 -c "print(f'{$mine / $theirs:.2f}')")
  printf '%-28s %14s %14s %6sx\n' "PBKDF2-HMAC-${hash^^}" "$mine" "$theirs" "$ratio"
done
echo "AES-NI in use: $(value aes_ni)"
echo "AES-256-XTS decrypt (512-byte sectors): $(value xts_aes256_decrypt_mb_per_second) MB/s"
echo "AES-128-XTS decrypt (512-byte sectors): $(value xts_aes128_decrypt_mb_per_second) MB/s"
