"""Crawl benchmark: raw Scrapy fetch rate, the stripper alone on every core, and the full healthdex crawl.

    .venv/bin/python bench/crawl.py [--pages 2000] [--workers auto] [--keep DIR]

Generates a replay site of N article pages from the bundled sample pages (each page is a sample page's HTML with
its paragraphs replaced by fresh text, its title made unique, and its links pointing at other pages of the site:
realistic sizes and link structure), serves it with ``healthdex replay`` in a separate process, then measures in
one run:

(a) raw fetch: a bare Scrapy spider that only fetches and follows links through the same proxy;
(b) stripper: ``stripper.build_record`` over the same pages with a process per core;
(c) full pipeline: ``healthdex crawl`` (WARC + extraction + duplicates + JSONL), politeness relaxed for 127.0.0.1;

and prints the three rates and (c) / min(a, b).  ``make_site`` is also used by the crawl tests.
"""

from __future__ import annotations

import argparse
import csv
import html
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "healthdex" / "sample" / "pages"
HOST = "www.healthdex-bench.org"

_P = re.compile(r"(<p\b[^>]*>)(.*?)(</p>)", re.S | re.I)
_TITLE = re.compile(r"(<title\b[^>]*>)(.*?)(</title>)", re.S | re.I)
_H1 = re.compile(r"(<h1\b[^>]*>)(.*?)(</h1>)", re.S | re.I)
_A_HREF = re.compile(r"(<a\b[^>]*?\bhref\s*=\s*)(\"[^\"]*\"|'[^']*')", re.I)
_CANONICAL = re.compile(r"<link\b[^>]*\brel\s*=\s*[\"']?canonical[^>]*>", re.I)
_WORD = re.compile(r"[A-Za-z]{3,}")
_TAG = re.compile(r"<[^>]+>")


def templates() -> list[tuple[str, str]]:
    """(name, html) of the sample pages with enough paragraphs to be articles."""
    out = []
    for path in sorted(SAMPLE.glob("*/*.html")):
        text = path.read_text(encoding="utf-8", errors="replace")
        if len(_P.findall(text)) >= 5:
            out.append((path.name, text))
    return out


def vocabulary(pages: list[tuple[str, str]]) -> list[str]:
    words: set[str] = set()
    for _, text in pages:
        for _, inner, _ in _P.findall(text):
            words.update(w.lower() for w in _WORD.findall(_TAG.sub(" ", inner)))
    return sorted(words)


def page_url(i: int, host: str = HOST) -> str:
    return f"http://{host}/a/{i}.html"


def make_page(i: int, n: int, template: str, words: list[str], host: str = HOST, links: int = 12) -> str:
    """Page ``i`` of ``n``: ``template`` with fresh paragraphs (seeded by i), a unique title, and every link
    pointing at another page of the site (the next page, so all are reachable, and random others)."""
    rng = random.Random(i)

    def paragraph(match: re.Match) -> str:
        count = rng.randint(25, 70)
        sentence = " ".join(rng.choice(words) for _ in range(count))
        return f"{match.group(1)}{sentence.capitalize()}.{match.group(3)}"

    title = f"Health topic {i}: " + " ".join(rng.choice(words) for _ in range(4))
    out = _CANONICAL.sub("", template)
    out = _TITLE.sub(lambda m: m.group(1) + html.escape(title) + m.group(3), out, count=1)
    out = _H1.sub(lambda m: m.group(1) + html.escape(title) + m.group(3), out, count=1)
    out = _P.sub(paragraph, out)
    targets = [(i + 1) % n] + [rng.randrange(n) for _ in range(links - 1)]
    state = {"k": 0}

    def href(match: re.Match) -> str:
        target = targets[state["k"] % len(targets)]
        state["k"] += 1
        return f'{match.group(1)}"{page_url(target, host)}"'

    return _A_HREF.sub(href, out)


