"""MediaWiki XML dumps (`.xml`, `.xml.bz2`) -> article pages as plain text, streamed.

`iter_pages` walks the dump with `iterparse` and clears each page once it is read, so memory
stays flat however large the dump is. `wikitext_to_text` turns wikitext into plain text with
mwparserfromhell: templates, references, tables, files/images, categories, interlanguage links,
comments and math are dropped; link text, list items and headings stay as plain lines.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO
from urllib.parse import quote

from pairforge.tasks.core.shards import log

ARTICLE_NAMESPACE = 0
# Namespace keys whose links are not prose: media (-2), files (6), categories (14); matched by name.
DROPPED_LINK_NAMESPACES = {-2, 6, 14}
DEFAULT_DROPPED_PREFIXES = frozenset({"media", "file", "image", "category"})
# Tags whose content is not prose.
DROPPED_TAGS = frozenset({
    "ref", "references", "gallery", "timeline", "math", "chem", "ce", "score", "graph", "mapframe", "maplink",
    "templatedata", "imagemap", "table", "syntaxhighlight", "source", "hiero", "inputbox", "categorytree",
    "noinclude", "includeonly", "onlyinclude", "indicator", "templatestyles",
})  # fmt: skip
_LANGUAGE_PREFIX = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]+)*")  # interlanguage links: [[de:...]], [[zh-min-nan:...]]
_MAGIC_WORD = re.compile(r"__[A-Z]+__")
_EMPTY_BRACKETS = re.compile(r"\(\s*[,;:]?\s*\)")  # "( )" left where a template stood
_SPACE_BEFORE_PUNCT = re.compile(r"[ \t]+([,.;:!?])")
_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")
_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.S)
_REF = re.compile(r"<ref\b[^>]*?/>|<ref\b[^>]*>.*?</ref\s*>", re.S | re.I)  # an unclosed <ref> loses its tag only
# HTML tags the parser left as text, by name and with attributes as name=value (so "a<b and c>d" stays)
_HTML_TAG = re.compile(
    r"</?(?:blockquote|div|span|small|big|sup|sub|center|font|br|hr|p|s|u|del|ins|code|tt|poem|nowiki|abbr|cite|q|"
    r"var|kbd|samp|ruby|rt|rp|bdi|wbr|mark|em|strong|i|b|table|tr|td|th|caption|ol|ul|li|dl|dt|dd|h[1-6]|pre|"
    r"section|ref|references|gallery|math|chem|score|syntaxhighlight|source|templatestyles)"
    r"(?:\s+[\w-]+\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s<>]+))*\s*/?>", re.I)
_APOSTROPHES = re.compile(r"'{2,}")  # bold/italic quotes the parser left unmatched
_LEFTOVER_MARKUP = re.compile(r"\{\{|\}\}|\[\[|\]\]|^\{\||^\|")


@dataclass
class SiteInfo:
    """What a dump says about its wiki: the article URL prefix, language and namespace names."""

    base_url: str = ""  # e.g. https://en.wikipedia.org/wiki/ (page titles are appended)
    lang: str | None = None
    dropped_prefixes: frozenset[str] = DEFAULT_DROPPED_PREFIXES
    namespaces: dict[str, int] = field(default_factory=dict)  # lower-case name -> key

    def uri(self, title: str) -> str:
        """The article's URL; "" when the dump names no site."""
        if not self.base_url:
            return ""
        # MediaWiki's own URL encoding: spaces as underscores, these punctuation characters left as they are
        return self.base_url + quote(title.replace(" ", "_"), safe=";@$!*(),/~:")


@dataclass
class WikiPage:
    title: str
    namespace: int
    redirect: bool
    text: str  # the newest revision's wikitext
    uri: str  # "" when the dump has no <base>


@dataclass
class DumpStats:
    """Counts per dump: every page is read; only articles that are not redirects become documents."""

    pages: int = 0
    articles: int = 0
    redirects: int = 0
    other_namespaces: int = 0
    empty: int = 0  # articles with no text left after conversion (set by the reader, which quarantines them)

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


