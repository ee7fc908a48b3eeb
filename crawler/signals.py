"""healthdex's own Scrapy signals (``crawler.signals.connect(handler, signal=...)``)."""

# Sent by ``crawler.politeness.PoliteHTTPDownloadHandler`` as a request goes on the wire, with ``request``, ``site``
# (its profile's name, else its host) and ``gap``: seconds since the previous request to the host (None for the first).
request_sent = object()
