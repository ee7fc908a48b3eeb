"""Scrapy settings for the healthdex crawler, with every healthdex knob documented here.

``scrapy crawl health -a profile=NAME`` reads this module (scrapy.cfg); ``healthdex crawl`` starts from it and
overrides what its options say.  Politeness is on by default: robots.txt, a delay between the requests to a site
(one at a time; AutoThrottle may lengthen it), and a User-Agent naming the tool and a contact.
"""

from healthdex import __version__
from healthdex.records import DEFAULT_DOWNLOAD_MAXSIZE

BOT_NAME = "healthdex"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

# --- politeness -------------------------------------------------------------------------------------------
ROBOTSTXT_OBEY = True
ROBOTSTXT_PARSER = "scrapy.robotstxt.ProtegoRobotParser"
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 1.0
DOWNLOAD_DELAY_JITTER = 0.5  # each delay varies by ±50%
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
# A site's delay is a floor (crawler.politeness): each request starts at least the larger of its profile's delay and
# robots.txt's ``Crawl-delay`` after the previous request to the host ended; AutoThrottle and jitter only add to it.
# Crawl-delay is capped at this many seconds; a profile's ``politeness.max_crawl_delay`` overrides the cap for its site.
HEALTHDEX_MAX_CRAWL_DELAY = 30.0
DOWNLOAD_HANDLERS = {
    "http": "crawler.politeness.PoliteHTTPDownloadHandler",
    "https": "crawler.politeness.PoliteHTTPDownloadHandler",
}
USER_AGENT = f"healthdex/{__version__} (+https://github.com/healthdex/healthdex)"
HEALTHDEX_USER_AGENT_TEMPLATE = "healthdex/{version} (+{contact})"

# --- limits -----------------------------------------------------------------------------------------------
DOWNLOAD_MAXSIZE = DEFAULT_DOWNLOAD_MAXSIZE  # 10 MiB; larger responses are dropped and counted
# DOWNLOAD_MAXSIZE is the per-page memory/time cap.  It also bounds decompressed bodies (a gzip/deflate/brotli bomb
# is cut there) and bodies without Content-Length.  The WARC keeps such a page's raw body; the warcinfo record
# names the limit, and ``healthdex clean`` over the WARC drops the same pages (healthdex.records).
# Measured here (tests/test_faults_http.py, bench/faults.py):
# under every hostile-server fault the crawl process peaked at 150-170 MB; extracting a page costs ~2 s and
# ~40 MB per MB of markup, so one page at the cap is ~20-30 s and ~500 MB in an extraction worker.
# DOWNLOAD_TIMEOUT bounds a stalled or trickling (slowloris) response; each retry then waits (backoff below).
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024
DOWNLOAD_TIMEOUT = 30
# At most this many link hops from a start URL or sitemap entry (0: no link is followed; -1: no limit); ``--max-depth``
# sets it, a profile's ``limits.max_depth`` lowers it for its site.  Unlike Scrapy's DEPTH_LIMIT (which also applies),
# 0 means none: the spider does not follow the links of a page at the limit (counted as ``depth_limited``).
HEALTHDEX_MAX_DEPTH = 5
# At most this many requests to the network per run (0: no limit); ``--max-pages`` sets it with
# CLOSESPIDER_PAGECOUNT.  A profile's ``limits.max_pages`` limits its site (crawler.middlewares.page_limit).
HEALTHDEX_MAX_PAGES = 0  # with --redis: all workers of the crawl together (crawler.distributed.page_limit)
RETRY_ENABLED = True
RETRY_TIMES = 2
REDIRECT_MAX_TIMES = 10
# Retries wait (crawler.middlewares.backoff): a response's Retry-After (capped at HEALTHDEX_RETRY_AFTER_MAX
# seconds), otherwise BASE * 2**(attempt-1) seconds capped at HEALTHDEX_RETRY_BACKOFF_MAX.
HEALTHDEX_RETRY_BACKOFF_BASE = 1.0
HEALTHDEX_RETRY_BACKOFF_MAX = 30.0
HEALTHDEX_RETRY_AFTER_MAX = 60.0
# Pages that could not be fetched are listed with their reason in the crawl report (crawler.middlewares.failures),
# at most this many URLs (counts by reason are always complete).
HEALTHDEX_FAILED_PAGES_MAX = 1000
# robots.txt is read up to this many bytes, cut at a line break, as search engines do (middlewares.robots_cap).
HEALTHDEX_ROBOTSTXT_MAX_BYTES = 500 * 1024
# Content types crawled (crawler.middlewares.scope); others are dropped and counted.  A trailing "/" is a prefix.
# Only HTML pages can become articles; robots.txt and sitemaps may also be XML, text or gzip.
HEALTHDEX_PAGE_CONTENT_TYPES = ["text/html", "application/xhtml+xml"]
HEALTHDEX_SITEMAP_CONTENT_TYPES = [
    "application/xml",
    "text/xml",
    "text/plain",
    "application/gzip",
    "application/x-gzip",
    "application/octet-stream",
]
# Request fingerprints (the duplicate filter) use the canonical URL: no tracking parameters, no fragment.
REQUEST_FINGERPRINTER_CLASS = "crawler.fingerprint.CanonicalUrlFingerprinter"

