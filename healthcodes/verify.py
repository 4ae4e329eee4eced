"""Verify a health code offline from the command line, with only the published key set.

    python -m healthcodes.verify 'HN1:...' --keys keys.json [--now 2026-11-29T08:00:00+08:00]
    echo 'HN1:...' | python -m healthcodes.verify - --keys keys.json

Prints one JSON object: ``{"ok": true, "claims": {...}}`` or ``{"ok": false, "reason": ...}``.
Exit status 0 for a valid code, 1 for a refused one, 2 for a usage error (bad arguments, an
unreadable or malformed key set), so scripts can tell "the code is bad" from "I called it wrong".
Quote the code: Base45 text may contain spaces. Revocation and replay are not checked here: they
need the server.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from healthcodes.codec import Claims, KeySet, KeySetError, load_key_set
from healthcodes.verifier import DEFAULT_MAX_SKEW, VerifyResult, verify

EXIT_VALID = 0
EXIT_INVALID = 1
EXIT_USAGE = 2


class _UsageError(Exception):
    pass


def _parse_now(value: str | None) -> datetime:
    if value is None:
        return datetime.now(tz=UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _UsageError(f"--now is not ISO 8601: {value!r}") from None
    if moment.utcoffset() is None:
        raise _UsageError("--now needs a timezone, e.g. 2026-11-29T08:00:00+08:00 or ...Z")
    return moment


def _load_keys(path: str) -> KeySet:
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        return load_key_set(document)
    except OSError as error:
        raise _UsageError(f"cannot read key set {path}: {error.strerror}") from None
    except (ValueError, KeySetError) as error:  # JSONDecodeError is a ValueError
        raise _UsageError(f"malformed key set {path}: {error}") from None


def _read_code(argument: str) -> str:
    """The code itself, or stdin for ``-``; only a line ending is stripped (spaces are Base45)."""
    if argument != "-":
        return argument
    return sys.stdin.read().removesuffix("\n").removesuffix("\r")


def _utc(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _claims_json(claims: Claims) -> dict[str, Any]:
    return {
        "iss": claims.iss,
        "sub": claims.sub,
        "kid": claims.kid,
        "code_type": claims.code_type.value,
        "iat": claims.iat,
        "exp": claims.exp,
        "iat_utc": _utc(claims.iat),
        "exp_utc": _utc(claims.exp),
        "cti": claims.cti.hex(),
    }


def result_json(result: VerifyResult) -> dict[str, Any]:
    """The CLI's JSON for a result (also handy for logs)."""
    if result.claims is None:
        return {"ok": False, "reason": str(result.reason), "detail": result.detail}
    return {"ok": True, "claims": _claims_json(result.claims)}


def _argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m healthcodes.verify",
        description="Verify a HealthNet QR health code offline against a published key set.",
    )
    parser.add_argument("code", help="the code text (HN1:...), or - to read it from stdin")
    parser.add_argument("--keys", required=True, help="published JSON key set file")
    parser.add_argument("--now", help="ISO 8601 time with timezone to verify at (default: now)")
    parser.add_argument(
        "--max-skew", type=int, default=DEFAULT_MAX_SKEW, help="clock skew allowed, seconds"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = _argument_parser().parse_args(argv)  # exits 2 on bad arguments
    try:
        keys = _load_keys(arguments.keys)
        now = _parse_now(arguments.now)
    except _UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    result = verify(_read_code(arguments.code), keys=keys, now=now, max_skew=arguments.max_skew)
    print(json.dumps(result_json(result), ensure_ascii=False))
    return EXIT_VALID if result.ok else EXIT_INVALID


if __name__ == "__main__":
    sys.exit(main())
