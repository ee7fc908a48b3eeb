#!/usr/bin/env python3
"""Indexing and query benchmark: Whoosh (stock vs healthdex's tuned path) against SQLite FTS5, in one run.

    .venv/bin/python bench/index.py                      # 10k and 100k documents
    .venv/bin/python bench/index.py --docs 10000 --default-docs 3000

Per corpus size N it generates N deterministic synthetic health articles (~800-word bodies from a Zipfian
vocabulary with real medical terms; see ``vocabulary``/``generate``), then measures in the same run:
  * indexing docs/s: stock Whoosh (stock analyzers and ``TEXT(spelling=True)``, default writer) on the first
    ``--default-docs`` articles, healthdex's ``index_records`` through Whoosh's generic writer (``bulk=False``)
    on as many, healthdex's ``index_records`` (the real ``healthdex index`` path) on all N, and
    FTS5 (porter tokenizer) on all N; plus index sizes;
  * query latency p50/p95 over a fixed mix (two-word, single-word, phrase queries; top 10) for the real search
    path (``search_cli.search.search`` over an open ``Index``, no snippets), a plain Whoosh BM25F query, and
    FTS5 bm25;
  * equivalence: for every query of the mix, the evaluator's top 10 against scoring every candidate one by one
    (``Evaluation.top(exhaustive=True)``): ids, and scores to 1e-6; the number of mismatches (goal 0);
  * the whole ``healthdex search "two words"`` command, process start to exit, on the N-document index, beside a
    ten-line whoosh-ng script running Whoosh's own AND query for the same words (runs alternate).
Each Whoosh build runs in its own process (healthdex patches whoosh-ng in-process; stock must not see them).
The machine is shared, so compare ratios within a run, not absolute numbers across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# --- corpus ---------------------------------------------------------------------------------------------------------
COMMON = """the of and to in a is that for it as was with be by on not he i this are or his from at which but have an
they you were her she there been one all we their has would when if more no out so said what up its about into than
them can only other new some could time these two may then do first any my now such like our over man me even most
made after also did many before must through back years where much your way well down should because each just
those people how too little state good very make world still own see men work long get here between both life being
under never day same another know while last might us great old year off come since against go came right used take
three states himself few house use during without again place around however home small found mrs thought went say
part once general high upon school every don does got united left number course war until always away something fact
though water less public put think almost hand enough far took head yet government system better set told nothing
night end why called didn eyes find going look asked later knew point next program city business give group toward
young days let room president side social given present several order national possible rather second face per among
form important often things looked early white case john become large big need four within felt along children saw
best church ever least power development light thing seemed family interest want members mind country area others
done turned although open god service certain kind problem began different door thus help sense means whole matter
perhaps itself york times law human line above name example action company hands local show whether five history gave
today either act feet across taken past quite anything seen having death experience body word half really week free
field car words started fine cause level patients patient doctor doctors treatment risk symptoms symptom blood pain
health disease diseases care medical study studies research condition conditions effects effect signs common cases
chronic acute severe mild daily weeks months therapy test tests result results help helps reduce increase lower
higher normal usually often sometimes rarely include includes including such also may might can cause causes caused
""".split()

MEDICAL = """sciatica sciatic nerve lumbar spine vertebrae disc herniated hypertension hypotension diabetes insulin
glucose obesity cholesterol triglycerides cardiovascular myocardial infarction angina arrhythmia atrial fibrillation
stroke aneurysm thrombosis embolism anemia leukemia lymphoma melanoma carcinoma tumor tumors cancer chemotherapy
radiotherapy immunotherapy biopsy metastasis asthma bronchitis pneumonia tuberculosis influenza covid coronavirus
vaccine vaccination antibody antibodies antibiotic antibiotics antiviral inflammation inflammatory arthritis
osteoarthritis rheumatoid osteoporosis fracture tendon ligament cartilage migraine headache epilepsy seizure seizures
dementia alzheimer parkinson multiple sclerosis neuropathy depression anxiety insomnia schizophrenia bipolar adhd
autism eczema psoriasis dermatitis acne rosacea allergy allergies allergic anaphylaxis histamine hepatitis cirrhosis
liver kidney renal dialysis gallstones pancreatitis appendicitis gastritis ulcer reflux gerd celiac crohn colitis
irritable bowel constipation diarrhea nausea vomiting fever fatigue dizziness vertigo tinnitus glaucoma cataract
macular degeneration conjunctivitis thyroid hypothyroidism hyperthyroidism cortisol adrenal pituitary estrogen
testosterone menopause pregnancy prenatal postpartum fertility endometriosis ovarian cervical prostate urinary
incontinence bladder infection infections bacterial viral fungal sepsis ibuprofen acetaminophen aspirin opioid
opioids statin statins metformin corticosteroid steroids antidepressant ssri physiotherapy surgery surgical
laparoscopic anesthesia recovery rehabilitation diagnosis diagnostic prognosis ultrasound mri ct scan xray
electrocardiogram ecg echocardiogram endoscopy colonoscopy mammogram screening sodium potassium calcium
magnesium iron vitamin deficiency protein fiber carbohydrates nutrition diet exercise aerobic stretching posture
sedentary smoking alcohol caffeine hydration dehydration sleep apnea snoring bmi metabolic syndrome
prediabetes neuralgia shingles herpes measles mumps rubella chickenpox hpv hiv aids immune immunity autoimmune lupus
fibromyalgia gout bursitis tendinitis carpal tunnel spasm cramps numbness tingling piriformis stenosis
""".split()

PHRASES = [
    "blood pressure",
    "heart attack",
    "back pain",
    "type 2 diabetes",
    "high blood pressure",
    "sciatic nerve",
    "lower back",
    "chest pain",
    "heart disease",
    "kidney disease",
    "weight loss",
    "side effects",
    "immune system",
    "physical therapy",
    "mental health",
    "blood sugar",
    "heart rate",
    "breast cancer",
    "lung cancer",
    "sleep apnea",
    "carpal tunnel syndrome",
    "multiple sclerosis",
    "atrial fibrillation",
    "myocardial infarction",
    "pain relief",
]

ROOTS = """cardi neur gastr hepat nephr derm oste arthr my hem angi bronch pneum encephal mening cephal ot rhin
laryng pharyng esophag col proct cyst ur hyster oophor mast thyr aden lymph splen pancreat chol lip gluc path
psych ophthalm blephar kerat retin cheil gloss stomat dent gingiv pod chondr ten ligament fasci spondyl rach""".split()
PREFIXES = ["", "hyper", "hypo", "peri", "endo", "epi", "intra", "poly", "dys", "brady", "tachy", "micro", "macro"]
SUFFIXES = [
    "itis",
    "ectomy",
    "otomy",
    "ostomy",
    "algia",
    "osis",
    "oma",
    "ology",
    "ologist",
    "opathy",
    "plasty",
    "scopy",
    "emia",
    "uria",
    "megaly",
    "rrhea",
    "genic",
    "al",
    "ic",
]
INFLECT = ["s", "ed", "ing", "ly", "er", "ness", "ment", "ation", "ful", "less"]
SYLLABLES = "ba ko ri mu te sa lo vi na de ka po li ru me zo fa ti nu ge ha so pe".split()
SITES = [
    ("cdc.gov", "CDC"),
    ("nhs.uk", "NHS"),
    ("medlineplus.gov", "MedlinePlus"),
    ("mayoclinic.org", "Mayo Clinic"),
    ("healthline.com", "Healthline"),
    ("webmd.com", "WebMD"),
    ("clevelandclinic.org", "Cleveland Clinic"),
    ("wisegeek.net", "wiseGEEK"),
    ("hopkinsmedicine.org", "Johns Hopkins"),
    ("nih.gov", "NIH"),
]
CATEGORIES = [
    "back pain",
    "heart health",
    "diabetes",
    "cancer",
    "mental health",
    "nutrition",
    "infections",
    "skin",
    "digestive health",
    "women's health",
    "men's health",
    "sleep",
    "brain and nerves",
    "bones",
]


def vocabulary(seed: int = 7, size: int = 40000) -> list[str]:
    """Ranked vocabulary (most frequent first): common English words, then medical terms spread over ranks
    ~300-5000 among ~40k derived forms (medical roots x affixes, inflections, rare name-like words)."""
    rng = random.Random(seed)
    derived = {p + r + s for r in ROOTS for p in PREFIXES for s in SUFFIXES}
    derived |= {w + s for w in COMMON for s in INFLECT}
    while len(derived) < size:
        derived.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    tail = sorted(derived)
    rng.shuffle(tail)
    out = list(dict.fromkeys(COMMON))
    med = list(dict.fromkeys(MEDICAL))
    rng.shuffle(med)
    step = max(1, 4700 // len(med))
    ti = 0
    for m in med:
        out.append(m)
        out.extend(tail[ti : ti + step])
        ti += step
    out.extend(tail[ti:])
    return list(dict.fromkeys(out))[:size]


def generate(n: int, seed: int = 42, words_per_doc: int = 800) -> Iterator[dict]:
    """``n`` article records in the healthdex JSON Lines shape; Zipf (s=1.05) word draws, each article with a
    topic (4 medical terms + a phrase) that recurs through it; deterministic for a seed."""
    import numpy as np

    vocab = vocabulary()
    ranks = np.arange(1, len(vocab) + 1, dtype=np.float64)
    p = 1.0 / ranks**1.05
    cum = np.cumsum(p / p.sum())
    rng = np.random.default_rng(seed)
    prng = random.Random(seed)
    med = list(dict.fromkeys(MEDICAL))
    for i in range(n):
        topic = prng.sample(med, 4) + [prng.choice(PHRASES)]
        nw = max(200, int(rng.normal(words_per_doc, words_per_doc * 0.25)))
        idx = np.searchsorted(cum, rng.random(nw))
        words = [vocab[min(int(j), len(vocab) - 1)] for j in idx]
        for k in rng.integers(0, nw, size=max(6, nw // 40)):
            words[k] = topic[int(k) % len(topic)]
        paras, pos = [], 0
        while pos < nw:
            plen = prng.randint(40, 120)
            chunk = words[pos : pos + plen]
            sents, s = [], 0
            while s < len(chunk):
                sl = prng.randint(8, 22)
                sent = " ".join(chunk[s : s + sl])
                sents.append(sent[:1].upper() + sent[1:] + ".")
                s += sl
            paras.append(" ".join(sents))
            pos += plen
        site, site_name = SITES[i % len(SITES)]
        year = 2005 + (i * 7919) % 20
        yield {
            "url": f"https://www.{site}/health/{topic[0]}-{i}?utm_source=bench",
            "site": site,
            "site_name": site_name,
            "title": f"{topic[0].capitalize()} and {topic[4]}: {' '.join(words[:3])} {topic[1]}",
            "description": " ".join(words[3:30]).capitalize() + ".",
            "text": "\n\n".join(paras),
            "authors": [f"Dr {prng.choice(SYLLABLES).title()}{prng.choice(SYLLABLES)} {prng.choice(COMMON).title()}"],
            "categories": prng.sample(CATEGORIES, 2),
            "language": "en",
            "published": f"{year}-{1 + i % 12:02d}-{1 + i % 28:02d}T08:00:00Z",
            "updated": f"{min(year + 1, 2026)}-06-01",
        }


def write_corpus(path: Path, n: int, seed: int = 42) -> Path:
    marker = path.with_suffix(".ok")
    if path.exists() and marker.exists() and marker.read_text() == f"{n} {seed} v1":
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for rec in generate(n, seed):
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    marker.write_text(f"{n} {seed} v1")
    return path


def load(path: Path, limit: int | None = None) -> list[dict]:
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            out.append(json.loads(line))
            if limit and len(out) >= limit:
                break
    return out


def queries() -> list[tuple[str, list[str], bool]]:
    """The fixed query mix: (kind, words, is_phrase). 20 two-word, 20 single-word, 20 phrases."""
    rng = random.Random(99)
    med = sorted(set(MEDICAL))
    common = ["pain", "treatment", "symptoms", "risk", "blood", "health", "patients", "doctor", "chronic", "severe"]
    two = [[rng.choice(med), rng.choice(common + med)] for _ in range(12)]
    two += [p.split()[:2] for p in PHRASES[:8]]
    single = [[w] for w in rng.sample(med, 14)] + [[w] for w in common[:6]]
    phrases = [p.split() for p in PHRASES[:20]]
    return (
        [("two", q, False) for q in two] + [("one", q, False) for q in single] + [("phrase", q, True) for q in phrases]
    )


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    k = max(0, min(len(values) - 1, int(round(p / 100 * (len(values) - 1)))))
    return values[k]


def dir_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# --- workers (each Whoosh build in its own process) -----------------------------------------------------------------
def worker_stock(corpus: Path, index_dir: Path, n: int) -> dict:
    """Stock Whoosh: same fields, Whoosh's StemmingAnalyzer and TEXT(spelling=True), default ix.writer()."""
    from whoosh import fields
    from whoosh.analysis import StemmingAnalyzer
    from whoosh.index import create_in

    from indexer import records

    recs = load(corpus, n)
    shutil.rmtree(index_dir, ignore_errors=True)
    index_dir.mkdir(parents=True)
    kw = dict(commas=True, lowercase=True, stored=True, scorable=True)
    schema = fields.Schema(
        key=fields.ID(unique=True, stored=True),
        url=fields.ID(stored=True),
        site=fields.ID(stored=True),
        site_name=fields.STORED(),
        title=fields.TEXT(analyzer=StemmingAnalyzer(), stored=True, field_boost=2.0),
        text=fields.TEXT(analyzer=StemmingAnalyzer(), stored=True, spelling=True),
        description=fields.TEXT(analyzer=StemmingAnalyzer(), stored=True),
        authors=fields.KEYWORD(**kw),
        reviewers=fields.KEYWORD(**kw),
        categories=fields.KEYWORD(**kw),
        language=fields.ID(stored=True),
        page_type=fields.ID(stored=True),
        published=fields.DATETIME(stored=True, sortable=True),
        updated=fields.DATETIME(stored=True, sortable=True),
        last_reviewed=fields.DATETIME(stored=True, sortable=True),
        content_hash=fields.ID(stored=True),
        index_hash=fields.ID(sortable=True),
    )
    t0 = time.perf_counter()
    c0 = time.process_time()
    ix = create_in(str(index_dir), schema)
    w = ix.writer()
    for r in recs:
        doc = records.prepare(r).fields
        doc.pop("spell", None)
        w.add_document(**doc)
    w.commit()
    dt = time.perf_counter() - t0
    return {"docs": len(recs), "seconds": dt, "cpu": time.process_time() - c0, "size": dir_size(index_dir)}


