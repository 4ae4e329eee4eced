"""Fixtures of the demo tests: the referral tests' small network, the package catalogue."""

from __future__ import annotations

import pytest

from signing.catalogue import service_packages_load
from tests.referrals.support import build_network


@pytest.fixture
def net(db):
    return build_network()


@pytest.fixture
def catalogue(db):
    service_packages_load()
