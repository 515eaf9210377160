"""The sync client's errors, apart from the client itself so that a program can catch
them without importing `requests` (the tablet's command line starts faster)."""

from __future__ import annotations

from shared.i18n import Text


class SyncError(Exception):
    """Base of the client's errors; `message(lang)` is for the driver."""

    def __init__(self, text: Text) -> None:
        super().__init__(text.en)
        self.text = text

    def message(self, lang: str = "fr") -> str:
        return self.text(lang)


class ServerUnreachable(SyncError):
    """No usable answer after every retry: nothing is lost, sync again later."""


class Refused(SyncError):
    """The server refused, with a code (`sync.protocol.ErrorCode`, or a push status such
    as "fork") and a message in the language asked for."""

    def __init__(self, code: str, message: str, *, status: int | None = None) -> None:
        super().__init__(Text(message, message))
        self.code = code
        self.status = status


class UpdateRequired(Refused):
    """This app speaks a protocol the server no longer serves."""


class DeviceRevoked(Refused):
    """The device was taken out of service; what it pushes is kept in quarantine."""