# --- healthdex ------------------------------------------------------------------------------------------
# Output folder: pages.warc.gz (every raw response), articles.jsonl (clean articles), crawl-report.json.
HEALTHDEX_OUT_DIR = "healthdex-crawl"
# gzip level of the WARC's records (1 fastest .. 9 smallest); 6 costs a third of 9's CPU for ~0.4% more bytes.
# Compressed with libdeflate when the ``deflate`` package is installed (half zlib's CPU at 6, 1% smaller), else zlib.
HEALTHDEX_WARC_GZIP_LEVEL = 6
# An HTTP proxy every request goes through, e.g. ``healthdex replay`` ("http://127.0.0.1:8765"); empty: none.
HEALTHDEX_PROXY = ""
# Processes extracting articles off the reactor thread; 0 extracts inline; "auto": one per core (0 on one core).
HEALTHDEX_EXTRACT_WORKERS = "auto"
# Resume and re-crawl (crawler.warc_cache): Scrapy's HttpCacheMiddleware over the crawl's own WARC.  A crawl whose
# process died (crawl-state.json still "running") is answered from what the WARC holds from it; a re-crawl sends
# If-None-Match / If-Modified-Since from the earlier capture; on a 304 (or a 5xx, or a download error: RFC2616Policy)
# the stored page stands and is not re-emitted.  False: neither.
HTTPCACHE_ENABLED = True
HTTPCACHE_STORAGE = "crawler.warc_cache.WarcCacheStorage"
HTTPCACHE_POLICY = "crawler.warc_cache.RevalidatePolicy"
# Near duplicates: MinHash over word shingles of the clean text; estimated Jaccard >= threshold is a duplicate
# (0 turns near-duplicate detection off; exact duplicates are always recorded).
HEALTHDEX_NEAR_DUPLICATE_THRESHOLD = 0.9
HEALTHDEX_MINHASH_PERMUTATIONS = 128
HEALTHDEX_SHINGLE_SIZE = 5
# The live progress line: "auto" (only when stderr is a terminal), true or false; redrawn every N seconds.
HEALTHDEX_PROGRESS = "auto"
HEALTHDEX_PROGRESS_INTERVAL = 1.0

