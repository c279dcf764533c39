"""Single-talk Markdown: ``speaker``/``speakers`` and metadata in front matter, the body is the summary."""

from __future__ import annotations

from typing import Any

from index_builder.parsers.fields import ContentError, ParsedSource, clean_text, talk_from_fields
from index_builder.parsers.markdown import MarkdownDocument
from index_builder.parsers.recap import first_heading


class SingleTalkMarkdownParser:
    """One talk per file; its title is front matter ``title`` or the first ``# `` heading."""

    def parse(
        self, key: str, front_matter: dict[str, Any], document: MarkdownDocument, *, url: str, date: str, stem: str
    ) -> ParsedSource:
        title = clean_text(front_matter.get("title"))
        if not title and (heading := first_heading(document)):
            start, title = heading  # the heading is the title, not part of the summary
            summary = "\n".join(t for t in (document.text(0, start), document.text(start + 3)) if t)
        else:
            summary = document.text()
        if not title:
            raise ContentError("single talk has no title (front matter 'title' or a '# ' heading)")
        talk_id = clean_text(front_matter.get("id")) or stem
        fields = {**front_matter, "url": url, "date": date}
        result = ParsedSource(problems=list(document.problems))
        result.talks.append(talk_from_fields(fields, talk_id=talk_id, title=title, summary=summary, key=key))
        return result
