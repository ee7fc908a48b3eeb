"""healthdex's own Scrapy signals (``crawler.signals.connect(handler, signal=...)``)."""

# Sent by ``JsonLinesWriterPipeline`` right after an article line is written and flushed, synchronously (in the same
# call as the write, before the reactor runs anything else), with ``item`` = the record written.  Scrapy's
# ``item_scraped`` comes later: its handlers run as asyncio tasks, after whatever else the event loop has ready.
record_written = object()

# Sent by ``crawler.politeness.PoliteHTTPDownloadHandler`` as a request goes on the wire, with ``request``, ``site``
# (its profile's name, else its host) and ``gap``: seconds since the previous request to the host (None for the first).
request_sent = object()
