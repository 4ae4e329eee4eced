"""How fast is the offline health-code verifier next to the ES256 verification inside it?

The target is that the whole verifier (docs/design.md §6 checks up to lifetime) keeps at least
80% of the raw ``cryptography`` ES256 verify rate: the signature has to be paid for, everything
around it (Base45, CBOR, headers, claims) should be nearly free.

Both rates are per CPU second of one thread, measured in the same process, pinned to one core,
in short alternating rounds so that a noisy neighbour slows both alike. ``ratio`` compares the
best round of each (the least disturbed); ``ratio_median_of_pairs`` is the median over adjacent
(raw, verifier) round pairs.

    python bench/bench_verifier.py            # prints the figures and a JSON line
    from bench.bench_verifier import run      # returns them as a dict for `make bench`
"""

from __future__ import annotations

import json
import os
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from healthcodes.codec import (
    ES256,
    CodeType,
    KeySet,
    b45decode_strict,
    issue_code,
    load_key_set,
    public_jwk,
    sig_structure,
)
from healthcodes.verifier import parse_cose_sign1, verify

ISSUER = "WH"
KID = "w26a"
NOW = 1_790_000_000


def _pin_to_one_core() -> tuple[set[int] | None, int | None]:
    """Pin to one CPU (Linux); returns the previous affinity to restore and the CPU used."""
    if not hasattr(os, "sched_setaffinity"):
        return None, None
    previous = os.sched_getaffinity(0)
    cpu = min(previous)
    os.sched_setaffinity(0, {cpu})
    return previous, cpu


def _make_codes(count: int) -> tuple[list[str], KeySet, ec.EllipticCurvePublicKey]:
    private_key = ec.generate_private_key(ec.SECP256R1())
    jwk = public_jwk(private_key.public_key(), KID, ISSUER, NOW - 86_400, NOW + 86_400)
    keys = load_key_set({"keys": [jwk]})
    codes = [
        issue_code(
            private_key=private_key,
            kid=KID,
            iss=ISSUER,
            sub=secrets.token_urlsafe(12),  # a 16-character card pseudonym
            code_type=CodeType.DYNAMIC,
            issued_at=NOW,
            lifetime_seconds=60,
        )
        for index in range(count)
    ]
    return codes, keys, private_key.public_key()


def _raw_inputs(codes: list[str]) -> list[tuple[bytes, bytes]]:
    """The DER signature and signed bytes of each code, prepared outside the timed loop."""
    inputs = []
    for code in codes:
        message = parse_cose_sign1(b45decode_strict(code[4:]))
        signature = message.signature
        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        inputs.append((der, sig_structure(message.protected, message.payload)))
    return inputs


def _rate(loop: Callable[[], int], seconds: float) -> float:
    """Operations per CPU second of ``loop`` (one pass returns how many it did).

    CPU time of this thread, not wall time, so that time spent descheduled by other processes on
    a busy machine does not count; it runs for ``seconds`` of CPU or 10x that of wall time.
    """
    done = 0
    cpu_start, wall_start = time.thread_time(), time.perf_counter()
    while (
        time.thread_time() - cpu_start < seconds and time.perf_counter() - wall_start < 10 * seconds
    ):
        done += loop()
    return done / (time.thread_time() - cpu_start)


def run(*, rounds: int = 12, seconds_per_round: float = 0.25, codes: int = 200) -> dict:
    """Measure both rates; returns ``{"verifier_per_s", "raw_es256_per_s", "ratio", ...}``."""
    previous_affinity, cpu = _pin_to_one_core()
    try:
        texts, keys, public_key = _make_codes(codes)
        raw_inputs = _raw_inputs(texts)
        now = NOW + 10
        if not all(verify(text, keys=keys, now=now).ok for text in texts):
            raise RuntimeError("the benchmark's own codes do not verify")

        def verifier_pass() -> int:
            for text in texts:
                verify(text, keys=keys, now=now)
            return len(texts)

        def raw_pass() -> int:
            for der, signed in raw_inputs:
                public_key.verify(der, signed, ES256)
            return len(raw_inputs)

        verifier_rates, raw_rates = [], []
        for _ in range(rounds):
            raw_rates.append(_rate(raw_pass, seconds_per_round))
            verifier_rates.append(_rate(verifier_pass, seconds_per_round))
    finally:
        if previous_affinity is not None:
            os.sched_setaffinity(0, previous_affinity)
    verifier_best, raw_best = max(verifier_rates), max(raw_rates)
    pair_ratios = [mine / raw for mine, raw in zip(verifier_rates, raw_rates, strict=True)]
    return {
        "benchmark": "healthcode_verifier",
        "cpu": cpu,
        "code_length": len(texts[0]),
        "verifier_per_s": round(verifier_best),
        "raw_es256_per_s": round(raw_best),
        "ratio": round(verifier_best / raw_best, 3),
        "ratio_median_of_pairs": round(statistics.median(pair_ratios), 3),
        "verifier_rounds": [round(rate) for rate in verifier_rates],
        "raw_rounds": [round(rate) for rate in raw_rates],
    }


def main() -> None:
    result = run()
    print(f"health-code verifier : {result['verifier_per_s']:>8,} verifications per CPU second")
    print(f"raw ES256 verify     : {result['raw_es256_per_s']:>8,} verifications per CPU second")
    print(f"ratio                : {result['ratio']:.1%} (target >= 80%)")
    print(f"ratio, median pair   : {result['ratio_median_of_pairs']:.1%}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
