"""A local WebinarJam API server that follows shared/contracts/webinarjam (tests, sandbox).

Like the real API it cannot delete a registrant: ``unsubscribe`` only marks the lead
"Subscribed: No". Test helpers (``add_webinar``, ``add_registrant``, ``delete_registrant`` — the
person in WebinarJam's own screens —, ``set_faults``) act on its state directly."""

from .server import WebinarJamServer

__all__ = ["WebinarJamServer"]