def worker_tuned(corpus: Path, index_dir: Path, n: int, procs: int | None, variant: str) -> dict:
    from indexer import schema as S
    from indexer.build import index_records

    if variant == "no-spell":
        orig = S.build_schema

        def build():
            s = orig()
            s.remove(S.SPELL)
            return s

        S.build_schema = build
        import indexer.records as R

        real = R.prepare

        def prepare(rec):
            p = real(rec)
            if p.fields:
                p.fields.pop(S.SPELL, None)
            return p

        R.prepare = prepare
        import indexer.build as B

        B.prepare = prepare
    if variant == "no-stored-text":
        orig = S.build_schema

        def build():
            s = orig()
            s[S.TEXT].stored = False
            return s

        S.build_schema = build
    recs = load(corpus, n)
    shutil.rmtree(index_dir, ignore_errors=True)
    t0 = time.perf_counter()
    c0 = _cpu()
    stats = index_records(recs, index_dir, procs=procs, expected=len(recs), bulk=variant != "generic-writer")
    t1 = time.perf_counter()
    c1 = _cpu()
    index_records([], index_dir, optimize=True)
    t2 = time.perf_counter()
    return {
        "docs": len(recs),
        "seconds": t1 - t0,
        "cpu": c1 - c0,
        "optimize_seconds": t2 - t1,
        "size": dir_size(index_dir),
        "segments": stats.segments,
        "procs": procs,
        "procs_used": stats.procs,
    }


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the multi-process writer's workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def worker_queries(index_dir: Path, mode: str) -> dict:
    """Latencies (ms) of the query mix: 'real' = search_cli.search.search, 'plain' = Whoosh AND/phrase BM25F."""
    from indexer.store import open_index

    mix = queries()
    out: dict[str, list[float]] = {"two": [], "one": [], "phrase": []}
    if mode == "real":
        from search_cli.search import Index, search

        ix = Index(index_dir)

        def run(words, phrase):
            q = '"' + " ".join(words) + '"' if phrase else " ".join(words)
            return search(ix, q, limit=10, snippets=False, suggest_spelling=False).total
    else:
        ix = open_index(index_dir)
        from whoosh import query as Q
        from whoosh import scoring

        searcher = ix.searcher(weighting=scoring.BM25F(B=0.75, K1=1.2))
        text_field = ix.schema["text"]

        def run(words, phrase):
            terms = [t for w in words for t in text_field.process_text(w, mode="query")]
            if not terms:
                return 0
            if phrase:
                q = Q.Phrase("text", terms)
            else:
                q = Q.And([Q.Or([Q.Term("text", t), Q.Term("title", t)]) for t in terms])
            return len(searcher.search(q, limit=10).top_n)

    for _kind, words, phrase in mix:  # warm-up pass (page cache, lazy imports)
        run(words, phrase)
    for _ in range(3):
        for kind, words, phrase in mix:
            t0 = time.perf_counter()
            run(words, phrase)
            out[kind].append((time.perf_counter() - t0) * 1000)
    return out


