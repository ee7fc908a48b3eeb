"""The boilerplate stripper: HTML page -> article text and health metadata (BeautifulSoup + lxml, no Scrapy).

from stripper import extract_article, build_record, decode_html
"""

from stripper.decode import decode_html
from stripper.pipeline import ExtractionError, build_record, extract_article

__all__ = ["ExtractionError", "build_record", "decode_html", "extract_article"]
