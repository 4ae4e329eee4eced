import pytest

from tests.referrals.support import build_network


@pytest.fixture
def net(db):
    return build_network()
