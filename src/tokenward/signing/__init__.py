"""The signing engine: keys that sign short-lived JWT access tokens, and their schedule.

Small interface, used by the service (``service/exchange.py``, ``service/signing_keys.py``):

- ``keys.generate(alg, ...)``, ``keys.seal``/``keys.unseal`` (private parts under the
  key-encryption key, through any ``Sealer``), ``keys.public_jwk``;
- ``schedule.Schedule``: which key signs now, which are published, when to rotate, which to
  drop;
- ``ring.KeyRing``: the keys a process holds, swapped whole on each refresh from the store;
  ``sign(claims)`` and ``jwks()``.

It imports no other part of tokenward: the store keeps what ``keys.StoredKey`` holds, the
service decides when. JWS is PyJWT's (with ``cryptography``), never hand-written.
"""
