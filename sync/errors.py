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


# --- the client's words -------------------------------------------------------------------

UNREACHABLE = Text(
    "Serveur injoignable : rien n'est perdu, la synchronisation reprendra plus tard.",
    "Server unreachable: nothing is lost, sync will resume later.",
)

NO_NETWORK = Text(
    "Pas de réseau : le serveur ne répond pas (connexion refusée ou adresse introuvable)."
    " Rien n'est perdu : synchronisez quand le réseau revient.",
    "No network: the server does not answer (connection refused or address not found)."
    " Nothing is lost: sync when the network is back.",
)


NO_PROGRESS = Text(
    "La synchronisation n'avance plus. Appelez le bureau.",
    "Sync is not moving forward. Call the office.",
)

UNREADABLE = Text("Réponse du serveur illisible.", "Unreadable answer from the server.")

UNSIGNED = Text(
    "Le serveur n'a pas signé la réponse d'enrôlement : il est plus ancien que cette"
    " application. Faites mettre le serveur à jour, puis enrôlez de nouveau.",
    "The server did not sign its enrolment answer: it is older than this application."
    " Have the server updated, then enrol again.",
)


def ahead(seq: int) -> Text:
    return Text(
        f"Le serveur a reçu de cette tablette une entrée n° {seq} qu'elle n'a plus, ou une "
        "autre : le journal de la tablette a été restauré ou modifié. Appelez le bureau.",
        f"The server holds an entry no. {seq} from this tablet that it no longer has, or "
        "another one: the tablet's journal was restored or changed. Call the office.",
    )