def log_stats(uri: str, stats: DumpStats) -> None:
    """One log line per dump with its counts (to the Prefect run log inside a run, else Python logging)."""
    message = (f"wikipedia {uri}: {stats.pages} pages, {stats.articles} articles, {stats.redirects} redirects "
               f"skipped, {stats.other_namespaces} pages of other namespaces skipped, {stats.empty} empty")
    log(message)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _site_info(elem: ET.Element, ns: str, root: ET.Element) -> SiteInfo:
    base = elem.findtext(f"{ns}base") or ""
    lang = root.get("{http://www.w3.org/XML/1998/namespace}lang")
    namespaces = {}
    for n in elem.iter(f"{ns}namespace"):
        try:
            namespaces[(n.text or "").strip().lower()] = int(n.get("key", ""))
        except ValueError:
            continue
    dropped = {name for name, key in namespaces.items() if key in DROPPED_LINK_NAMESPACES and name}
    # https://en.wikipedia.org/wiki/Main_Page -> https://en.wikipedia.org/wiki/
    return SiteInfo(base.rsplit("/", 1)[0] + "/" if "/" in base else base, lang,
                    frozenset(DEFAULT_DROPPED_PREFIXES | dropped), namespaces)


def _namespace(page: ET.Element, ns: str, title: str, site: SiteInfo) -> int:
    """The page's namespace: its <ns> element, or (old dumps) the known prefix of its title."""
    value = page.findtext(f"{ns}ns")
    if value is not None and value.strip().lstrip("-").isdigit():
        return int(value)
    prefix, sep, _ = title.partition(":")
    return site.namespaces.get(prefix.strip().lower(), ARTICLE_NAMESPACE) if sep else ARTICLE_NAMESPACE


def iter_pages(stream: BinaryIO, stats: DumpStats | None = None) -> Iterator[tuple[SiteInfo, WikiPage]]:
    """(site info, page) per page of a dump, read as a stream; `stats` counts every page.

    Raises xml.etree.ElementTree.ParseError on broken XML (pages before it were already yielded)."""
    stats = stats if stats is not None else DumpStats()
    site = SiteInfo()
    root: ET.Element | None = None
    ns = ""
    for event, elem in ET.iterparse(stream, events=("start", "end")):
        if root is None:
            root = elem
            ns = elem.tag[: elem.tag.index("}") + 1] if elem.tag.startswith("{") else ""
            continue
        if event != "end":
            continue
        name = _local(elem.tag)
        if name == "siteinfo":
            site = _site_info(elem, ns, root)
            root.clear()
        elif name == "page":
            title = elem.findtext(f"{ns}title") or ""
            namespace = _namespace(elem, ns, title, site)
            revisions = elem.findall(f"{ns}revision")
            text = (revisions[-1].findtext(f"{ns}text") if revisions else None) or ""
            redirect = elem.find(f"{ns}redirect") is not None or text.lstrip()[:9].lower() == "#redirect"
            root.clear()  # drop the page (and any before it) from the tree: memory stays flat
            stats.pages += 1
            if namespace != ARTICLE_NAMESPACE:
                stats.other_namespaces += 1
            elif redirect:
                stats.redirects += 1
            else:
                stats.articles += 1
            yield site, WikiPage(title, namespace, redirect, text, site.uri(title))


def articles(stream: BinaryIO, stats: DumpStats | None = None) -> Iterator[tuple[SiteInfo, WikiPage]]:
    """Only the pages that are articles (namespace 0) and not redirects."""
    for site, page in iter_pages(stream, stats):
        if page.namespace == ARTICLE_NAMESPACE and not page.redirect:
            yield site, page


# ---- wikitext -> plain text --------------------------------------------------------------------


def _link_prefix(title: str) -> str | None:
    prefix, sep, _ = title.partition(":")
    return prefix.strip().lower() if sep else None


def _render(nodes: Iterable, site: SiteInfo) -> str:
    from mwparserfromhell import nodes as n

    out: list[str] = []
    for node in nodes:
        if isinstance(node, n.Text):
            out.append(str(node.value))
        elif isinstance(node, n.Wikilink):
            out.append(_render_link(node, site))
        elif isinstance(node, n.Tag):
            out.append(_render_tag(node, site))
        elif isinstance(node, n.Heading):
            out.append("\n" + _render(node.title.nodes, site).strip() + "\n")  # a line of its own
        elif isinstance(node, n.ExternalLink):
            out.append(_render(node.title.nodes, site) if node.title else "")
        elif isinstance(node, n.HTMLEntity):
            out.append(node.normalize())
        # templates, template arguments and comments are dropped
    return "".join(out)