def make_site(folder: Path, n: int, *, host: str = HOST, sitemap_pages: int | None = None,
              robots: str | None = None, extra_rows: list[dict] | None = None) -> list[str]:
    """Write ``n`` generated article pages and a MANIFEST.tsv into ``folder``; return the page URLs.

    ``sitemap_pages``: a saved sitemap.xml listing only the first that many pages (the rest are found through
    links); ``robots``: a saved robots.txt body; ``extra_rows``: more manifest rows (``file``, ``original_url``,
    optional ``status``, ``content_type``) whose files the caller writes.
    """
    folder = Path(folder)
    (folder / "a").mkdir(parents=True, exist_ok=True)
    pages = templates()
    words = vocabulary(pages)
    rows = []
    urls = []
    for i in range(n):
        name = f"a/{i}.html"
        (folder / name).write_text(make_page(i, n, pages[i % len(pages)][1], words, host), encoding="utf-8")
        rows.append({"file": name, "original_url": page_url(i, host), "status": "", "content_type": "text/html"})
        urls.append(page_url(i, host))
    if sitemap_pages is not None:
        locs = "".join(f"<url><loc>{u}</loc></url>" for u in urls[:sitemap_pages])
        (folder / "sitemap.xml").write_text(
            f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"{locs}</urlset>\n", encoding="utf-8")
        rows.append({"file": "sitemap.xml", "original_url": f"http://{host}/sitemap.xml", "status": "",
                     "content_type": "application/xml"})
    if robots is not None:
        (folder / "robots.txt").write_text(robots, encoding="utf-8")
        rows.append({"file": "robots.txt", "original_url": f"http://{host}/robots.txt", "status": "",
                     "content_type": "text/plain"})
    rows.extend(extra_rows or [])
    with (folder / "MANIFEST.tsv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, ["file", "original_url", "status", "content_type"], delimiter="\t",
                                extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return urls


def make_profile(folder: Path, name: str = "benchsite", host: str = HOST, *, delay: float = 0.0,
                 concurrency: int = 2, extra: str = "") -> Path:
    """A site profile for the generated site (pages under /a/ are articles)."""
    domain = host.removeprefix("www.")
    path = Path(folder) / f"{name}.toml"
    path.write_text(
        f'site = "{domain}"\ndescription = "generated benchmark site"\nallowed_domains = ["{domain}"]\n'
        f'start_urls = ["http://{host}/a/0.html"]\nsitemaps = ["http://{host}/sitemap.xml"]\n'
        f"article_urls = ['^https?://{re.escape(host)}/a/\\d+\\.html$']\n{extra}\n"
        f"[politeness]\ndownload_delay = {delay}\nconcurrent_requests_per_domain = {concurrency}\n",
        encoding="utf-8")
    return path


# --- measurements ---------------------------------------------------------------------------------------------

def _children_cpu() -> float:
    """CPU seconds of this process's finished children and their reaped descendants (a crawl and its workers)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _process_cpu(pid: int) -> float:
    """CPU seconds a live process (the replay server) has used so far."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_replay(site: Path) -> tuple[subprocess.Popen, str]:
    """``healthdex replay`` in its own process (not sharing the crawler's GIL); returns (process, proxy URL)."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "healthdex", "replay", str(site), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, f"http://127.0.0.1:{port}"
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("replay server exited: " + proc.stderr.read().decode()[-2000:]) from None
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("replay server did not start")


RAW_SPIDER = r'''
import sys, time, json
import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.linkextractors import LinkExtractor

proxy, start, domain = sys.argv[1], sys.argv[2], sys.argv[3]

class Raw(scrapy.Spider):
    name = "raw"
    allowed_domains = [domain]
    links = LinkExtractor(allow_domains=[domain])

    async def start(self):
        yield scrapy.Request(start, meta={"proxy": proxy})

    def parse(self, response):
        for link in self.links.extract_links(response):
            yield scrapy.Request(link.url, meta={"proxy": proxy})

process = CrawlerProcess({"LOG_LEVEL": "ERROR", "ROBOTSTXT_OBEY": False, "CONCURRENT_REQUESTS": 16,
                          "CONCURRENT_REQUESTS_PER_DOMAIN": 16, "DOWNLOAD_DELAY": 0, "COOKIES_ENABLED": False,
                          "TELNETCONSOLE_ENABLED": False})
crawler = process.create_crawler(Raw)
t0 = time.time()
process.crawl(crawler)
process.start()
wall = time.time() - t0
stats = crawler.stats
print(json.dumps({"pages": stats.get_value("response_received_count", 0), "wall": wall,
                  "seconds": stats.get_value("elapsed_time_seconds") or wall}))
'''


def measure_raw(proxy: str, start: str, domain: str) -> dict:
    out = subprocess.run([sys.executable, "-c", RAW_SPIDER, proxy, start, domain], capture_output=True, text=True,
                         cwd=REPO, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def _strip_one(path: str) -> int:
    from stripper import build_record

    url = page_url(int(Path(path).stem))
    return len(build_record(Path(path).read_bytes(), url).get("text") or "")


def measure_stripper(site: Path) -> dict:
    import multiprocessing

    files = sorted(str(p) for p in (site / "a").glob("*.html"))
    for path in files:  # warm the page cache, as the crawl reads from the server's memory/cache
        Path(path).read_bytes()
    cores = os.cpu_count() or 1
    context = multiprocessing.get_context("spawn")  # as the crawl's pool; workers are reaped children (CPU counted)
    with context.Pool(cores) as pool:
        pool.map(_strip_one, files[:cores])  # workers import the stripper before timing
        t0 = time.time()
        sizes = pool.map(_strip_one, files, chunksize=8)
        elapsed = time.time() - t0
    return {"pages": len(files), "seconds": elapsed, "cores": cores, "empty": sum(1 for s in sizes if not s)}


def measure_full(proxy: str, profile: Path, out: Path, workers: str) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    args = [sys.executable, "-m", "healthdex", "crawl", str(profile), "--proxy", proxy, "--out", str(out),
            "--delay", "0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=16",
            "-s", "DOWNLOAD_SLOTS={}", "-s", "HEALTHDEX_PROGRESS=false"]
    if workers != "default":
        args += ["--workers", workers] if workers != "auto" else ["-s", "HEALTHDEX_EXTRACT_WORKERS=auto"]
    t0 = time.time()
    done = subprocess.run(args, capture_output=True, text=True, cwd=REPO, timeout=7200)
    elapsed = time.time() - t0
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    report = json.loads((out / "crawl-report.json").read_text())
    articles = sum(1 for _ in (out / "articles.jsonl").open())
    return {"pages": report["pages_fetched"], "articles": articles, "wall": elapsed,
            "seconds": report["duration_s"], "workers": report.get("extract_workers")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--workers", default="default", help="extraction workers for (c): N, auto or default")
    parser.add_argument("--keep", type=Path, help="generate the site and outputs here and keep them")
    args = parser.parse_args(argv)
    root = args.keep or Path(tempfile.mkdtemp(prefix="healthdex-bench-crawl-"))
    site = root / "site"
    shutil.rmtree(site, ignore_errors=True)
    t0 = time.time()
    urls = make_site(site, args.pages)
    size = sum(p.stat().st_size for p in (site / "a").glob("*.html"))
    print(f"site: {len(urls)} pages, {size / len(urls) / 1024:.0f} KB average, generated in {time.time() - t0:.1f}s "
          f"({site})", flush=True)
    profile = make_profile(root, "benchsite", concurrency=16)
    replay, proxy = start_replay(site)
    cpu: dict[str, tuple[float, float]] = {}  # stage -> (CPU s of the stage's processes, CPU s of the server)

    def timed(stage: str, measure, *measure_args):
        own, server = _children_cpu(), _process_cpu(replay.pid)
        result = measure(*measure_args)
        cpu[stage] = (_children_cpu() - own, _process_cpu(replay.pid) - server)
        return result

    try:
        raw = timed("a", measure_raw, proxy, urls[0], HOST.removeprefix("www."))
        print(f"(a) raw Scrapy fetch:  {raw['pages']} pages in {raw['seconds']:.1f}s crawling "
              f"({raw['wall']:.1f}s process wall)", flush=True)
        strip = timed("b", measure_stripper, site)
        print(f"(b) stripper alone:    {strip['pages']} pages in {strip['seconds']:.1f}s on {strip['cores']} cores",
              flush=True)
        full = timed("c", measure_full, proxy, profile, root / "out", args.workers)
        print(f"(c) healthdex crawl:   {full['pages']} pages ({full['articles']} articles) in {full['seconds']:.1f}s "
              f"crawling ({full['wall']:.1f}s process wall), {full['workers']} extraction workers", flush=True)
    finally:
        replay.send_signal(signal.SIGINT)
        try:
            replay.wait(timeout=10)
        except subprocess.TimeoutExpired:
            replay.kill()
    rate_a = raw["pages"] / raw["seconds"]
    rate_b = strip["pages"] / strip["seconds"]
    rate_c = full["articles"] / full["seconds"]
    print()
    print(f"{'stage':<34}{'pages/s':>10}")
    print(f"{'(a) raw Scrapy fetch':<34}{rate_a:>10.1f}")
    print(f"{'(b) stripper alone, all cores':<34}{rate_b:>10.1f}")
    print(f"{'(c) full pipeline (articles/s)':<34}{rate_c:>10.1f}")
    print(f"(c)/min(a,b) = {rate_c / min(rate_a, rate_b):.2f}  (goal >= 0.80; (a) and (c) timed from spider open "
          f"to close, (b) the pool's map)")
    print()
    print("CPU per page (ms): what each stage costs the machine; (c) pays for fetching and stripping on the same cores")
    stages = (("a", "(a) raw Scrapy fetch", raw["pages"]), ("b", "(b) stripper alone", strip["pages"]),
              ("c", "(c) full pipeline", full["pages"]))
    for stage, label, pages in stages:
        own, server = cpu[stage]
        print(f"  {label:<24} {1000 * own / pages:6.1f}  + replay server {1000 * server / pages:4.1f}"
              + ("  (worker start-up included)" if stage == "b" else ""))
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
