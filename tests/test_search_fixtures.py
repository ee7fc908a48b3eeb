"""Shared by the search tests (no tests here): a small health corpus with every field the query syntax filters on,
built into a real on-disk index with the real ``healthdex index`` command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FILLER = " ".join(f"filler{i}" for i in range(45))
RECORDS = [
    {
        "id": "heart-attack",
        "url": "https://www.nhlbi.nih.gov/health/heart-attack",
        "title": "Heart attack: warning signs and what to do",
        "text": "A heart attack happens when blood flow to the heart is blocked. Chest pain, shortness of breath and "
        "cold sweats are common warning signs of a heart attack. Call emergency services right away.",
        "authors": ["Jane Smith"],
        "reviewers": ["Alan Jones, MD"],
        "categories": ["Heart", "Emergencies"],
        "language": "en",
        "published": "2019-05-01",
        "updated": "2023-03-02",
    },
    {
        "id": "mi-clinical",
        "url": "https://www.example-cardiology.org/mi",
        "title": "Acute myocardial infarction in adults",
        "text": "Myocardial infarction is necrosis of the myocardium caused by prolonged ischemia. Troponin testing "
        "and an electrocardiogram confirm the diagnosis; reperfusion therapy restores coronary blood flow.",
        "authors": ["Omar Haddad"],
        "categories": ["Heart"],
        "language": "en",
        "published": "2022-01-10",
        "updated": "2024-02-01",
    },
    {
        "url": "https://www.wisegeek.net/what-is-sciatica.htm?utm_source=feed",
        "title": "What is sciatica?",
        "text": "Sciatica is pain along the sciatic nerve that runs from the lower back down the leg. "
        "Back pain and leg numbness often come together. "
        "Stretching and physical therapy help most people with sciatica.",
        "authors": ["Ann Lee"],
        "categories": ["Back Pain", "Nerves"],
        "language": "en",
        "published": "2021-03-04",
        "updated": "2021-06-01",
    },
    {
        "id": "hypertension",
        "url": "https://medlineplus.gov/hypertension.html",
        "title": "Hypertension",
        "text": "Hypertension is a chronic elevation of arterial pressure. Untreated hypertension damages the kidneys "
        "and the heart. Reduce salt, exercise and take prescribed medicines.",
        "reviewers": ["Alan Jones, MD"],
        "categories": ["Heart", "Blood Pressure"],
        "language": "en",
        "published": "2024-06-01",
        "updated": "2024-07-15",
    },
    {
        "id": "presion-alta",
        "url": "https://medlineplus.gov/spanish/highbloodpressure.html",
        "title": "Presión arterial alta",
        "text": "La presión arterial alta es una enfermedad común. "
        "Reducir la sal y hacer ejercicio ayuda a controlarla.",
        "categories": ["Blood Pressure"],
        "language": "es",
        "published": "2020-02-02",
    },
    {
        "id": "diabetes",
        "url": "https://www.niddk.nih.gov/diabetes",
        "title": "Diabetes overview",
        "text": "Diabetes is a disease in which blood glucose is too high. Diabetes can damage the eyes, kidneys and "
        "nerves. People with diabetes should check their blood glucose often.",
        "authors": ["Jane Smith"],
        "categories": ["Diabetes"],
        "language": "en",
        "published": "2016-09-09",
    },
    {
        "id": "back-leg",
        "url": "https://www.example.org/back-leg",
        "title": "Exercises for stiffness",
        "text": "Gentle exercises ease stiffness in the back and leg pain after long days of sitting at a desk.",
        "categories": ["Exercise"],
        "language": "en",
        "published": "2018-04-04",
    },
    {
        "id": "asthma-kids",
        "url": "https://www.cdc.gov/asthma/children.html",
        "title": "Asthma in children",
        "text": "Asthma makes the airways swell. Children with asthma may wheeze and cough at night. An inhaler "
        "relieves symptoms quickly.",
        "categories": ["Children", "Lungs"],
        "language": "en",
        "published": "2023-08-08",
        "updated": "2024-01-01",
    },
    {
        "id": "asthma-adults",
        "url": "https://www.cdc.gov/asthma/adults.html",
        "title": "Asthma in adults",
        "text": "Adults can develop asthma at any age. Asthma attacks in adults are often triggered by smoke or "
        "allergies.",
        "categories": ["Lungs"],
        "language": "en",
        "published": "2022-08-08",
    },
    # "alpha" at positions 0 and 46: the varint delta 46 is the byte '.', which whoosh-ng 5.4 misreads as pickle
    {
        "id": "positions",
        "url": "https://www.example.org/positions",
        "title": "Position check",
        "text": "alpha " + FILLER + " alpha beta gamma",
        "language": "en",
        "published": "2015-01-01",
    },
]


def build_index(tmp: Path, records=RECORDS) -> Path:
    """Write ``records`` as JSON Lines and index them with the real ``healthdex index`` command."""
    src = tmp / "records.jsonl"
    with open(src, "w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    index = tmp / "index"
    proc = subprocess.run(
        [sys.executable, "-m", "healthdex", "index", str(src), "--index", str(index)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return index