def worker_equivalence(index_dir: Path) -> dict:
    """For each query of the mix: the evaluator's top 10 against every candidate scored one by one."""
    from search_cli.evaluate import Evaluation
    from search_cli.query import Ranking, build_query
    from search_cli.search import Index, load_synonyms

    ranking, table = Ranking(), load_synonyms(True)
    mismatches, checked = [], 0
    with Index(index_dir) as ix:
        searcher, segs = ix.searcher()
        for _kind, words, phrase in queries():
            text = '"' + " ".join(words) + '"' if phrase else " ".join(words)
            built = build_query(searcher.schema, text, synonyms=table, ranking=ranking)
            args = dict(filter=built.filter, bonus=built.rerank)
            got = Evaluation(searcher, segs, ranking.weighting()).top(built.query, 10, **args)
            ref = Evaluation(searcher, segs, ranking.weighting()).top(built.query, 10, exhaustive=True, **args)
            checked += 1
            same_ids = [d for _s, d in got.hits] == [d for _s, d in ref.hits]
            if not same_ids or any(abs(a - b) > 1e-6 for (a, _), (b, _) in zip(got.hits, ref.hits, strict=True)):
                mismatches.append(text)
    return {"checked": checked, "mismatches": mismatches}


# --- FTS5 -------------------------------------------------------------------------------------------------------------
def fts5_build(corpus: Path, db: Path, n: int) -> dict:
    recs = load(corpus, n)
    if db.exists():
        db.unlink()
    t0 = time.perf_counter()
    c0 = time.process_time()
    con = sqlite3.connect(db)
    con.execute("CREATE VIRTUAL TABLE docs USING fts5(key UNINDEXED, title, text, tokenize='porter')")
    with con:
        con.executemany("INSERT INTO docs VALUES (?, ?, ?)", ((r["url"], r.get("title", ""), r["text"]) for r in recs))
    con.close()
    return {
        "docs": len(recs),
        "seconds": time.perf_counter() - t0,
        "cpu": time.process_time() - c0,
        "size": dir_size(db),
    }


