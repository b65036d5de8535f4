"""``monitor rules check|test|eval|learn`` and ``monitor match``: the rule engine from the command line.

Same engine as the stream processor (``monitor.rules``), no Kafka. Errors are printed as
``file:line: message`` (never a traceback); exit status 1 means something was wrong.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

import click
import orjson
from pydantic import ValidationError

from monitor.cli import compare as compare_view
from monitor.models import Article, Match
from monitor.rules import RuleSet, RulesInvalid, article_from, load_rules, matcher_core, matcher_hint
from monitor.rules.compare import compare
from monitor.rules.evaluate import (
    ALL,
    Evaluation,
    LabelError,
    LabelledItem,
    Outcome,
    evaluate,
    held_back,
    read_labelled,
    rule_tags,
)
from monitor.rules.examples import run_examples
from monitor.rules.learned import MODES, Mode


def _default_rules() -> Path:
    from monitor.settings import Settings

    return Settings().rules


def _load(folder: Path | None, learned: Mode | None = None) -> RuleSet:
    """The rules of ``folder`` (default: MONITOR_RULES); the learned check's mode ``learned``, else
    MONITOR_LEARNED, else the one the folder's learned file names."""
    from monitor.settings import Settings

    folder = folder or _default_rules()
    try:
        return load_rules(folder, learned=learned or Settings().learned)
    except RulesInvalid as exc:
        for e in exc.errors:
            click.echo(str(e), err=True)
        click.echo(f"{len(exc.errors)} error(s) in {folder}", err=True)
        sys.exit(1)


_DIR = click.argument("folder", required=False, type=click.Path(path_type=Path, exists=False))
_LEARNED = click.option(
    "--learned", type=click.Choice(MODES), default=None,
    help="The learned check's mode: off (rules only), veto (it may withdraw a rule's match), both (and add "
    "a tag no rule found). Default: MONITOR_LEARNED, else the rules folder's learned file.")


@click.group("rules", context_settings={"help_option_names": ["-h", "--help"]})
def rules() -> None:
    """Check and test rule files (YAML under the rules folder; see docs/rules.md).

    \b
    Examples:
      monitor rules check               # the folder from MONITOR_RULES (default ./rules)
      monitor rules check rules/        # every error as file:line: message, exit 1 if any
      monitor rules test rules/         # run each rule's positive/negative examples
      monitor rules eval labelled.jsonl # precision/recall on labelled articles
      monitor rules learn --out rules/learned/model.json.gz fresh.jsonl   # train the learned check
    """


@rules.command("check")
@_DIR
def check(folder: Path | None) -> None:
    """Validate every rule and list file in FOLDER and report every error with file:line.

    Reports YAML syntax errors, unknown or missing keys, wrong types, bad terms and regular
    expressions, duplicate rule ids or list names, unknown @list references and orphan examples files.
    Exit status 0 when all is well, 1 otherwise.

    \b
    Example:
      monitor rules check rules/
      rules/attack.yaml:12: unknown list `@base` (known lists: bases, weapons)
    """
    rs = _load(folder)
    enabled = sum(1 for r in rs.rules if r.enabled)
    disabled = len(rs.rules) - enabled
    extra = f" ({disabled} disabled)" if disabled else ""
    always = [r.id for r in rs.rules if r.enabled and r.triggers is None]
    if always:  # not an error: a cost note for authors
        click.echo(f"note: {len(always)} rule(s) have no required term and run on every article: "
                   f"{', '.join(always[:10])}{' …' if len(always) > 10 else ''}", err=True)
    core = matcher_core()
    hint = matcher_hint(core)
    if hint:
        click.echo(f"note: {hint}", err=True)
    click.echo(f"{len(rs.rules)} rules{extra}, {len(rs.lists)} lists OK (matcher: {core})")
    if rs.learned is not None:
        m = rs.learned
        needs = f"; rescue_needs for {', '.join(sorted(rs.rescue_needs))}" if rs.rescue_needs else ""
        click.echo(f"learned check: mode {m.describe()}, model {m.version} ({len(m.table)} features; tags "
                   f"{', '.join(m.tags)}{needs})")


