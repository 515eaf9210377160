"""Every anomaly kind the server raises or resolves has words on the desk and a line in
docs/anomalies.md (issue 16: a new kind is listed with a sentence, never a bare code)."""

from __future__ import annotations

from pathlib import Path

from server.desk.labels import ANOMALY_KINDS
from server.office import journal_alerts, reconcile, reconcile_methods, resolutions

DOC = (Path(__file__).resolve().parent.parent / "docs" / "anomalies.md").read_text("utf-8")


def kinds() -> set[str]:
    raised = reconcile.KINDS | reconcile.MISSION_CHECKS | {reconcile.UNSETTLED}
    resolved = set().union(*resolutions.ACTIONS.values())
    return raised | resolved | journal_alerts.KINDS | {reconcile_methods.KIND}


def test_every_kind_has_words_in_both_languages_and_a_line_in_the_catalogue():
    missing_words = sorted(k for k in kinds() if k not in ANOMALY_KINDS)
    assert missing_words == []
    assert all(ANOMALY_KINDS[k].fr and ANOMALY_KINDS[k].en for k in kinds())
    undocumented = sorted(k for k in kinds() if f"`{k}`" not in DOC)
    assert undocumented == []


def test_the_new_kinds_of_issue_16_are_among_them():
    assert {"collection_method_invalid", "owed_at_end"} <= kinds()
