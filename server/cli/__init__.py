"""`towline-server`, the office server's command line: `main` builds the group, one module
per group of commands, the helpers they share in `common`.

May import any area; no area imports it.
"""
