"""One RabbitMQ node for the whole session's event tests (it takes seconds to start)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.rabbitmq import RabbitBroker, rabbitmq_installed


@pytest.fixture(scope="session")
def rabbit() -> Iterator[RabbitBroker]:
    if not rabbitmq_installed():
        pytest.skip("rabbitmq-server not installed (scripts/test installs it)")
    broker = RabbitBroker()
    broker.start()
    yield broker
    broker.stop()
