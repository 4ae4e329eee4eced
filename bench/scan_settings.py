"""Settings for bench/bench_scan.py: the project's own, with the scan rate limit lifted (32 load
clients scan far faster than any desk) and DEBUG off. Everything else, including the database
and Redis, comes from the environment as in production."""

from config.settings import *  # noqa: F403

DEBUG = False
HEALTHCODE_SCAN_RATE_LIMIT = 10**9
