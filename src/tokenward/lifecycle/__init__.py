"""Token lifecycle governance (docs/lifecycle.md): the dispatcher that sends the events the
service records in its outbox, signed as Standard Webhooks, and the scheduler of time-driven
events. Its interface: ``Dispatcher(uow, sealer, lock, clock=..., settings=...)``, whose
``run()`` a server's lifespan runs as a task and ``close()`` ends."""

from tokenward.lifecycle.dispatcher import Dispatcher, DispatchSettings

__all__ = ["DispatchSettings", "Dispatcher"]
