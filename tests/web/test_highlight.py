"""Evidence highlighting and the inbox's query parsing (pure: no Redis, no server)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markupsafe import escape

from monitor.models import Evidence
from monitor.web.forms import items, until
from monitor.web.highlight import highlight, missing, spans_for
from monitor.web.query import InboxQuery, group
from monitor.web.tryout import safe_path

from .conftest import alert


def ev(text: str, word: str, field: str = "title", term: str | None = None) -> Evidence:
    s = text.index(word)
    return Evidence(term=term or word, matched=word, field=field, start=s, end=s + len(word))  # type: ignore[arg-type]


def test_marks_each_piece_of_evidence_and_escapes_the_rest():
    text = "<b>قصف</b> على قاعدة عين الأسد & more"
    html = highlight(text, [ev(text, "قاعدة"), ev(text, "عين الأسد", term="@bases")], "title")
    assert html == ("&lt;b&gt;قصف&lt;/b&gt; على <mark title=\"قاعدة\">قاعدة</mark> "
                    "<mark title=\"@bases\">عين الأسد</mark> &amp; more")


def test_overlapping_evidence_merges_and_other_fields_are_ignored():
    text = "rockets hit the base"
    spans = spans_for(text, [ev(text, "rockets hit"), ev(text, "hit the"), ev(text, "base", field="summary")],
                      "title")
    assert [(s.start, s.end, s.terms) for s in spans] == [(0, 15, ("rockets hit", "hit the"))]


def test_evidence_whose_offsets_do_not_fit_the_text_is_not_marked_but_listed():
    text = "short"
    wrong = Evidence(term="x", matched="hello", field="summary", start=0, end=5)
    beyond = Evidence(term="y", matched="y", field="summary", start=600, end=601)
    assert highlight(text, [wrong, beyond], "summary") == "short"
    assert missing({"summary": text}, [wrong, beyond]) == [wrong, beyond]


@given(st.text(max_size=60), st.lists(st.tuples(st.integers(0, 70), st.integers(0, 70)), max_size=6))
def test_highlight_keeps_the_text_and_only_adds_marks(text: str, pairs: list[tuple[int, int]]):
    evidence = [Evidence(term="t<", matched=text[a:b], field="title", start=a, end=b)
                for a, b in pairs if a < b <= len(text)]
    html = str(highlight(text, evidence, "title"))
    plain = html.replace('<mark title="t&lt;">', "").replace("</mark>", "")
    assert plain == str(escape(text))


def test_query_parsing_refuses_bad_values_and_ignores_unknown_parameters():
    q = InboxQuery.parse({"tag": " ceasefire ", "utm_source": "x", "limit": "20"})
    assert q.tag == "ceasefire" and q.limit == 20 and q.filtered
    assert q.url() == "/?tag=ceasefire"
    with pytest.raises(ValueError, match="limit"):
        InboxQuery.parse({"limit": "9999"})
    with pytest.raises(ValueError, match="until"):
        InboxQuery.parse({"until": "soon"})


def test_groups_keep_event_reports_together_in_newest_first_order():
    alerts = [alert(3, event="e1"), alert(2, event="e2"), alert(1, event="e1", source="wire")]
    groups = group(alerts)
    assert [g.key for g in groups] == ["e1", "e2"]
    assert [a.id for a in groups[0].alerts] == ["a00003", "a00001"]
    assert groups[0].sources == ("seeds", "wire") and groups[0].source_count == 2


def test_form_helpers():
    from datetime import UTC, datetime, timedelta

    assert items("a, b\nc,, a") == ("a", "b", "c")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert until("", "2h", now) == now + timedelta(hours=2)
    assert until("2026-01-02T10:00", "2h", now) == datetime(2026, 1, 2, 10, tzinfo=UTC)
    with pytest.raises(ValueError):
        until("", "forever", now)


@pytest.mark.parametrize("bad", ["../x.yaml", "/etc/x.yaml", ".hidden/x.yaml", "a/../../x.yaml", "x.txt",
                                 "x.examples.yaml", ""])
def test_rule_paths_stay_inside_the_rules_folder(bad: str):
    with pytest.raises(ValueError):
        safe_path(bad)
    assert safe_path("drafts/x.yaml") == "drafts/x.yaml"


@given(
    st.sampled_from(["", "negotiation-round", "ceasefire", 'a"b']),
    st.sampled_from(["", "negotiation-round.talks-held", "x"]),
    st.sampled_from(["", "info", "medium", "critical"]),
    st.sampled_from(["", "ar", "en"]),
    st.sampled_from(["", "seeds", "وكالة", 'a"b']),
    st.sampled_from(["", "ain-al-asad", "x"]),
    st.sampled_from(["info", "medium", "high"]),
    st.sampled_from(["seeds", "وكالة", 'a"b']),
)
def test_the_raw_prefilter_never_drops_an_alert_the_filters_accept(tag, rule, sev, lang, source, entity,
                                                                   alert_sev, alert_source):
    a = alert(1, tags=("negotiation-round", 'a"b'), severity=alert_sev, source=alert_source,
              entities={"bases": ("ain-al-asad",)}, lang="ar")
    q = InboxQuery.parse({"tag": tag, "rule": rule, "severity": sev, "lang": lang, "source": source,
                          "entity": entity})
    if q.accepts(a):
        assert q.may_accept(a.to_json())
