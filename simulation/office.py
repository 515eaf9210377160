"""The office's side of the simulated day, over the office API only: sign in as the demo
users, create missions and enrolment codes, issue a manager's approval codes, import a
card-terminal settlement file, read the anomalies back."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import requests

from shared.errors import TowlineError

TENANT = "demo"
# What `towline-server demo` prints (server/demo.py); repeated here because the simulation
# talks to the server over HTTP only and never imports it.
PASSWORD = "demo-towline"
LOGINS = ("admin", "gerant", "bureau")


class SimulationFailed(TowlineError):
    """The server refused or could not be reached (exit code 3)."""

    code = "simulation_failed"


class Office:
    """One office API, signed in as whichever demo user each act needs."""

    def __init__(
        self,
        url: str,
        *,
        tenant: str = TENANT,
        password: str = PASSWORD,
        lang: str = "fr",
        session: requests.Session | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.tenant = tenant
        self.password = password
        self.lang = lang
        self.http = session or requests.Session()
        self.tokens: dict[str, str] = {}

    def wait(
        self,
        seconds: float,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Poll the API document until the server answers, for at most `seconds`."""
        deadline = clock() + seconds
        while True:
            try:
                if self.http.get(self.url + "/api/v1/openapi.json", timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            if clock() >= deadline:
                raise SimulationFailed(
                    f"Le serveur ne répond pas sur {self.url} après {seconds:g} s :"
                    " regardez ce qu'il a écrit (var/server.log avec make run).",
                    f"The server does not answer at {self.url} after {seconds:g} s:"
                    " look at what it wrote (var/server.log with make run).",
                )
            sleep(0.3)

    def headers(self, login: str) -> dict[str, str]:
        if login not in self.tokens:
            answer = self._send(
                "POST",
                "/api/v1/auth/login",
                {"tenant": self.tenant, "login": login, "password": self.password},
                {},
            )
            if answer.status_code != 200:
                raise SimulationFailed(
                    f"Connexion refusée pour « {login} » (société « {self.tenant} ») :"
                    f" {_said(answer)}. Lancez d'abord : towline-server demo",
                    f"Sign-in refused for '{login}' (company '{self.tenant}'):"
                    f" {_said(answer)}. Run first: towline-server demo",
                )
            self.tokens[login] = str(answer.json()["token"])
        return {"Authorization": f"Bearer {self.tokens[login]}"}

    def get(self, path: str, login: str, params: Mapping[str, Any] | None = None) -> Any:
        return self._checked("GET", path, None, login, params)

    def post(self, path: str, login: str, body: Mapping[str, Any]) -> Any:
        return self._checked("POST", path, body, login)

    def exists(self, path: str, login: str) -> Any | None:
        """The resource, or None when the server says 404."""
        answer = self._send("GET", path, None, self.headers(login))
        if answer.status_code == 404:
            return None
        return self._json(answer, "GET", path)

    def reconciled(
        self,
        seconds: float = 60,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Wait for the whole-tenant reconciliation the office asked for (a job after the
        request: `GET /api/v1/reconcile`) to be done, for at most `seconds`."""
        deadline = clock() + seconds
        while True:
            state = self.get("/api/v1/reconcile", "bureau")["state"]
            if state in ("done", "none"):
                return
            if state == "failed" or clock() >= deadline:
                raise SimulationFailed(
                    f"La réconciliation demandée au serveur est « {state} » après"
                    f" {seconds:g} s : regardez towline-server jobs et var/server.log.",
                    f"The reconciliation asked of the server is '{state}' after"
                    f" {seconds:g} s: look at towline-server jobs and var/server.log.",
                )
            sleep(0.2)

    def open_anomalies(self) -> list[dict[str, Any]]:
        rows = self.get("/api/v1/anomalies", "bureau", {"status": "open", "limit": 1000})
        assert isinstance(rows, list)
        return rows

    def _checked(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None,
        login: str,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        return self._json(self._send(method, path, body, self.headers(login), params), method, path)

    def _send(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None,
        headers: Mapping[str, str],
        params: Mapping[str, Any] | None = None,
    ) -> requests.Response:
        try:
            return self.http.request(
                method,
                self.url + path,
                json=body,
                params=params,
                headers={"Accept-Language": self.lang, **headers},
                timeout=(5, 60),
            )
        except requests.RequestException as exc:
            raise SimulationFailed(
                f"Serveur injoignable ({self.url}) : {exc.__class__.__name__}."
                " Est-il démarré ? towline-server run --port 5000",
                f"Server unreachable ({self.url}): {exc.__class__.__name__}."
                " Is it running? towline-server run --port 5000",
            ) from None

    def _json(self, answer: requests.Response, method: str, path: str) -> Any:
        if not answer.ok:
            raise SimulationFailed(
                f"Le serveur a refusé {method} {path} ({answer.status_code}) : {_said(answer)}",
                f"The server refused {method} {path} ({answer.status_code}): {_said(answer)}",
            )
        return answer.json()


def _said(answer: requests.Response) -> str:
    """The server's own words for a refusal (`{"code", "message"}`), else its status."""
    try:
        data = answer.json()
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return str(data["message"])
    return answer.reason or str(answer.status_code)
