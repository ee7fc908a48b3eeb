"""Modern health-publisher templates, as general mechanisms on a fragment: review lines become ``reviewers``,
"Sources" become ``references``, and badges, tables of contents, feedback widgets, inline newsletter and related
cards and advertisement labels stay out of the text."""

from __future__ import annotations

import json

from stripper import extract_article

INTRO = (
    "Tinnitus is the sound of ringing, buzzing or hissing in the ears when no outside sound is present, and it "
    "affects about one in seven adults at some point in their lives."
)
CAUSES = (
    "Exposure to loud noise is the most common cause, followed by age-related hearing loss, ear wax blockage and "
    "some medicines that can damage the inner ear when taken in high doses."
)
CAUSES_2 = (
    "Less often, tinnitus comes from problems with the jaw joint, high blood pressure, or a benign growth on the "
    "nerve that runs from the inner ear to the brain."
)
SYMPTOMS = (
    "Most people hear a constant high-pitched tone, but the sound can also pulse with the heartbeat, which doctors "
    "call pulsatile tinnitus and always investigate further."
)
TREATMENT = (
    "There is no single cure, but sound therapy, hearing aids and cognitive behavioral therapy help many people "
    "notice the sound less and sleep better at night."
)
SOURCE_1 = "Baguley D, et al. (2013). Tinnitus. The Lancet. https://doi.org/10.1016/S0140-6736(13)60142-7"
SOURCE_2 = (
    "Tinnitus. (2023). National Institute on Deafness and Other Communication Disorders. https://www.nidcd.nih.gov"
)

LD = {
    "@context": "https://schema.org",
    "@type": "MedicalWebPage",
    "headline": "Tinnitus: Causes, symptoms and treatment",
    "author": {"@type": "Person", "name": "John Roe"},
}
PAGE = f"""<!DOCTYPE html><html lang="en"><head><title>Tinnitus: Causes, symptoms and treatment</title>
<script type="application/ld+json">{json.dumps(LD)}</script></head><body>
<header class="site-header"><a href="/">Health site</a><nav><a href="/conditions">Conditions</a></nav></header>
<main><article>
<div class="article-header">
  <span class="badge">Evidence Based</span>
  <h1>Tinnitus: Causes, symptoms and treatment</h1>
  <div class="article-info"><span>Medically reviewed by <a href="/reviewers/jane-doe">Jane Doe, MD</a></span> —
  <span>Written by <a href="/authors/john-roe">John Roe</a></span> — <span>Updated on March 3, 2024</span></div>
</div>
<div class="in-this-article"><p>In this article</p><ul>
  <li><a href="#causes">Causes</a></li><li><a href="#symptoms">Symptoms</a></li>
  <li><a href="#treatment">Treatment</a></li><li><a href="#outlook">Outlook</a></li></ul></div>
<p>{INTRO}</p>
<h2 id="causes">Causes</h2><p>{CAUSES}</p>
<div class="ad-container"><span>Advertisement</span></div>
<p>{CAUSES_2}</p>
<div class="card"><h3>Stay in the know</h3><p>Get our free weekly wellness email, with the latest research.</p>
  <form><input type="email"><button>Sign up</button></form></div>
<h2 id="symptoms">Symptoms</h2><p>{SYMPTOMS}</p>
<div class="card"><p>Related</p><a href="/health/hearing-loss"><h3>Everything you need to know about hearing loss</h3>
  <p>Learn about the causes of hearing loss and how doctors treat it.</p></a></div>
<h2 id="treatment">Treatment</h2><p>{TREATMENT}</p>
<div class="widget"><p>Was this helpful?</p><button>Yes</button><button>No</button></div>
<section><h2>How we reviewed this article:</h2>
  <p>Our experts continually monitor the health and wellness space, and we update our articles when new
  information becomes available.</p>
  <h3>Sources</h3><ul><li>{SOURCE_1}</li><li>{SOURCE_2}</li></ul></section>
</article></main>
<footer><p>© 2024 Health Site Media. All rights reserved.</p></footer></body></html>"""


def test_modern_health_article() -> None:
    r = extract_article(PAGE, "https://www.example-health.com/health/tinnitus")
    text = r["text"]
    paragraphs = text.split("\n\n")
    assert paragraphs == [INTRO, "Causes", CAUSES, CAUSES_2, "Symptoms", SYMPTOMS, "Treatment", TREATMENT]
    assert r["reviewers"] == ["Jane Doe, MD"]
    assert r["authors"] == ["John Roe"]
    assert r["references"] == [SOURCE_1, SOURCE_2]
    assert r["updated"] == "2024-03-03"


def test_in_article_table_of_contents_without_class_words() -> None:
    toc = "".join(f'<li><a href="#s{i}">Section {i} of the article</a></li>' for i in range(6))
    sections = "".join(f'<h2 id="s{i}">Section {i}</h2><p>{INTRO} ({i})</p>' for i in range(6))
    html = f"<html><body><article><h1>T</h1><ol>{toc}</ol>{sections}</article></body></html>"
    text = extract_article(html)["text"]
    assert "Section 3 of the article" not in text and f"{INTRO} (3)" in text and "Section 3" in text