DOWNLOADER_MIDDLEWARES = {
    "crawler.middlewares.robots_cap.RobotsTxtCapMiddleware": 120,  # robots.txt beyond 500 KiB is ignored
    # Scrapy's RetryMiddleware, but each retry waits (Retry-After or exponential backoff).
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.middlewares.backoff.BackoffRetryMiddleware": 550,
    # Only reads Content-Type: a response of a type the crawl does not use is dropped (after capture, 950).
    "crawler.middlewares.scope.ScopeMiddleware": 650,
    "crawler.middlewares.proxy.ProxyMiddleware": 700,  # before HttpProxyMiddleware (750)
    # Scrapy's HttpCacheMiddleware (900; crawler.warc_cache): answers resumed requests from the WARC, turns a 304
    # into the stored page after the 304 is captured.
    # After the cache (answers from the WARC do not count): refuses requests past the page limits.
    "crawler.middlewares.page_limit.PageLimitMiddleware": 920,
    # After decompression would lose the bytes as received: 950 sees the response first.
    "crawler.middlewares.warc_capture.WarcCaptureMiddleware": 950,
}
SPIDER_MIDDLEWARES = {
    # Failed pages + reason -> crawl report; also drops and names redirects leaving the profiles, and loops.
    "crawler.middlewares.failures.FailedPagesMiddleware": 950,
}
ITEM_PIPELINES = {
    "crawler.pipelines.recrawl.RecrawlPipeline": 100,  # drops what is already written / unchanged; gone records
    "crawler.pipelines.extract.ExtractArticlePipeline": 300,
    "crawler.pipelines.duplicates.DuplicatesPipeline": 500,
    "crawler.pipelines.jsonl_writer.JsonLinesWriterPipeline": 900,
}
EXTENSIONS = {
    "scrapy.extensions.telnet.TelnetConsole": None,
    "crawler.extensions.crawl_state.CrawlStateExtension": 400,
    "crawler.report.CrawlReport": 500,
    "crawler.extensions.progress.ProgressLine": 600,
}

# --- Scrapy housekeeping ----------------------------------------------------------------------------------
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = "INFO"
COOKIES_ENABLED = False
# Scrapy starts this many asyncio tasks for every callback's output (2.13+), whatever it yields; a page yields one
# article and its links, and the article's extraction already runs in the process pool, so 100 (the default)
# only cost the reactor ~2 ms of task bookkeeping per page.
CONCURRENT_ITEMS = 8

# --- distributed (scrapy-redis) ---------------------------------------------------------------------------
# ``healthdex crawl --redis URL`` (or -s HEALTHDEX_REDIS_URL=URL) makes this process one worker of a crawl shared
# through Redis: crawler.distributed.enable() switches SCHEDULER and adds a spider
# middleware, a pipeline and an extension (see crawler/distributed/__init__.py for the keys and guarantees).
# Redis URL, e.g. "redis://127.0.0.1:6379/0"; empty: an ordinary single-process crawl.
HEALTHDEX_REDIS_URL = ""
# Names the crawl's keys in Redis; workers with the same id share frontier and duplicate filter.
# Empty: the crawl's profile names, sorted and comma-joined ("cdc,webmd").
HEALTHDEX_REDIS_CRAWL_ID = ""
# This worker's id (heartbeat, in-flight requests, output folder OUT/worker-<id>); empty: "<hostname>-<pid>".
HEALTHDEX_REDIS_WORKER_ID = ""
# Seconds the whole crawl must have had no work (frontier empty, nothing in flight anywhere) before a worker stops.
HEALTHDEX_REDIS_IDLE_TIMEOUT = 30.0
# Seconds between a worker's heartbeats (also: acknowledging finished requests, rescuing dead workers' requests).
HEALTHDEX_REDIS_HEARTBEAT_INTERVAL = 1.0
# A worker silent this long is dead: its in-flight requests go back to the frontier.  Must exceed the interval.
HEALTHDEX_REDIS_WORKER_TIMEOUT = 30.0
# The heartbeat is beaten off the reactor thread (a worker busy extracting a big page is not dead), while the reactor
# has ticked in the last this many seconds; a worker stalled longer is treated as dead (its requests are redone).
HEALTHDEX_REDIS_STALL_TIMEOUT = 600.0
# Space requests to each host crawl-wide through Redis (per-host send-time reservation); False: per worker only.
HEALTHDEX_REDIS_POLITENESS = True
# Exact and near duplicates detected across all workers through Redis (crawler.distributed.duplicates);
# False: each worker compares only against what it wrote itself.
HEALTHDEX_REDIS_SHARED_DUPLICATES = True
