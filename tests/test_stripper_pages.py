"""Real health pages from eight sites (the bundled sample's pages, plus copies in tests/data/pages with provenance in
SOURCES.tsv): article sentences and metadata present, site furniture absent.  Nothing here is special-cased in the
stripper."""

from __future__ import annotations

import csv
from pathlib import Path

from stripper import build_record

PAGES = Path(__file__).parent / "data" / "pages"
SAMPLE = Path(__file__).parent.parent / "healthdex" / "sample" / "pages"


def _manifest(path: Path) -> dict[str, dict]:
    return {row["file"]: row for row in csv.DictReader(path.open(encoding="utf-8"), delimiter="\t")}


SOURCES = _manifest(PAGES / "SOURCES.tsv")
ALL_SOURCES = {**_manifest(SAMPLE / "MANIFEST.tsv"), **SOURCES}


def record(name: str) -> dict:
    path = PAGES / name if (PAGES / name).is_file() else SAMPLE / name
    return build_record(path.read_bytes(), ALL_SOURCES[name]["original_url"] or None)


def test_sources_cover_every_page() -> None:
    files = {p.relative_to(PAGES).as_posix() for p in PAGES.rglob("*.html")}
    assert files == set(SOURCES)
    for row in SOURCES.values():
        assert row["source_repo"] and row["license"]


def test_healthline_medical_page() -> None:
    r = record("healthline.com/nutrition-how-to-overcome-binge-eating.html")
    text = r["text"]
    assert text.startswith("Binge eating disorder (BED) is considered the most common feeding and eating disorder")
    assert "Setting a regular eating schedule and sticking to it is one of the most effective ways" in text
    assert text.endswith("with the right treatment plan and healthy lifestyle modifications.")
    for furniture in ("Medically reviewed by", "Written by", "Sign up", "Newsletters", "Read this next"):
        assert furniture not in text
    assert not text.startswith("Nutrition")  # the section label above the headline
    assert r["title"] == "15 Helpful Tips to Overcome Binge Eating"
    assert r["title"] not in text
    assert r["authors"] == ["Rachael Link, MS, RD"]
    assert r["reviewers"] == ["Kaitlynn Fortunato Greenberg, RD, LD"]
    assert r["published"].startswith("2019-11-14")
    assert r["page_type"] == "MedicalWebPage"
    assert r["site_name"] == "Healthline"
    assert r["language"] == "en"


def test_webmd_news() -> None:
    r = record("webmd.com/allergies-news-20150220-child-peanut-allergy-findings.html")
    text = r["text"]
    assert "Feeding babies snacks made with peanuts before their first birthday appears to prevent" in text
    assert "A new skin patch called Viaskin allowed people with peanut allergies" in text
    for furniture in ("Email a Friend", "Print Article", "Allergies Health Center", "WebMD Home", "Reviewed by"):
        assert furniture not in text
    assert r["title"] == "Babies Who Eat Peanuts Early May Avoid Allergy"
    assert r["title"] not in text
    assert r["authors"] == ["Brenda Goodman, MA"]
    assert r["reviewers"] == ["Hansa D. Bhargava, MD"]
    assert r["published"] == "2015-02-23"  # from the news dateline opening the story
    assert r["site"] == "webmd.com"


def test_medicalnewstoday_article() -> None:
    r = record("medicalnewstoday.com/articles-318674.html")
    text = r["text"]
    assert text.startswith("Neuroscience tells us that most of the work done by our brains happens on an unconscious")
    assert "the brain has reached that threshold of evidence accumulation" in text
    for furniture in ("Medically reviewed by", "Share on Pinterest", "Related coverage", "Sign up", "Newsletter"):
        assert furniture not in text
    assert r["authors"] == ["Ana Sandoiu"]
    assert r["reviewers"] == ["Daniel Murrell, MD"]
    assert r["published"].startswith("2017-07-27")
    assert r["page_type"] == "NewsArticle"
    assert "Neurology / Neuroscience" in r["categories"]
    assert r["canonical_url"] == "https://www.medicalnewstoday.com/articles/318674"
    assert r["id"] == "https://www.medicalnewstoday.com/articles/318674"


def test_nhs_2009_news() -> None:
    r = record("nhs.uk/news-2009-09september-pages-newalzheimersgenesfound.html")
    text = r["text"]
    assert "Genetic research has brought a “cure for Alzheimer’s a step closer”, according to The Times" in text
    assert "Both of the studies confirmed their findings in separate populations and the findings are reliable." in text
    assert "Monday September 7 2009" not in text  # the dateline is metadata
    for furniture in ("Skip to main content", "Accessibility", "Terms and conditions"):
        assert furniture not in text
    assert r["published"] == "2009-09-07"
    assert r["title"] == "Genes that greatly increase the risk of Alzheimer's disease have been discovered"


def test_cdc_question_and_answer_page() -> None:
    r = record("cdc.gov/h1n1flu-vaccination-vaccine-safety-qa.html")
    text = r["text"]
    assert "Are the 2009 H1N1 influenza vaccines safe?" in text  # in-body headings stay
    assert "The 2009 H1N1 influenza vaccine is showing a similar safety profile to seasonal flu vaccines" in text
    assert "CDC encourages you to stay informed by checking the following web sites often" in text
    for furniture in ("Skip directly to", "Page last", "Contact Us", "Get email updates", "USA.gov"):
        assert furniture not in text
    assert r["published"].startswith("2009-12-15")
    assert r["title"] == "General Questions and Answers on 2009 H1N1 Influenza Vaccine Safety"


def test_medlineplus_news() -> None:
    r = record("nlm.nih.gov/medlineplus-news-fullstory-99966.html")
    text = r["text"]
    assert text.startswith("CHICAGO (Reuters) - A study of brain scans has confirmed the role of several genes")
    assert "the most common cause of dementia that affects 26 million people globally" in text
    for furniture in (
        "URL of this page",
        "Related MedlinePlus Pages",
        "More Health News on",
        "Page last updated",
        "Copyright Thomson Reuters",
    ):
        assert furniture not in text
    assert r["published"] == "2010-06-14"
    assert r["updated"] == "2010-06-15"


def test_cancer_org_table_layout() -> None:
    r = record("cancer.org/sondhi-reliable-132.html")
    text = r["text"]
    assert text.startswith("The Food and Drug Administration (FDA) recently green-lighted Cervarix")
    assert "HPV is a group of more than 100 related viruses" in text
    assert " | " not in text  # paragraphs in a layout table are paragraphs, not table cells
    for furniture in ("Article date", "Members of the ACS Medical Content Staff", "Rebecca"):
        assert furniture not in text
    assert r["title"] == "FDA Approves Second HPV Vaccine"
    assert r["published"] == "2009-10-21"
    assert r["reviewers"] == ["Members of the ACS Medical Content Staff"]
    assert r["url"] is None and r["id"] is None and r["site"] is None  # no URL known for this capture


def test_livestrong_article() -> None:
    r = record("livestrong.com/article-5802-need-ornish-diet-vs-atkins-index.html")
    text = r["text"]
    assert text.startswith("1. These Two Diets Are Polar Opposites")
    assert "Such a diet is similar to the Mediterranean diet" in text
    for furniture in ("Text size", "Post a comment", "Send To Friend", "Last updated on"):
        assert furniture not in text
    assert r["categories"] == ["Weight Management", "Popular Diets", "Ornish Diet"]
    assert r["site_name"] == "LIVESTRONG.COM"
    assert r["language"] == "en-US"
    # rel=canonical on the same site gives the record id
    assert r["id"] == "http://www.livestrong.com/article/5802-need-ornish-diet-vs-atkins/"