@rules.command("test")
@_DIR
@click.option("-v", "--verbose", is_flag=True, help="List passing examples too.")
def test(folder: Path | None, verbose: bool) -> None:
    """Run the positive and negative examples kept with each rule in FOLDER.

    Examples live in the rule (`examples: {positive: [...], negative: [...]}`) or beside it in
    <rule-file-stem>.examples.yaml. A positive example must match its rule, a negative one must not.
    Exit status 1 when any example fails.

    \b
    Example:
      monitor rules test rules/
      FAIL attack-on-base negative #3: matched: "Rockets launched from the base in a test…"
      42 examples, 1 failed
    """
    rs = _load(folder)
    results = run_examples(rs)
    failed = [r for r in results if not r.passed]
    for r in results:
        if not r.passed:
            what = "did not match" if r.kind == "positive" else "matched"
            click.echo(f"FAIL {r.rule} {r.kind} #{r.index + 1}: {what}: {r.excerpt!r}")
        elif verbose:
            click.echo(f"ok   {r.rule} {r.kind} #{r.index + 1}")
    rules_with = len({r.rule for r in results})
    click.echo(f"{len(results)} examples in {rules_with} rules, {len(failed)} failed")
    if failed:
        sys.exit(1)


def _match_json(m: Match) -> dict[str, Any]:
    return {
        "rule": m.rule,
        "rule_version": m.rule_version,
        "title": m.title,
        "tags": list(m.tags),
        "severity": m.severity,
        "score": m.score,
        "entities": {k: list(v) for k, v in m.entities.items()},
        "numbers": list(m.numbers),
        "evidence": [e.model_dump(mode="json") for e in m.evidence],
    }


def _highlight(article: Article, m: Match, color: bool) -> list[str]:
    lines = []
    for e in m.evidence:
        text = getattr(article, e.field)
        lo, hi = max(0, e.start - 60), min(len(text), e.end + 60)
        before, hit, after = text[lo:e.start], text[e.start:e.end], text[e.end:hi]
        mark = click.style(hit, bold=True, reverse=True) if color else f"[[{hit}]]"
        snippet = " ".join(f"{before}{mark}{after}".split())
        where = f"{e.field}[{e.start}:{e.end}]"
        origin = f" @{e.list}:{e.entity}" if e.list else ""
        lines.append(f"    {where} {e.term!r}{origin}: {'…' if lo else ''}{snippet}{'…' if hi < len(text) else ''}")
    return lines


def _explain(out: TextIO, article: Article, rs: RuleSet, color: bool) -> None:
    analysis = rs.analyse(article)
    head = f"== {article.id}  lang={analysis.lang or '?'}  {article.title[:80]!r}"
    click.echo(click.style(head, bold=True) if color else head, file=out)
    click.echo(f"   evaluated {len(analysis.evaluated)} of {len(rs.rules)} rules", file=out)
    if analysis.probabilities:
        probs = ", ".join(f"{t} {p:.2f}" for t, p in analysis.probabilities.items())
        click.echo(f"   learned check ({rs.learned.describe() if rs.learned else '?'}): {probs}", file=out)
    held = held_back(rs, analysis)
    if held:  # only where the condition changed the outcome: the check would have added the tag
        click.echo(f"   the learned check held back {', '.join(held)} here (probability at or over its rescue "
                   f"threshold, but its rescue_needs did not hold)", file=out)
    for m in analysis.vetoed:
        click.echo(f"   VETOED {m.rule} (the learned check's probability of {', '.join(m.tags)} is below its "
                   f"veto threshold)", file=out)
    if not analysis.matches:
        click.echo("   no match", file=out)
    for m in analysis.matches:
        ents = "; ".join(f"{k}: {', '.join(v)}" for k, v in m.entities.items())
        nums = f" numbers={list(m.numbers)}" if m.numbers else ""
        click.echo(f"   MATCH {m.rule} [{m.severity}] score={m.score}{nums}{'  ' + ents if ents else ''}", file=out)
        for line in _highlight(article, m, color):
            click.echo(line, file=out)


@click.command("match", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--rules", "rules_dir", type=click.Path(path_type=Path), default=None,
              help="Rules folder (default: MONITOR_RULES, ./rules).")
@click.option("--explain", is_flag=True, help="Print a readable report with matched terms highlighted "
              "instead of JSON Lines.")
