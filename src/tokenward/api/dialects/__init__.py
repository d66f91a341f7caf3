"""The compatible faces: one package per product, each only translating to the service."""
