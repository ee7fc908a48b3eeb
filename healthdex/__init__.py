"""healthdex: crawl health articles politely, strip boilerplate, index and search them.

The data flow is visible in the package layout:
``crawler`` (Scrapy: spiders, middlewares, pipelines, profiles) -> WARC + ``stripper`` (BeautifulSoup only)
-> JSONL -> ``indexer`` (Whoosh) -> ``search_cli``.  ``replay`` serves saved pages over loopback HTTP.
This package holds only the command-line entry point, the demo and the bundled sample site.
"""

__version__ = "0.1.0"