@_LEARNED
@click.argument("input_file", required=False, default="-", type=click.File("rb"))
def match(rules_dir: Path | None, explain: bool, learned: Mode | None, input_file: Any) -> None:
    """Backtest rules on articles given as JSON Lines (FILE, or - for stdin).

    Each input line is a JSON object with `id` (required) and optionally `title`, `summary`,
    `content`, `url`, `lang`, `source`, `published`, `tags`; other fields are ignored. One JSON line is
    written per input line, in order:

    \b
      {"id": "...", "matches": [{"rule": "...", "tags": [...], "severity": "...",
                                 "score": 3.0, "evidence": [...], ...}]}

    A bad input line is reported on stderr with its line number and skipped; the exit status is then 1.

    \b
    Examples:
      monitor match --rules rules/ articles.jsonl > matches.jsonl
      echo '{"id":"1","title":"Rockets hit Ain al-Asad"}' | monitor match --explain -
      monitor match --learned off articles.jsonl      # the rules alone
    """
    rs = _load(rules_dir, learned)
    out = click.get_text_stream("stdout")
    color = explain and out.isatty()
    bad = 0
    for n, raw in enumerate(input_file, start=1):
        if not raw.strip():
            continue
        try:
            data = orjson.loads(raw)
            if not isinstance(data, dict):
                raise ValueError("expected a JSON object")
            if "id" not in data or data["id"] in (None, ""):
                raise ValueError("missing `id`")
            if isinstance(data["id"], int | float) and not isinstance(data["id"], bool):
                data["id"] = str(data["id"])
            article = article_from(data)
        except (orjson.JSONDecodeError, ValueError, ValidationError) as exc:
            bad += 1
            msg = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
            if isinstance(exc, ValidationError):
                loc = ".".join(str(x) for x in exc.errors()[0]["loc"])
                msg = f"{loc}: {msg}"
            click.echo(f"line {n}: {msg}", err=True)
            continue
        if explain:
            _explain(out, article, rs, color)
            continue
        matches = rs.match(article)
        out.write(orjson.dumps({"id": article.id, "matches": [_match_json(m) for m in matches]}).decode())
        out.write("\n")
    out.flush()
    if bad:
        click.echo(f"{bad} bad input line(s)", err=True)
        sys.exit(1)


def _fmt(x: float | None) -> str:
    return "    —" if x is None else f"{x:.3f}"


def _outcome_json(o: Outcome) -> dict[str, Any]:
    a = o.item.article
    return {"kind": o.kind, "tag": o.tag, "id": a.id, "line": o.item.line, "lang": o.lang,
            "title": a.title, "url": a.url, "matches": [_match_json(m) for m in o.matches],
            "held_back": o.held_back}


def _report(ev: Evaluation, color: bool) -> None:
    out = click.get_text_stream("stdout")
    click.echo(f"{ev.articles} articles scored, {ev.skipped} ambiguous skipped", file=out)
    click.echo(f"{'tag':<26} {'lang':<4} {'pos':>4} {'tp':>4} {'fp':>4} {'fn':>4}  precision  recall", file=out)
    for tag, by_lang in ev.counts.items():
        for lang, c in by_lang.items():
            click.echo(f"{tag if lang == ALL else '':<26} {lang:<4} {c.tp + c.fn:>4} {c.tp:>4} {c.fp:>4} "
                       f"{c.fn:>4}      {_fmt(c.precision)}   {_fmt(c.recall)}", file=out)
    for o in ev.errors:
        a = o.item.article
        head = f"\n{o.kind.upper()} {o.tag}  {a.id} (line {o.item.line}, {o.lang})  {a.title[:90]!r}"
        click.echo(click.style(head, bold=True) if color else head, file=out)
        if o.kind == "fn":
            text = " ".join(f"{a.summary} {a.content}".split())
            click.echo(f"    no rule tagged {o.tag} matched: {text[:240]}{'…' if len(text) > 240 else ''}", file=out)
            if o.held_back:
                click.echo(f"    the learned check would have added {o.tag}, but its rescue_needs did not hold", file=out)
        for m in o.matches:
            verb = "MATCH" if o.kind == "fp" else "other"
            click.echo(f"    {verb} {m.rule} [{m.severity}] score={m.score} tags={','.join(m.tags)}", file=out)
            for line in _highlight(a, m, color):
                click.echo(f"  {line}", file=out)


