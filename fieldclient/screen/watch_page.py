"""The missions list's watch: the page's small script posts here every few seconds while
the browser says it is online; this asks the office "anything new?" and syncs when
there is (fieldclient.change_watch). The answer tells the script what to do next:
reload the list, ask again, wait longer (no network), or stop.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify

from fieldclient.screen.context import lang, screen, settings, signed_in, tablet
from shared.errors import TowlineError

EVERY_SECONDS = 5  # between two questions while online
OFFLINE_SECONDS = 30  # after a question that found no network


def _watch() -> Any:
    from fieldclient.change_watch import Watch

    return current_app.extensions.setdefault("towline_watch", Watch())


@screen.route("/sync/watch", methods=["POST"])
@signed_in
def watch() -> Any:
    from fieldclient import change_watch, syncing  # the network stack, only when asked
    from sync.errors import DeviceRevoked, ServerUnreachable, SyncError, UpdateRequired

    state = _watch()
    if not state.lock.acquire(blocking=False):  # another page is already asking
        return jsonify(changed=False, online=True, every=EVERY_SECONDS, stop=False)
    try:
        device = tablet()
        if state.client is None:
            make = settings().sync_client
            state.client = make(device, lang()) if make else syncing.new_client(device)
        state.client.lang = lang()
        outcome = change_watch.check(device, state.client, state)
    except ServerUnreachable:
        return jsonify(changed=False, online=False, every=OFFLINE_SECONDS, stop=False)
    except (DeviceRevoked, UpdateRequired) as ended:
        return jsonify(changed=False, online=True, stop=True, message=ended.message(lang()))
    except SyncError as refused:  # the office refused: the Sync page says why, on demand
        return jsonify(
            changed=False,
            online=True,
            every=OFFLINE_SECONDS,
            stop=False,
            message=refused.message(lang()),
        )
    except TowlineError as failed:  # the journal does not verify: the driver must see it
        return jsonify(changed=False, online=True, stop=True, message=failed.message(lang()))
    finally:
        state.lock.release()
    return jsonify(
        changed=outcome.changed,
        changes=outcome.changes,
        online=True,
        every=EVERY_SECONDS,
        stop=False,
    )
