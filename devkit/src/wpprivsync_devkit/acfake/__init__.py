"""A local ActiveCampaign API v3 server for tests, benches and the sandbox (``server.py``)."""

from .server import ActiveCampaignServer

__all__ = ["ActiveCampaignServer"]
