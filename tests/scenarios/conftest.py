from tests.azure.fixtures import durable, secret, service

__all__ = ["durable", "secret", "service"]
