"""The wire contract between field clients and the sync server (message schemas, device
authentication, the sync client). Imports only the core, marshmallow, requests and
cryptography."""
