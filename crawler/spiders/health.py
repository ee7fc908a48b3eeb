"""The ``health`` spider: crawls one or more sites as their profiles describe.

``scrapy crawl health -a profile=webmd,cdc``.  It starts from each profile's sitemaps (and the sitemaps
that robots.txt announces) and start URLs, follows in-scope links, and yields an ``ArticlePage`` for every
page the profile calls an article.  Politeness per site comes from the profile via download slots.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.http import Response, TextResponse
from scrapy.spiders import SitemapSpider

from crawler.items import ArticlePage, GonePage
from crawler.links import page_links
from healthdex.records import GONE_STATUSES, http_charset, is_html
from healthdex.urls import canonical_url, url_key
from profiles import Profile, ProfileIndex, load_profile


class HealthSpider(SitemapSpider):
    name = "health"
    sitemap_rules = [("", "parse_page")]

    def __init__(self, profile: str = "", *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        names = [p.strip() for p in (profile or "").split(",") if p.strip()]
        if not names:
            raise ValueError("the health spider needs -a profile=NAME[,NAME...] (see `healthdex profiles`)")
        self.profiles: list[Profile] = [load_profile(n) for n in names]
        self.profile_names = ",".join(p.name for p in self.profiles)
        self.profile_index = ProfileIndex(self.profiles)
        self.allowed_domains = sorted({d for p in self.profiles for d in p.allowed_domains})
        self.domains = tuple(self.allowed_domains)
        # The shallowest depth each page was requested at (links as written and canonical URLs: most links of a page
        # were seen on earlier pages, and building, fingerprinting and filtering a Request for each costs more than
        # this lookup), and the pages whose links the depth limit cut, at the depth they were parsed at.  A page met
        # again shallower than it was requested is parsed at that depth; one whose links were cut is fetched again
        # for them (only those: a page parsed deeper but below the limit had all its links followed).
        self.seen_links: dict[str, int] = {}
        self.cut_at: dict[str, int] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> HealthSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        slots = dict(crawler.settings.getdict("DOWNLOAD_SLOTS"))
        for profile in spider.profiles:
            politeness = profile.politeness
            slot = slots.setdefault(profile.name, {})
            if "download_delay" in politeness and "delay" not in slot:
                slot["delay"] = float(politeness["download_delay"])
            if "concurrent_requests_per_domain" in politeness and "concurrency" not in slot:
                slot["concurrency"] = int(politeness["concurrent_requests_per_domain"])
        # Settings are not frozen yet when the spider is created (Crawler.crawl applies them afterwards).
        crawler.settings.set("DOWNLOAD_SLOTS", slots, priority="spider")
        return spider

    def profile_for(self, url: str) -> Profile | None:
        return self.profile_index.for_url(url)

    def _request(self, url: str, callback, dont_filter: bool = False, **meta: Any) -> Request:
        return Request(url, callback=callback, meta=self._meta(url, callback, meta), dont_filter=dont_filter)

    def _meta(self, url: str, callback, meta: dict[str, Any]) -> dict[str, Any]:
        """Per-site politeness (its download slot) and limits (response size) for a request to ``url``'s site."""
        profile = self.profile_for(url)
        if profile is not None:
            meta.setdefault("download_slot", profile.name)
            if "max_response_bytes" in profile.limits:
                meta.setdefault("download_maxsize", int(profile.limits["max_response_bytes"]))
        if callback == self.parse_page:
            meta.setdefault("handle_httpstatus_list", list(GONE_STATUSES))  # so a gone article can be reported
        return meta

    def _meet(self, url: str, depth: int) -> str | None:
        """A page met at ``depth``: "new" (request it), "again" (the limit cut its links at a greater depth: fetch it
        again for them) or None (requested at this depth or shallower, or pending: it will be parsed at ``depth``)."""
        known = self.seen_links.get(url)
        if known is not None and known <= depth:
            return None
        self.seen_links[url] = depth
        if known is None:
            return "new"
        return "again" if self.cut_at.get(url, -1) > depth else None

    async def start(self) -> AsyncIterator[Any]:
        """Sitemaps, the robots.txt of each site (for its ``Sitemap:`` lines), then start URLs.  Start URLs are
        produced lazily, as Scrapy documents (start-requests-lazy): while the crawl has enough to do, the next one
        waits for the scheduler to run empty, so a profile with 200,000 start URLs costs the time and memory of the
        requests under way only (and ``--max-pages 5`` stops after five)."""
        seen_robots: set[str] = set()

        def robots_for(url: str) -> Request | None:
            parts = urlsplit(url)
            robots = f"{parts.scheme}://{parts.netloc}/robots.txt"
            if robots in seen_robots:
                return None
            seen_robots.add(robots)  # sitemap discovery through robots.txt Sitemap: lines
            return self._request(robots, self._parse_sitemap)

        for profile in self.profiles:
            for sitemap in profile.sitemaps:
                yield self._request(sitemap, self._parse_sitemap)
            for sitemap in profile.sitemaps:
                if (robots := robots_for(sitemap)) is not None:
                    yield robots
        engine = self.crawler.engine
        for profile in self.profiles:
            for url in profile.start_urls:
                if (robots := robots_for(url)) is not None:
                    yield robots
                if engine is not None and engine.needs_backout():
                    await self.crawler.signals.wait_for(signals.scheduler_empty)
                self._meet(url_key(url), 0)
                yield self._request(url, self.parse_page)

    def sitemap_filter(self, entries: Iterable[dict[str, Any]]) -> Iterable[dict[str, Any]]:
        for entry in entries:
            profile = self.profile_for(entry.get("loc", ""))
            if profile is not None and profile.in_scope(entry["loc"]):
                yield entry

    def _parse_sitemap(self, response: Response) -> Iterable[Request]:
        for request in super()._parse_sitemap(response):
            request.meta["depth_reset"] = True  # robots → sitemap index → sitemap → entry: depth 0, no link hop
            if request.callback == self.parse_page:
                met = self._meet(url_key(request.url), 0)
                if met is None:
                    continue
                if met == "again":
                    request = request.replace(dont_filter=True, meta={**request.meta, "healthdex_links_only": True})
            self._meta(request.url, request.callback, request.meta)
            yield request

    def parse_page(self, response: Response) -> Iterable[Any]:
        profile = self.profile_for(response.url)
        if response.status in GONE_STATUSES:
            if profile is not None and profile.is_article(response.url):
                yield self._page(GonePage, response, profile)
            return
        content_type = response.headers.get(b"Content-Type", b"").decode("latin-1")
        if profile is None or not isinstance(response, TextResponse):
            self.crawler.stats.inc_value("healthdex/skipped_non_html")
            return
        if profile.is_article(response.url) and not response.meta.get("healthdex_links_only"):
            if is_html(content_type):
                yield self._page(ArticlePage, response, profile)
            else:
                self.crawler.stats.inc_value("healthdex/skipped_non_html")
        # Depth: link hops from a start URL or sitemap entry, from the shallowest this page was met at (Scrapy's
        # DepthMiddleware counts its links from the response's).  Checked before any link is recorded, so a URL first
        # met too deep is followed when met shallower; DEPTH_LIMIT counts too (DepthMiddleware drops none of ours).
        requested = url_key((response.meta.get("redirect_urls") or [response.url])[0])
        depth = response.meta.get("depth", 0)
        depth = response.meta["depth"] = min(depth, self.seen_links.get(requested, depth))
        self.cut_at.pop(requested, None)
        settings = self.crawler.settings
        limits = (settings.getint("HEALTHDEX_MAX_DEPTH", -1), settings.getint("DEPTH_LIMIT") or -1)
        limits = [n for n in (*limits, profile.limits.get("max_depth", -1)) if n >= 0]
        if limits and depth >= min(limits):
            self.cut_at[requested] = depth
            self.crawler.stats.inc_value("healthdex/depth_limited")
            self.crawler.stats.inc_value(f"healthdex/site/{profile.name}/depth_limited")
            return
        seen = self.seen_links
        for link in page_links(response, self.domains):
            if seen.get(link, depth + 2) <= depth + 1:  # this link as written, met at this depth or shallower
                continue
            try:
                url = canonical_url(link)
            except ValueError:  # a bad port: Scrapy could not request it either
                seen[link] = depth + 1
                self.crawler.stats.inc_value("healthdex/skipped_bad_link")
                continue
            if url != link:
                seen[link] = depth + 1
            met = self._meet(url, depth + 1)
            if met and (profile.should_follow(url) or (self.profile_for(url) or profile).should_follow(url)):
                again = met == "again"
                yield self._request(url, self.parse_page, dont_filter=again, healthdex_links_only=again)

    def _page(self, cls: type[ArticlePage], response: Response, profile: Profile) -> ArticlePage:
        redirects = response.meta.get("redirect_urls") or [response.url]
        content_type = response.headers.get(b"Content-Type", b"").decode("latin-1")
        return cls(
            url=redirects[0],
            final_url=response.url,
            status=response.status,
            body=response.body,
            http_charset=http_charset(content_type),
            profile=profile.name,
            selectors=profile.selectors,
            fetched_at=response.meta.get("fetched_at", ""),
            warc_file=response.meta.get("warc_file", ""),
            warc_record_id=response.meta.get("warc_record_id", ""),
            etag=_header(response, b"ETag"),
            last_modified=_header(response, b"Last-Modified"),
            not_modified="unchanged" in response.flags,  # crawler.warc_cache: the stored page stands
        )


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None
