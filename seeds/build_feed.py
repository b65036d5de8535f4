"""Build seeds/feed.xml (RSS 2.0) from the seed articles in this folder.

Run `python seeds/build_feed.py` after changing a seed; the output is committed so that the default
feed list works offline. Each item carries the whole page text in <content:encoded>, the first line
as its title, and the file name as its guid.
"""

from __future__ import annotations

from email.utils import format_datetime
from datetime import datetime, timezone
from pathlib import Path
from xml.sax.saxutils import escape

HERE = Path(__file__).resolve().parent
PUBLISHED = {  # from the pages themselves
    "000": datetime(2024, 1, 17, 12, 0, tzinfo=timezone.utc),
    "001": datetime(2024, 4, 16, 12, 0, tzinfo=timezone.utc),
    "002": datetime(2025, 1, 5, 12, 0, tzinfo=timezone.utc),
    "003": datetime(2024, 1, 27, 12, 0, tzinfo=timezone.utc),
    "004": datetime(2024, 5, 5, 12, 0, tzinfo=timezone.utc),
}


def title_of(text: str) -> str:
    for line in text.splitlines():
        line = line.replace("[ad_1]", "").strip()
        if len(line) > 20:
            return line if len(line) <= 160 else line[:157].rsplit(" ", 1)[0] + "…"
    return "(untitled)"


def build() -> str:
    items = []
    for path in sorted(HERE.glob("[0-9][0-9][0-9]_*.txt")):
        text = path.read_text(encoding="utf-8")
        paras = "".join(f"<p>{escape(p.strip())}</p>" for p in text.splitlines() if p.strip())
        first = next((p.strip() for p in text.splitlines() if len(p.strip()) > 40), "")
        items.append(
            "  <item>\n"
            f"    <title>{escape(title_of(text))}</title>\n"
            f"    <link>https://seeds.monitor.invalid/{path.stem}</link>\n"
            f'    <guid isPermaLink="false">seed:{path.stem}</guid>\n'
            f"    <pubDate>{format_datetime(PUBLISHED[path.name[:3]])}</pubDate>\n"
            f"    <description>{escape(first[:400])}</description>\n"
            f"    <content:encoded><![CDATA[{paras}]]></content:encoded>\n"
            "  </item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">\n'
        "<channel>\n"
        "  <title>monitor seed articles</title>\n"
        "  <link>https://seeds.monitor.invalid/</link>\n"
        "  <description>Five real Arabic news pages, as scraped; the offline demo feed.</description>\n"
        "  <language>ar</language>\n" + "\n".join(items) + "\n</channel>\n</rss>\n"
    )


if __name__ == "__main__":
    (HERE / "feed.xml").write_text(build(), encoding="utf-8")
    print(f"wrote {HERE / 'feed.xml'}")
