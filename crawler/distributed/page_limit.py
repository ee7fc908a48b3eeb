"""Page limits for the whole distributed crawl: ``--max-pages N`` is N pages sent by all workers together, a
profile's ``limits.max_pages`` its site's pages crawl-wide (in place of ``PageLimitMiddleware``'s counts per process;
``CLOSESPIDER_PAGECOUNT``, per process too, is turned off by :func:`crawler.distributed.enable`).

``scripts.TAKE_PAGE`` counts each request about to be sent in the crawl's ``pages`` hash, atomically.  The counts
belong to the crawl id: once it reached its limit, run it again with a higher one to go on.  A request over a limit
is not dropped but parked (``parked`` set); every worker puts the parked requests back on the frontier when it
starts.  At the crawl-wide limit the worker closes (``closespider_pagecount``), leaving the frontier as it is
(``WorkerLifecycle`` logs what is left for the next run).  Stats: ``distributed/page_limit/parked``.
"""

from __future__ import annotations

import logging

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import deferred_from_coro

from crawler.distributed import scripts
from crawler.distributed.keys import CrawlKeys, crawl_id, redis_from_settings
from crawler.middlewares.page_limit import PageLimitMiddleware

logger = logging.getLogger(__name__)
NO_LIMIT = 2**53  # what TAKE_PAGE is given for a limit of 0 (none)


class SharedPageLimitMiddleware(PageLimitMiddleware):
    def __init__(self, crawler: Crawler, max_pages: int) -> None:
        if not crawler.settings.get("HEALTHDEX_REDIS_URL"):
            raise NotConfigured("HEALTHDEX_REDIS_URL is not set")
        super().__init__(crawler, max_pages)
        self._take = redis_from_settings(crawler.settings).register_script(scripts.TAKE_PAGE)
        self.closing = False

    def take(self, request: Request, site: str, limit: int) -> bool:
        if not (self.max_pages or limit):
            return True
        queue = self.crawler.engine.scheduler.queue
        keys = CrawlKeys(crawl_id(self.crawler.settings, self.crawler.spider))
        args = [self.max_pages or NO_LIMIT, site, limit or NO_LIMIT, queue.member(request), -request.priority]
        result = int(self._take(keys=[keys.pages, queue.inflight_key, keys.parked], args=args))
        if result == 1:
            return True
        queue.inflight.pop(request, None)  # parked in Redis: not this worker's to acknowledge
        self.crawler.stats.inc_value("distributed/page_limit/parked")
        if result == -1 and not self.closing:
            self.closing = True
            logger.info("the crawl reached its page limit (%d pages, all workers); closing", self.max_pages)
            deferred_from_coro(self.crawler.engine.close_spider_async(reason="closespider_pagecount"))
        return False