def fts5_queries(db: Path) -> dict:
    con = sqlite3.connect(db)
    out: dict[str, list[float]] = {"two": [], "one": [], "phrase": []}
    sql = "SELECT key, bm25(docs, 0.0, 2.0, 1.0) AS s FROM docs WHERE docs MATCH ? ORDER BY s LIMIT 10"

    def expr(words, phrase):
        return '"' + " ".join(words) + '"' if phrase else " ".join(f'"{w}"' for w in words)

    mix = queries()
    for _, words, phrase in mix:
        con.execute(sql, (expr(words, phrase),)).fetchall()
    for _ in range(3):
        for kind, words, phrase in mix:
            t0 = time.perf_counter()
            con.execute(sql, (expr(words, phrase),)).fetchall()
            out[kind].append((time.perf_counter() - t0) * 1000)
    con.close()
    return out


PACKAGES = ("healthdex", "search_cli", "indexer", "crawler", "stripper", "profiles", "replay")


# The peer of a cold ``healthdex search``: whoosh-ng alone, Whoosh's AND of the words in title or text, top 10.
PLAIN_WHOOSH_SCRIPT = """
import sys
from whoosh import query as Q, scoring
from whoosh.index import open_dir
ix = open_dir(sys.argv[1], indexname="MAIN")
terms = [t for w in sys.argv[2].split() for t in ix.schema["text"].process_text(w, mode="query")]
with ix.searcher(weighting=scoring.BM25F()) as s:
    for hit in s.search(Q.And([Q.Or([Q.Term("text", t), Q.Term("title", t)]) for t in terms]), limit=10):
        print(hit.rank + 1, hit["title"], hit["url"])
"""


