"""Fixtures shared by the integration tests (real Kafka and ZooKeeper: kafka_world.py; Spring apps: spring_apps.py)."""

from integration.kafka_world import kafka_jars, kafka_session_world, kafka_tools, kafka_world  # noqa: F401
from integration.spring_apps import spring_system  # noqa: F401
