"""``healthdex replay``: saved pages (a MANIFEST.tsv folder) or a WARC served on 127.0.0.1 under their original URLs.

Use it as the HTTP *and* HTTPS proxy of a crawler (Scrapy: ``request.meta["proxy"] = server.proxy_url`` on every
request, robots.txt included, or the ``http_proxy``/``https_proxy`` environment variables)::

    from replay.server import ReplayServer
    from replay.faults import FaultRule

    with ReplayServer(Path("healthdex/sample/pages")) as server:
        server.faults["https://www.cdc.gov/*"] = FaultRule(status=503, retry_after=5, times=1)
        ...  # crawl through server.proxy_url
        server.request_log  # [RequestLogEntry(time, method, url, status, client, fault), ...]

Modules: :mod:`replay.source` (manifest/WARC loading, URL normalisation, robots/sitemap synthesis),
:mod:`replay.server` (the proxy), :mod:`replay.tls` (throwaway CA), :mod:`replay.faults` (fault rules),
:mod:`replay.cli` (the command).  No Scrapy import anywhere here.
"""