def cold_search(index_dir: Path, query: str = "sciatica pain", runs: int = 9) -> dict:
    """The whole command, process start to exit, alternating with the plain whoosh-ng script.  The project's
    modules are byte-compiled first, as ``pip install`` does for an installed package; one untimed run of each
    warms the page cache."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", *PACKAGES], cwd=ROOT, capture_output=True)
    commands = {
        "healthdex": [sys.executable, "-m", "healthdex", "search", query, "--index", str(index_dir), "--no-color"],
        "whoosh": [sys.executable, "-c", PLAIN_WHOOSH_SCRIPT, str(index_dir), query],
    }
    out: dict = {name: [] for name in commands}
    for exe in commands.values():
        subprocess.run(exe, cwd=ROOT, capture_output=True)
    for _ in range(runs):
        for name, exe in commands.items():
            t0 = time.perf_counter()
            p = subprocess.run(exe, cwd=ROOT, capture_output=True, text=True)
            out[name].append((time.perf_counter() - t0) * 1000)
            if name == "healthdex":
                out["status"], out["stderr"] = p.returncode, (p.stderr or "")[-300:]
    return out


def run_worker(args: list[str]) -> dict:
    p = subprocess.run([sys.executable, __file__, "--worker", *args], cwd=ROOT, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"worker {args} failed:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def fmt_lat(d: dict[str, list[float]]) -> str:
    allv = [v for vs in d.values() for v in vs]
    return f"{statistics.median(allv):7.1f} {pct(allv, 95):7.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, nargs="+", default=[10000, 100000])
    ap.add_argument("--default-docs", type=int, default=5000, help="articles for the (slow) stock Whoosh build")
    ap.add_argument(
        "--ablation-docs", type=int, default=3000, help="articles for the spell/stored-text ablations (0: skip)"
    )
    ap.add_argument("--procs", type=int, default=None, help="tuned writer processes (default: healthdex's choice)")
    ap.add_argument("--work", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "healthdex-bench")
    ap.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker:
        kind, *rest = args.worker
        if kind == "stock":
            res = worker_stock(Path(rest[0]), Path(rest[1]), int(rest[2]))
        elif kind == "tuned":
            procs = None if rest[3] == "auto" else int(rest[3])
            res = worker_tuned(Path(rest[0]), Path(rest[1]), int(rest[2]), procs, rest[4])
        elif kind == "queries":
            res = worker_queries(Path(rest[0]), rest[1])
        elif kind == "equivalence":
            res = worker_equivalence(Path(rest[0]))
        else:
            raise SystemExit(f"unknown worker {kind}")
        print(json.dumps(res))
        return

    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    print(
        f"# bench/index.py  {time.strftime('%Y-%m-%d %H:%M:%S')}  cpus={os.cpu_count()} "
        f"load={os.getloadavg()[0]:.2f}  python={sys.version.split()[0]}",
        flush=True,
    )
    rows = []
    for n in args.docs:
        t0 = time.perf_counter()
        corpus = write_corpus(work / f"corpus-{n}.jsonl", n)
        print(
            f"\n## N = {n:,}  (corpus {dir_size(corpus) / 1e6:.0f} MB, generated/reused in "
            f"{time.perf_counter() - t0:.0f}s)",
            flush=True,
        )
        nd = min(n, args.default_docs)
        stock = run_worker(["stock", str(corpus), str(work / f"ix-stock-{n}"), str(nd)])
        print(f"stock whoosh   : {stock['docs'] / stock['seconds']:7.1f} docs/s ({stock['docs']} docs)", flush=True)
        tuned = run_worker(["tuned", str(corpus), str(work / f"ix-{n}"), str(n), str(args.procs or "auto"), "full"])
        print(
            f"healthdex      : {tuned['docs'] / tuned['seconds']:7.1f} docs/s, "
            f"optimize {tuned['optimize_seconds']:.1f}s,"
            f" {tuned['size'] / 1e6:.0f} MB",
            flush=True,
        )
        generic = run_worker(["tuned", str(corpus), str(work / f"ix-generic-{n}"), str(nd), "1", "generic-writer"])
        print(
            f"generic writer : {generic['docs'] / generic['seconds']:7.1f} docs/s ({generic['docs']} docs)", flush=True
        )
        fts = fts5_build(corpus, work / f"fts-{n}.db", n)
        print(f"fts5           : {fts['docs'] / fts['seconds']:7.1f} docs/s, {fts['size'] / 1e6:.0f} MB", flush=True)
        abl = {}
        if args.ablation_docs and n == args.docs[0]:
            na = min(n, args.ablation_docs)
            for variant in ("full", "no-spell", "no-stored-text"):
                abl[variant] = run_worker(
                    ["tuned", str(corpus), str(work / f"ix-abl-{variant}"), str(na), "1", variant]
                )
        lat = {"healthdex (search_cli.search)": run_worker(["queries", str(work / f"ix-{n}"), "real"])}
        lat["whoosh (plain AND/phrase)"] = run_worker(["queries", str(work / f"ix-{n}"), "plain"])
        lat["fts5 bm25"] = fts5_queries(work / f"fts-{n}.db")
        cold = cold_search(work / f"ix-{n}")
        cold["equivalence"] = run_worker(["equivalence", str(work / f"ix-{n}")])
        rows.append((n, stock, generic, tuned, fts, abl, lat, cold))
        print_table(rows[-1:])

    print("\n# Summary")
    print_table(rows)


def print_table(rows) -> None:
    def rate(r, key):
        return r["docs"] / r[key] if r.get(key) else float("nan")

    for n, stock, generic, tuned, fts, abl, lat, cold in rows:
        f_w, f_c = rate(fts, "seconds"), rate(fts, "cpu")
        print(f"\nN = {n:,} documents")
        print("| indexing | docs | docs/s wall | x FTS5 | docs/s CPU | x FTS5 (CPU) | index size |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        named = [
            ("whoosh stock (StemmingAnalyzer, spelling=True, default writer)", stock),
            ("healthdex index_records through Whoosh's generic writer (bulk=False, procs=1)", generic),
            (
                f"healthdex index_records (procs={tuned['procs'] or 'auto'}: {tuned.get('procs_used', '?')}; "
                f"{tuned.get('segments', '?')} segments, then --optimize "
                f"{tuned['optimize_seconds']:.1f}s)",
                tuned,
            ),
            ("sqlite fts5 porter", fts),
        ] + [(f"ablation: healthdex {variant} (procs=1)", a) for variant, a in abl.items()]
        for name, r in named:
            w, c = rate(r, "seconds"), rate(r, "cpu")
            print(
                f"| {name} | {r['docs']:,} | {w:.0f} | {w / f_w:.3f} | {c:.0f} | {c / f_c:.3f} | "
                f"{r['size'] / 1e6:.1f} MB |"
            )
        print("\n| query latency (ms, top 10) | p50 | p95 | two-word p50/p95 | one-word p50/p95 | phrase p50/p95 |")
        print("|---|---:|---:|---:|---:|---:|")
        for name, d in lat.items():
            allv = [v for vs in d.values() for v in vs]
            parts = " | ".join(f"{statistics.median(d[k]):.1f} / {pct(d[k], 95):.1f}" for k in ("two", "one", "phrase"))
            print(f"| {name} | {statistics.median(allv):.1f} | {pct(allv, 95):.1f} | {parts} |")
        eq = cold["equivalence"]
        print(
            f"\nequivalence: {eq['checked']} queries, top 10 against scoring every candidate: "
            f"{len(eq['mismatches'])} mismatches" + (f" ({'; '.join(eq['mismatches'])})" if eq["mismatches"] else "")
        )
        print('\n| cold "sciatica pain", process start to exit | runs | min ms | median ms | max ms |')
        print("|---|---:|---:|---:|---:|")
        for name, label in (("healthdex", "healthdex search"), ("whoosh", "plain whoosh-ng script (AND query)")):
            ms = cold[name]
            print(f"| {label} | {len(ms)} | {min(ms):.0f} | {statistics.median(ms):.0f} | {max(ms):.0f} |")
        ratio = statistics.median(cold["healthdex"]) / statistics.median(cold["whoosh"])
        print(
            f"healthdex / plain whoosh-ng (medians): {ratio:.2f}x (goal <= 2.5x); exit {cold['status']}"
            + (f"; stderr: {cold['stderr'].strip()}" if cold["status"] not in (0, 1) else "")
        )


if __name__ == "__main__":
    main()