def _render_link(node, site: SiteInfo) -> str:
    title = str(node.title).strip()
    if not title.startswith(":"):  # a leading colon makes a visible link even to a file or category
        prefix = _link_prefix(title)
        if prefix is not None and (prefix in site.dropped_prefixes or (
                prefix not in site.namespaces and _LANGUAGE_PREFIX.fullmatch(prefix))):
            return ""
    if node.text is not None:
        return _render(node.text.nodes, site)
    title = title.lstrip(":")
    page, _, fragment = title.partition("#")
    return page or fragment


def _render_tag(node, site: SiteInfo) -> str:
    tag = str(node.tag).strip().lower()
    if tag in DROPPED_TAGS:
        return ""
    if tag == "br":
        return "\n"
    if node.wiki_markup and tag in ("li", "dt", "dd"):
        return ""  # the list marker; the item's text follows as plain text
    if tag in ("li", "dd", "p", "div"):
        return "\n" + (_render(node.contents.nodes, site) if node.contents else "") + "\n"
    return _render(node.contents.nodes, site) if node.contents else ""


def _without_tables(wikitext: str) -> str:
    """Drop {| ... |} tables line by line (nested ones too): the parser leaves some of them as text."""
    if "{|" not in wikitext:
        return wikitext
    kept, depth = [], 0
    for line in wikitext.split("\n"):
        head = line.lstrip()
        if head.startswith("{|"):
            depth += 1
        elif depth and head.startswith("|}"):
            depth -= 1
        elif not depth:
            kept.append(line)
    return "\n".join(kept)


_BRACKETS = re.compile(r"\[\[|\]\]")


@functools.cache
def _link_start(prefixes: frozenset[str]) -> re.Pattern:
    return re.compile(r"\[\[\s*(?:" + "|".join(re.escape(p) for p in sorted(prefixes)) + r")\s*:", re.I)


def _without_file_links(wikitext: str, site: SiteInfo) -> str:
    """Drop [[File:...]]-style links with their captions, nested links and line breaks included
    (the parser leaves a caption that spans lines as text)."""
    starts = _link_start(site.dropped_prefixes)
    out, pos = [], 0
    while (m := starts.search(wikitext, pos)) is not None:
        out.append(wikitext[pos : m.start()])
        depth, end = 1, m.end()
        while depth and (b := _BRACKETS.search(wikitext, end)) is not None:
            depth += 1 if b.group() == "[[" else -1
            end = b.end()
        if depth:  # never closed: drop the rest of its line only
            newline = wikitext.find("\n", m.end())
            end = len(wikitext) if newline < 0 else newline
        pos = end
    out.append(wikitext[pos:])
    return "".join(out)


def _unmatched_quotes(m: re.Match) -> str:
    # ''Iliad'''s is the end of an italic title, then an apostrophe
    return "'" if len(m.group()) in (3, 4) and m.string[m.end() : m.end() + 1] == "s" else ""


def wikitext_to_text(wikitext: str, site: SiteInfo | None = None) -> str:
    """Plain text of a page's wikitext: prose, link text, list items and headings as lines."""
    import mwparserfromhell

    site = site or SiteInfo()
    wikitext = _without_file_links(_without_tables(_REF.sub("", _COMMENT.sub("", wikitext))), site)
    text = _render(mwparserfromhell.parse(wikitext, skip_style_tags=False).nodes, site)
    text = _HTML_TAG.sub("", _MAGIC_WORD.sub("", text))
    text = _APOSTROPHES.sub(_unmatched_quotes, text)
    text = _EMPTY_BRACKETS.sub("", text)
    text = _SPACES.sub(" ", text)
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    lines = [line.strip() for line in text.split("\n")]
    # a line still holding unbalanced markup (a template or link the parser could not close) is not prose
    lines = [line for line in lines if not _LEFTOVER_MARKUP.search(line)]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
