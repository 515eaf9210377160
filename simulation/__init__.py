"""A simulated day for the demo tenant: three tablets that work offline, reconnect and
sync, so that the office desk has real anomalies to resolve (`make run`, docs/demo-day.md).

It talks to the office server only over HTTP, like a tablet and a clerk would: the field
client (`fieldclient`) for the tablets, the office API for the office's side. It never
imports `server`.
"""