@rules.command("eval")
@click.option("--rules", "rules_dir", type=click.Path(path_type=Path), default=None,
              help="Rules folder (default: MONITOR_RULES, ./rules).")
@click.option("--split", "split", default=None, metavar="NAME",
              help="Score only the lines whose `split` is NAME (e.g. dev, holdout).")
@click.option("--tag", "only_tags", multiple=True, metavar="TAG",
              help="Score only this tag (repeatable; default: every tag of the enabled rules).")
@click.option("--min", "minimum", type=click.FloatRange(0, 1), default=None, metavar="P",
              help="Exit 1 when a precision or recall (per tag, overall or per language) is below P.")
@click.option("--baseline", "baseline_dir", type=click.Path(path_type=Path, file_okay=False, exists=True),
              default=None, metavar="DIR",
              help="Also score the rules folder DIR on the same articles (same --learned) and report the F1 "
              "gain over it with a 90 % paired bootstrap interval, per tag and language, and every call that "
              "changed.")
@click.option("--min-gain", "min_gain", type=float, default=None, metavar="G",
              help="With --baseline: exit 1 when the F1 gain over it is below G (0: no worse; -0.01: at most "
              "one point worse).")
@click.option("--json", "as_json", is_flag=True, help="Write one JSON document instead of the report.")
@_LEARNED
@click.argument("input_file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
def eval_(rules_dir: Path | None, split: str | None, only_tags: tuple[str, ...], minimum: float | None,
          baseline_dir: Path | None, min_gain: float | None, as_json: bool, learned: Mode | None,
          input_file: Path) -> None:
    """Score the rules on labelled articles (JSON Lines): precision and recall per tag and language.

    Each line is a `monitor match` input article (`id`, `title`, `summary`, `content` or `text`,
    `lang`, `source` …) plus `labels`: the tags that apply ([] for none). `"ambiguous": true` skips
    it; `split` names a subset for --split; other fields are ignored. Each tag of the enabled rules is
    scored: an article has a tag when any rule carrying it matches. The report lists every false
    positive with the matching rule's evidence, and every false negative with the rules that did match.

    A malformed line, a missing `labels`, an unknown tag or a repeated id is reported as
    FILE:LINE: message and nothing is scored. Exit status: 0, or 1 on bad input or rules, or when a
    figure is below --min (a CI gate for a rule set). A figure with nothing to count (no positives, no
    predictions) is shown as — and never fails --min.

    With --baseline DIR (say, a copy of the folder before your change), the same articles are scored
    with DIR too and the report ends with the F1 gain over it, overall and per tag, over all articles
    and per language, each with a 90 % interval from 2,000 paired resamples of the articles, and every
    call the two make differently
    (right or wrong by the label). A gain whose interval straddles zero is not yet a gain: label more
    articles. --min-gain G exits 1 when the gain is below G.

    \b
    Examples:
      monitor rules eval --rules rules/ labelled.jsonl
      monitor rules eval --split dev --tag ceasefire labelled.jsonl
      monitor rules eval --min 0.9 --json labelled.jsonl > scores.json
      monitor rules eval --learned off labelled.jsonl   # the rules without the learned check
      monitor rules eval --baseline old-rules/ --min-gain 0 labelled.jsonl   # a change, no worse
    """
    if min_gain is not None and baseline_dir is None:
        click.echo("--min-gain needs --baseline DIR (the rules folder to compare against)", err=True)
        sys.exit(1)
    rs = _load(rules_dir, learned)
    base_rs = _load(baseline_dir, learned) if baseline_dir is not None else None
    known = rule_tags(rs, enabled_only=False)
    missing = [t for t in only_tags if t not in known]
    if missing:
        click.echo(f"--tag {missing[0]}: no rule carries it (the rules' tags: {', '.join(known)})", err=True)
        sys.exit(1)
    items, errors = read_labelled(input_file, known)
    if errors:
        for e in errors:
            click.echo(str(e), err=True)
        click.echo(f"{len(errors)} bad line(s) in {input_file}: nothing scored", err=True)
        sys.exit(1)
    if split is not None:
        items = [i for i in items if i.split == split]
    tags = only_tags or rule_tags(rs)
    ev = evaluate(rs, items, tags)
    below = ev.below(minimum) if minimum is not None else []
    cmp = None
    if base_rs is not None and baseline_dir is not None:
        cmp = compare(items, tags, ev.calls, evaluate(base_rs, items, tags).calls, langs=ev.langs)
    worse = cmp is not None and min_gain is not None and cmp.overall.gain < min_gain
    if as_json:
        doc = {"file": str(input_file), "split": split, "articles": ev.articles, "skipped": ev.skipped,
               "learned": rs.learned.mode if rs.learned is not None else None,
               "learned_tags": dict(rs.learned.tag_modes) if rs.learned is not None else {},
               "scores": {t: {lang: c.as_dict() for lang, c in by.items()} for t, by in ev.counts.items()},
               "min": minimum, "passed": not below,
               "below_min": [{"tag": t, "lang": lang, "measure": k, "value": v} for t, lang, k, v in below],
               "errors": [_outcome_json(o) for o in ev.errors]}
        if cmp is not None and baseline_dir is not None:
            doc["baseline"] = compare_view.as_json(cmp, baseline_dir, min_gain, not worse)
        click.echo(orjson.dumps(doc).decode())
    else:
        out = click.get_text_stream("stdout")
        _report(ev, out.isatty())
        if minimum is not None:
            for t, lang, k, v in below:
                click.echo(f"below --min {minimum}: {t} {lang} {k} {v:.3f}")
            click.echo(f"--min {minimum}: {'FAILED' if below else 'passed'}")
        if cmp is not None and baseline_dir is not None:
            compare_view.report(out, cmp, baseline_dir, out.isatty())
            if min_gain is not None:
                click.echo(f"--min-gain {min_gain:+.3f}: {'FAILED' if worse else 'passed'} "
                           f"(gain {cmp.overall.gain:+.3f})")
    if not items:
        click.echo(f"no article to score in {input_file}" + (f" with split {split!r}" if split else ""), err=True)
    if below or worse:
        sys.exit(1)


def _labelled_or_exit(groups: tuple[tuple[Path, ...], ...], tags: Iterable[str],
                      what: str) -> list[list[LabelledItem]]:
    """Each group of labelled files read into one list; every bad line reported as FILE:LINE and exit 1, with
    nothing ``what`` (trained, updated), when there is any."""
    out: list[list[LabelledItem]] = []
    errors: list[LabelError] = []
    for files in groups:
        got_all: list[LabelledItem] = []
        for f in files:
            got, bad = read_labelled(f, tags)
            got_all.extend(got)
            errors.extend(bad)
        out.append(got_all)
    if errors:
        for e in errors:
            click.echo(str(e), err=True)
        click.echo(f"{len(errors)} bad line(s): nothing {what}", err=True)
        sys.exit(1)
    return out


@rules.command("learn")
@click.option("--rules", "rules_dir", type=click.Path(path_type=Path), default=None,
              help="Rules folder (default: MONITOR_RULES, ./rules); its learned check is not used.")
@click.option("--out", "out", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="The model file to write (gzip when it ends in .gz).")
@click.option("--extra", "extra", multiple=True, type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="Labelled articles that only add to the training (e.g. ones the rules were written "
              "on): never scored, never used for the thresholds. Repeatable.")
@click.option("--folds", type=click.IntRange(2, 20), default=5, show_default=True,
              help="Cross-validation folds for the thresholds and the figures.")
@click.option("--c", "c", type=click.FloatRange(min=0, min_open=True), default=4.0, show_default=True,
              help="Inverse regularisation strength of the logistic regressions.")
@click.option("--min-df", type=click.IntRange(1), default=2, show_default=True,
              help="Keep the features found in at least this many articles.")
@click.option("--json", "as_json", is_flag=True, help="Write the figures as one JSON document.")
@click.argument("input_files", nargs=-1, required=True,
                type=click.Path(path_type=Path, dir_okay=False, exists=True))
def learn_(rules_dir: Path | None, out: Path, extra: tuple[Path, ...], folds: int, c: float, min_df: int,
           as_json: bool, input_files: tuple[Path, ...]) -> None:
    """Train the learned check on labelled articles (JSON Lines, as for `monitor rules eval`).

    One logistic regression per tag of the rules, over the words of each article's normalised text; each
    tag's veto and rescue thresholds are chosen on cross-validated probabilities against the rules' own
    calls, so train on articles the rules were NOT tuned on (freshly collected and labelled), or the
    thresholds will be too timid. Prints, per tag, the cross-validated precision and recall of the rules
    alone, with the veto, and with both, and their mean per-tag F1 (compare runs with another --c or
    --min-df on the same files by it); writes the model to --out. To use it, name it in the rules
    folder's learned file (see docs/rules.md, The learned check):

    \b
      # rules/learned.yaml
      learned: {model: learned/model.json.gz, mode: both}

    Needs scikit-learn: pip install -e '.[train]'.

    \b
    Example:
      monitor rules learn --out rules/learned/model.json.gz fresh-*.jsonl
    """
    try:
        from monitor.rules.learn import learn, mean_f1
    except ImportError as exc:  # pragma: no cover - the dev extra has it
        click.echo(f"training needs scikit-learn ({exc}): pip install -e '.[train]'", err=True)
        sys.exit(1)
    from datetime import UTC, datetime

    from monitor.rules.learned import Options, write_model

    rs = _load(rules_dir, "off")
    tags = rule_tags(rs)
    items, more = _labelled_or_exit((input_files, extra), tags, "trained")
    scored = [i for i in items if not i.ambiguous]
    short = [t for t in tags if sum(t in i.labels for i in scored) < folds]
    if len(scored) < 10 * folds or short:
        click.echo(f"too few labelled articles to train ({len(scored)}; each tag needs at least {folds} "
                   f"positives{': ' + ', '.join(short) + ' has fewer' if short else ''})", err=True)
        sys.exit(1)
    click.echo(f"training on {len(scored)} articles (+{len(more)} extra), {folds} folds…", err=True)
    trained = learn(rs, items, tags, extra=more, folds=folds, c=c, min_df=min_df)
    cv = {t: {k: f.as_dict() for k, f in by.items()} for t, by in trained.cv.items()}
    about = {"trained": datetime.now(UTC).strftime("%Y-%m-%d"), "articles": trained.items,
             "files": [p.name for p in (*input_files, *extra)], "folds": trained.folds, "c": c,
             "min_df": min_df, "cv": cv}
    out.parent.mkdir(parents=True, exist_ok=True)
    write_model(out, tags=trained.tags, bias=trained.bias, veto=trained.veto, rescue=trained.rescue,
                table=trained.table, options=Options(), about=about)
    means = {k: round(mean_f1(trained.cv, k), 4) for k in ("rules", "veto", "both")}
    if as_json:
        click.echo(orjson.dumps({"out": str(out), "features": len(trained.table), "tags": list(trained.tags),
                                 "veto": trained.veto, "rescue": trained.rescue, **about,
                                 "cv_mean_f1": means}).decode())
        return
    click.echo(f"{'tag':<26} {'veto':>5} {'rescue':>6}   rules P / R      veto P / R       both P / R")
    for i, t in enumerate(trained.tags):
        row = trained.cv[t]
        figs = "   ".join(f"{_fmt(row[k].precision)} / {_fmt(row[k].recall)}" for k in ("rules", "veto", "both"))
        rescue = "never" if trained.rescue[i] > 1 else f"{trained.rescue[i]:.3f}"
        click.echo(f"{t:<26} {trained.veto[i]:>5.2f} {rescue:>6}   {figs}")
    click.echo(f"mean per-tag F1: rules {means['rules']:.4f}, veto {means['veto']:.4f}, both {means['both']:.4f} "
               f"(compare runs with another --c or --min-df on the same files by these)")
    click.echo(f"wrote {out} ({len(trained.table)} features, {out.stat().st_size:,} bytes)")


@rules.command("update")
@click.option("--rules", "rules_dir", type=click.Path(path_type=Path), default=None,
              help="Rules folder (default: MONITOR_RULES, ./rules): its rules give the texts, calls and rescue "
              "needs; its learned file names the model to update unless --model does.")
@click.option("--model", "model_path", type=click.Path(path_type=Path, dir_okay=False, exists=True), default=None,
              help="The model to update (default: the one the rules folder's learned file names).")
@click.option("--out", "out", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="The model file to write (gzip when it ends in .gz).")
@click.option("--anchor", "anchors", multiple=True, type=click.FloatRange(min=0, min_open=True),
              help="An anchor strength to try (repeatable; default: 256, 64, 16, 4, 1). Larger keeps the model "
              "closer to what it was.")
@click.option("--folds", type=click.IntRange(2, 20), default=5, show_default=True,
              help="Cross-validation folds for choosing the anchor.")
@click.option("--json", "as_json", is_flag=True, help="Write the figures as one JSON document.")
@click.argument("input_files", nargs=-1, required=True,
                type=click.Path(path_type=Path, dir_okay=False, exists=True))
def update_(rules_dir: Path | None, model_path: Path | None, out: Path, anchors: tuple[float, ...], folds: int,
            as_json: bool, input_files: tuple[Path, ...]) -> None:
    """Move the learned check's model with new labelled articles, keeping its vocabulary and thresholds.

    For when the model's training texts are not at hand, or news has moved on (a new war, new names): each
    tag's weights are refitted on the new articles with a pull toward the model's own numbers (the anchor),
    so what the old texts taught stays wherever the new ones say nothing. The anchor is chosen by
    cross-validation on the new articles: the strongest one whose mean per-tag F1 (the combined call, with
    the model's thresholds) is within 0.001 of the best; if none beats the model as it is, the model is
    written unchanged (with --json, "anchor" is then null). Prints each anchor's figures beside the model's
    own. Score the result on articles it did not see (`monitor rules eval --baseline`) before you ship it.

    Needs scikit-learn: pip install -e '.[train]'.

    \b
    Example:
      monitor rules update --out /tmp/updated.json.gz fresh-*.jsonl
    """
    try:
        from monitor.rules.update import ANCHORS, update
    except ImportError as exc:  # pragma: no cover - the dev extra has it
        click.echo(f"updating needs scikit-learn and scipy ({exc}): pip install -e '.[train]'", err=True)
        sys.exit(1)
    from datetime import UTC, datetime

    from monitor.rules.learned import LearnedModel, ModelInvalid, write_model

    rs = _load(rules_dir, "off")
    if model_path is None:
        if rs.learned is None:
            click.echo("the rules folder names no learned model: give one with --model", err=True)
            sys.exit(1)
        model = rs.learned
    else:
        try:
            model = LearnedModel.load(model_path)
        except ModelInvalid as exc:
            click.echo(f"{model_path}: {exc}", err=True)
            sys.exit(1)
    (items,) = _labelled_or_exit((input_files,), rule_tags(rs), "updated")
    scored = [i for i in items if not i.ambiguous]
    if len(scored) < 10 * folds:
        click.echo(f"too few labelled articles to update ({len(scored)}; at least {10 * folds})", err=True)
        sys.exit(1)
    click.echo(f"updating model {model.version} on {len(scored)} articles, {folds} folds…", err=True)
    up = update(model, rs, items, anchors=anchors or ANCHORS, folds=folds)
    anchor = None if up.anchor == float("inf") else up.anchor  # None: the model as it is (JSON has no infinity)
    means = {str(a): round(m, 4) for a, m in up.means.items()}
    about = {**model.about, "updated": datetime.now(UTC).strftime("%Y-%m-%d"), "update_of": model.version,
             "update_articles": up.items, "update_files": [p.name for p in input_files], "update_anchor": anchor,
             "update_cv_mean_f1": means}
    out.parent.mkdir(parents=True, exist_ok=True)
    write_model(out, tags=model.tags, bias=up.bias, veto=model.veto, rescue=model.rescue, table=up.table,
                options=model.options, about=about)
    if as_json:
        click.echo(orjson.dumps({"out": str(out), "model": model.version, "articles": up.items,
                                 "anchor": anchor, "moved": up.moved, "cv_mean_f1": means,
                                 "cv": {str(a): {t: {k: c.as_dict() for k, c in by.items()} for t, by in per_tag.items()}
                                        for a, per_tag in up.cv.items()}}).decode())
        return
    click.echo(f"{'anchor':>8}   mean per-tag F1 (both, out of fold)")
    for a, m in up.means.items():
        name = "model" if a == float("inf") else f"{a:g}"
        click.echo(f"{name:>8}   {m:.4f}{'   <- chosen' if a == up.anchor else ''}")
    if anchor is None:
        click.echo(f"no anchor beat the model as it is: wrote it unchanged to {out}")
    else:
        click.echo(f"wrote {out} (anchor {up.anchor:g}; {up.moved:,} of {len(up.table):,} features moved)")
