"""The sync engine: events become requests and steps (``plan``), steps run idempotently against
each system (``steps``, ``worker``), and site-wide jobs keep systems in line (``reconcile``,
``retention``). ``ingest`` moves events from the plugin's outbox into the store."""
