from tests.support.azure_fixtures import durable, secret, service

__all__ = ["durable", "secret", "service"]
