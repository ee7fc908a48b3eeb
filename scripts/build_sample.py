"""Rebuild the bundled sample site (healthdex/sample/) from ../shared/data/health-pages.

Run once by maintainers; real users never need ../shared.  The sample keeps the shared MANIFEST's columns
(original URL, source, license) and adds the wisegeek.net page reconstructed from ../shared/seed/.
"""

from __future__ import annotations

import csv
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED_PAGES = REPO.parent / "shared" / "data" / "health-pages"
SAMPLE = REPO / "healthdex" / "sample"

# Pages chosen for the sample: article pages of sites that have bundled profiles, with original URLs known.
# (livestrong.com's /<topic>/index.html pages are link hubs, not articles, so they are left out.)
CHOSEN = [
    "webmd.com/a-to-z-guides-news-20150417-superbugs-what-they-are.html",
    "webmd.com/allergies-news-20150220-child-peanut-allergy-findings.html",
    "webmd.com/brain-autism-news-20070705-cues-may-signal-autism-toddlers.html",
    "webmd.com/cold-and-flu-features-is-the-h1n1-swine-flu-vaccine-safe.html",
    "webmd.com/food-recipes-features-eating-organic.html",
    "medicalnewstoday.com/articles-116532.html",
    "medicalnewstoday.com/articles-163133.html",
    "medicalnewstoday.com/articles-318674.html",
    "healthline.com/nutrition-how-to-overcome-binge-eating.html",
    "livestrong.com/article-5802-need-ornish-diet-vs-atkins-index.html",
    "cdc.gov/h1n1flu-vaccination-vaccine-safety-qa.html",
    "nhs.uk/news-2009-09september-pages-newalzheimersgenesfound.html",
    "mayoclinic.com/health-alzheimers-genes-az00047.html",
    "nlm.nih.gov/medlineplus-news-fullstory-99966.html",
]

WISEGEEK_ROW = {
    "file": "wisegeek.net/what-is-the-connection-between-sciatica-and-back-pain.htm.html",
    "site": "wisegeek.net",
    "original_url": "https://www.wisegeek.net/what-is-the-connection-between-sciatica-and-back-pain.htm",
    "source_repo": "healthdex (reconstruction)",
    "source_commit": "",
    "source_path": "../shared/seed/wisegeek-sciatica-back-pain.txt",
    "license": "article text (c) wisegeek.net; markup written for this project",
    "notes": "Reconstructed current wisegeek.net template from the seed page's text capture; not the original HTML",
}


def main() -> int:
    manifest = SHARED_PAGES / "MANIFEST.tsv"
    if not manifest.is_file():
        print(f"build_sample: {manifest} not found", file=sys.stderr)
        return 2
    with manifest.open(encoding="utf-8", newline="") as handle:
        rows = {row["file"]: row for row in csv.DictReader(handle, delimiter="\t")}
    columns = list(WISEGEEK_ROW)
    out_rows = []
    for name in CHOSEN:
        target = SAMPLE / "pages" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SHARED_PAGES / name, target)
        out_rows.append({column: rows[name].get(column, "") for column in columns})
    out_rows.append(WISEGEEK_ROW)
    with (SAMPLE / "pages" / "MANIFEST.tsv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(out_rows)
    print(f"build_sample: {len(out_rows)} pages in {SAMPLE / 'pages'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
