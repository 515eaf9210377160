"""The driver's screen: the tablet's pages in a browser, served by `towline-field serve`
on 127.0.0.1 only.

Server-rendered pages over the same `fieldclient.tablet.Tablet` the command line drives:
sign-in with the PIN, the driver's missions, a mission's breakdown and its gate, the
collection with the evidence its method needs, the manager's approvals, the register
and the sync. No JavaScript: a form posts, the page answers.
"""

from fieldclient.screen.app import create_app

__all__ = ["create_app"]
