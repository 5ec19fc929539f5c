"""Deterministic generated news pages (~80 KB each) for throughput benchmarks."""

from __future__ import annotations

import html
import json
import random
import re
import threading
from collections import OrderedDict
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).resolve().parent.parent / "fixtures" / "site" / "templates"
PER_INDEX = 100
_ARTICLE_RE = re.compile(r"^/gen/(\d{6})\.html$")
_INDEX_RE = re.compile(r"^/gen/index-(\d+)\.html$")
_SLOT_RE = re.compile(r"\{\{([a-z_]+)\}\}")
_EPOCH = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)

# --- English vocabulary ------------------------------------------------------------------

_EN_SUBJECTS = (
    "The finance ministry",
    "Officials in the capital",
    "A coalition of regional governments",
    "The central bank",
    "Opposition lawmakers",
    "Union leaders",
    "Local farmers",
    "Health authorities",
    "Port operators",
    "The city council",
    "Independent analysts",
    "Environmental groups",
    "Residents of the old quarter",
    "The national railway company",
    "University researchers",
    "Shipping companies",
    "Small business owners",
    "The energy regulator",
    "Aid agencies",
    "Teachers’ associations",
    "The transport ministry",
    "Hospital managers",
)
_EN_VERBS = (
    "said on Tuesday that",
    "warned that",
    "announced that",
    "confirmed in a statement that",
    "told reporters that",
    "argued that",
    "insisted that",
    "acknowledged that",
    "estimated that",
    "said in a report published on Monday that",
)
_EN_CLAUSES = (
    "the new measures would take effect before the end of the year",
    "prices for basic goods had risen by {pct}% since the spring",
    "talks with neighbouring countries were making slow but steady progress",
    "a full review of the {topic} programme would be published next month",
    "more than {num} households had been affected by the disruption",
    "spending on {topic} would increase by {pct}% next year",
    "the decision had been delayed by a series of legal challenges",
    "demand for {topic} services in {place} had doubled in five years",
    "the pilot scheme in {place} had exceeded its targets",
    "the budget for {topic} was no longer sufficient to meet rising costs",
    "investment in {topic} had fallen to its lowest level in a decade",
    "about {pct}% of the planned projects in {place} had been completed",
    "the agreement would be signed once parliament approved the final text",
    "new rules on {topic} would be introduced gradually over three years",
)
_EN_TOPICS = (
    "water",
    "housing",
    "transport",
    "energy",
    "education",
    "public health",
    "fisheries",
    "broadband",
    "flood defence",
    "pension",
    "road safety",
    "recycling",
    "tourism",
    "rail freight",
)
_EN_PLACES = (
    "the northern provinces",
    "the coastal districts",
    "the capital",
    "the border region",
    "the eastern suburbs",
    "the river valley",
    "the southern islands",
    "the industrial belt",
    "the mountain villages",
    "the old port area",
)
_EN_EXTRA = (
    "Critics said the plan lacked detail and did not explain how it would be paid for.",
    "The figures are likely to be revised when final data become available in the spring.",
    "Similar programmes elsewhere have produced mixed results, according to independent studies.",
    "The announcement was welcomed by business groups but met with scepticism by some residents.",
    "Officials declined to say when the next round of negotiations would take place.",
    "The issue is expected to feature prominently in next year’s local election campaigns.",
    "Several international lenders have offered technical assistance and low-interest loans.",
    "A parliamentary committee is due to question ministers on the proposals next week.",
    "Local media reported long queues outside government offices on Monday morning.",
    "Economists cautioned that the benefits would take several years to materialise.",
)
_EN_QUOTES = (
    "We cannot keep postponing difficult decisions",
    "This is the most significant reform in a generation",
    "People want to see results, not more promises",
    "The numbers simply do not add up",
    "We are listening to every community affected",
    "There is still time to get this right",
)
_EN_ROLES = (
    "a senior economist",
    "the deputy mayor",
    "a union spokesperson",
    "the committee chair",
    "a regional governor",
    "a policy researcher",
)
_EN_NAMES = (
    "Hannah Okafor",
    "Daniel Reyes",
    "Marta Lindqvist",
    "Priya Natarajan",
    "Tomás Ibarra",
    "Grace Mwangi",
    "Oliver Hartmann",
    "Sofia Lazarescu",
    "Kenji Watanabe",
    "Amara Diallo",
)
_EN_HEAD_A = (
    "Ministers unveil",
    "Council backs",
    "Regulator delays",
    "Lawmakers reject",
    "Cabinet approves",
    "Report questions",
    "Unions challenge",
    "Analysts doubt",
    "Government revises",
    "Court halts",
)
_EN_HEAD_B = (
    "plan amid budget concerns",
    "reform after months of talks",
    "overhaul as costs climb",
    "scheme in the face of protests",
    "strategy ahead of winter",
    "package despite warnings",
)
_EN_SECTIONS = ("World", "Business", "Climate", "Culture", "Cities", "Energy")

# --- Arabic vocabulary -------------------------------------------------------------------

_AR_ENTITIES = (
    "وزارة المالية",
    "البنك المركزي",
    "المجلس البلدي",
    "هيئة تنظيم قطاع الطاقة",
    "وزارة الصحة",
    "النقابات العمالية",
    "غرفة التجارة والصناعة",
    "المعهد الوطني للإحصاء",
    "وزارة النقل",
    "اتحاد المزارعين",
    "منظمات المجتمع المدني",
    "شركة السكك الحديدية",
    "الجامعات الحكومية",
)
_AR_OPENERS = (
    "وبحسب {ent}، فإن {clause}.",
    "وأشار بيان صادر عن {ent} إلى أن {clause}.",
    "وفي هذا السياق، أكد مسؤولون في {ent} أن {clause}.",
    "وأوضحت مصادر مطلعة في {ent} أن {clause}.",
    "ويرى خبراء أن {clause}، وهو ما تنفيه {ent}.",
    "وكشف تقرير أعدته {ent} أن {clause}.",
)
_AR_CLAUSES = (
    "الإجراءات الجديدة ستدخل حيز التنفيذ قبل نهاية العام الجاري",
    "أسعار السلع الأساسية ارتفعت بنسبة {pct} في المئة منذ بداية الربيع",
    "المحادثات مع الدول المجاورة تسير ببطء لكنها تحقق تقدما ملموسا",
    "مراجعة شاملة لبرنامج {topic} ستنشر خلال الشهر المقبل",
    "الإنفاق على {topic} سيرتفع بنسبة {pct} في المئة في موازنة العام المقبل",
    "القرار تأخر بسبب سلسلة من الطعون القضائية",
    "الطلب على خدمات {topic} في {place} تضاعف خلال خمس سنوات",
    "التجربة الأولية في {place} تجاوزت الأهداف المحددة لها",
    "الموازنة المخصصة لقطاع {topic} لم تعد كافية لمواجهة ارتفاع التكاليف",
    "الاستثمارات في قطاع {topic} تراجعت إلى أدنى مستوى لها منذ عقد",
    "نحو {pct} في المئة من المشاريع المقررة في {place} قد أنجزت",
    "الاتفاق سيوقع فور مصادقة البرلمان على صيغته النهائية",
)
_AR_TOPICS = (
    "المياه",
    "الإسكان",
    "النقل العام",
    "الطاقة المتجددة",
    "التعليم",
    "الصحة العامة",
    "الصيد البحري",
    "الإنترنت",
    "الحماية من الفيضانات",
    "التقاعد",
    "السلامة المرورية",
    "إعادة التدوير",
    "السياحة",
)
_AR_PLACES = (
    "المحافظات الشمالية",
    "المناطق الساحلية",
    "العاصمة",
    "المناطق الحدودية",
    "الضواحي الشرقية",
    "وادي النهر",
    "الجزر الجنوبية",
    "المنطقة الصناعية",
    "القرى الجبلية",
    "منطقة الميناء القديم",
)
_AR_EXTRA = (
    "وانتقد معارضون الخطة معتبرين أنها تفتقر إلى التفاصيل ولا توضح مصادر التمويل.",
    "ومن المتوقع أن تعدل هذه الأرقام عند صدور البيانات النهائية في الربيع المقبل.",
    "وأسفرت برامج مماثلة في دول أخرى عن نتائج متباينة، بحسب دراسات مستقلة.",
    "ورحبت أوساط رجال الأعمال بالإعلان، في حين قابله بعض السكان بالتشكيك.",
    "ورفض المسؤولون تحديد موعد الجولة المقبلة من المفاوضات.",
    "ويتوقع أن تحتل هذه القضية مكانة بارزة في الحملات الانتخابية المحلية العام المقبل.",
    "وعرضت مؤسسات تمويل دولية تقديم مساعدات فنية وقروض ميسرة.",
    "ومن المقرر أن تستجوب لجنة برلمانية الوزراء بشأن هذه المقترحات الأسبوع المقبل.",
    "ونقلت وسائل إعلام محلية صورا لطوابير طويلة أمام المكاتب الحكومية صباح الاثنين.",
    "وحذر اقتصاديون من أن الفوائد المرجوة قد تستغرق سنوات عدة قبل أن تتحقق.",
)
_AR_QUOTES = (
    "لا يمكننا الاستمرار في تأجيل القرارات الصعبة",
    "هذا هو الإصلاح الأهم منذ جيل كامل",
    "الناس يريدون نتائج ملموسة لا مزيدا من الوعود",
    "الأرقام ببساطة لا تتطابق مع الواقع",
    "ما زال هناك وقت لتصحيح المسار",
)
_AR_NAMES = (
    "سارة العبيدي",
    "منير الحاج",
    "ليلى منصور",
    "كريم يوسف",
    "هدى السويدي",
    "عمر الشامي",
    "نادية بن علي",
    "يوسف القاسمي",
    "رنا الخطيب",
    "طارق المصري",
)
_AR_HEAD_PLACES = (
    "العاصمة",
    "المحافظات الشمالية",
    "المدن الساحلية",
    "الجنوب",
    "المناطق الريفية",
    "الإقليم",
)
_AR_HEAD_B = (
    "خطة جديدة لتطوير قطاع {topic} وسط مخاوف من الكلفة",
    "جدل واسع حول إصلاح منظومة {topic}",
    "تأجيل مشروع {topic} بعد اعتراضات السكان",
    "ارتفاع الطلب على خدمات {topic} يثير القلق",
    "مفاوضات جديدة بشأن مستقبل قطاع {topic}",
)
_AR_SECTIONS = ("العالم العربي", "اقتصاد", "بيئة ومناخ", "ثقافة", "مجتمع")


def is_arabic(number: int) -> bool:
    """Every third generated article is in Arabic, the rest in English."""
    return number % 3 == 0


@lru_cache(maxsize=65536)
def title(number: int) -> str:
    """Headline of generated article ``number`` (cheap; used by listing pages)."""
    rng = random.Random(number * 7919 + 1)
    if is_arabic(number):
        b = rng.choice(_AR_HEAD_B).format(topic=rng.choice(_AR_TOPICS))
        return f"{rng.choice(_AR_HEAD_PLACES)}: {b}"
    return f"{rng.choice(_EN_HEAD_A)} {rng.choice(_EN_TOPICS)} {rng.choice(_EN_HEAD_B)}"


def _sentence_en(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.6:
        clause = rng.choice(_EN_CLAUSES).format(
            pct=rng.randint(2, 48),
            num=f"{rng.randint(2, 95) * 1000:,}",
            topic=rng.choice(_EN_TOPICS),
            place=rng.choice(_EN_PLACES),
        )
        return f"{rng.choice(_EN_SUBJECTS)} {rng.choice(_EN_VERBS)} {clause}."
    if r < 0.85:
        return rng.choice(_EN_EXTRA)
    name = rng.choice(_EN_NAMES)
    return f"“{rng.choice(_EN_QUOTES)},” said {name}, {rng.choice(_EN_ROLES)}."


def _sentence_ar(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.65:
        clause = rng.choice(_AR_CLAUSES).format(
            pct=rng.randint(2, 48), topic=rng.choice(_AR_TOPICS), place=rng.choice(_AR_PLACES)
        )
        return rng.choice(_AR_OPENERS).format(ent=rng.choice(_AR_ENTITIES), clause=clause)
    if r < 0.88:
        return rng.choice(_AR_EXTRA)
    return f"وقال {rng.choice(_AR_NAMES)}: “{rng.choice(_AR_QUOTES)}”."


def article_data(number: int) -> dict[str, Any]:
    """Metadata and body text of generated article ``number`` (what an extractor should find)."""
    rng = random.Random(number)
    arabic = is_arabic(number)
    sentence = _sentence_ar if arabic else _sentence_en
    paragraphs = [
        " ".join(sentence(rng) for _ in range(rng.randint(4, 7))) for _ in range(rng.randint(8, 15))
    ]
    names = _AR_NAMES if arabic else _EN_NAMES
    authors = rng.sample(names, rng.choice((1, 1, 2)))
    tz = timezone(timedelta(hours=3)) if arabic else UTC
    published = (_EPOCH - timedelta(minutes=17 * number)).astimezone(tz)
    return {
        "number": number,
        "path": f"/gen/{number:06d}.html",
        "title": title(number),
        "authors": authors,
        "published": published.isoformat(),
        "language": "ar" if arabic else "en",
        "section": rng.choice(_AR_SECTIONS if arabic else _EN_SECTIONS),
        "paragraphs": paragraphs,
        "seed": rng.random(),
    }


class _Template:
    """A template split once into literal parts and ``{{slot}}`` names."""

    def __init__(self, text: str) -> None:
        pieces = _SLOT_RE.split(text)
        self.literals = pieces[0::2]
        self.slots = pieces[1::2]

    def render(self, values: dict[str, str]) -> str:
        out = [self.literals[0]]
        for slot, lit in zip(self.slots, self.literals[1:], strict=True):
            out.append(values[slot])
            out.append(lit)
        return "".join(out)


class GeneratedPages:
    """Render ``/gen/index-K.html`` and ``/gen/NNNNNN.html`` for ``count`` articles, LRU-cached."""

    def __init__(self, count: int, base_url: str, cache_size: int = 256) -> None:
        self.count = count
        self.index_pages = (count + PER_INDEX - 1) // PER_INDEX
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

        def load(name: str) -> _Template:
            text = (TEMPLATES / name).read_text(encoding="utf-8")
            return _Template(text.replace("__BASE_URL__", base_url))

        self._article = {"en": load("gen-article-en.html"), "ar": load("gen-article-ar.html")}
        self._index = load("gen-index.html")
        self._base = base_url

    def paths(self) -> list[str]:
        """Every generated path: index pages first, then articles."""
        idx = [f"/gen/index-{k}.html" for k in range(1, self.index_pages + 1)]
        return idx + [f"/gen/{n:06d}.html" for n in range(1, self.count + 1)]

    def get(self, path: str) -> bytes | None:
        """Body bytes (UTF-8 HTML) for ``path``, or None if it is not a generated page."""
        with self._lock:
            body = self._cache.get(path)
            if body is not None:
                self._cache.move_to_end(path)
                return body
        body = self._render(path)
        if body is not None:
            with self._lock:
                self._cache[path] = body
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return body

    def _render(self, path: str) -> bytes | None:
        m = _ARTICLE_RE.match(path)
        if m:
            n = int(m.group(1))
            return self.render_article(n).encode("utf-8") if 1 <= n <= self.count else None
        m = _INDEX_RE.match(path)
        if m and m.group(1) == str(int(m.group(1))):
            k = int(m.group(1))
            return self.render_index(k).encode("utf-8") if 1 <= k <= self.index_pages else None
        return None

    def _href(self, n: int) -> str:
        return f"/gen/{(n - 1) % self.count + 1:06d}.html"

    def render_index(self, k: int) -> str:
        """Listing page ``k``: 100 article links plus links to the neighbouring index pages."""
        first = (k - 1) * PER_INDEX + 1
        last = min(k * PER_INDEX, self.count)
        items = []
        for n in range(first, last + 1):
            attrs = ' lang="ar" dir="rtl"' if is_arabic(n) else ""
            items.append(f'<li{attrs}><a href="/gen/{n:06d}.html">{html.escape(title(n))}</a></li>')
        pager = ['<a href="/gen/index-1.html">First</a>']
        if k > 1:
            pager.append(f'<a rel="prev" href="/gen/index-{k - 1}.html">Previous</a>')
        if k < self.index_pages:
            pager.append(f'<a rel="next" href="/gen/index-{k + 1}.html">Next</a>')
        return self._index.render(
            {"index_page": str(k), "items": "\n".join(items), "pager": " ".join(pager)}
        )

    def render_article(self, n: int) -> str:
        """Full HTML of generated article ``n``."""
        d = article_data(n)
        rng = random.Random(d["seed"])
        lang = d["language"]
        esc = html.escape
        title_e = esc(d["title"])
        paras = d["paragraphs"]
        body: list[str] = []
        for i, p in enumerate(paras):
            body.append(f"<p>{esc(p)}</p>")
            if i == 2:
                label = "إعلان" if lang == "ar" else "Advertisement"
                body.append(
                    '<div class="ad-slot ad-slot--inline" data-ad-slot="inline-1" '
                    'aria-hidden="true">'
                    f'<span class="ad-slot__label">{label}</span></div>'
                )
        url = f"{self._base}{d['path']}"
        jsonld = {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "mainEntityOfPage": {"@type": "WebPage", "@id": url},
            "headline": d["title"],
            "description": paras[0][:150],
            "image": [f"{self._base}/img/gen-{n:06d}.png"],
            "datePublished": d["published"],
            "author": [{"@type": "Person", "name": a} for a in d["authors"]],
            "publisher": {"@type": "NewsMediaOrganization", "name": "Daily Meridian"},
            "articleSection": d["section"],
            "inLanguage": lang,
        }
        datalayer = {
            "pageType": "article",
            "articleId": f"gen-{n:06d}",
            "section": d["section"],
            "language": lang,
            "wordCount": sum(len(p.split()) for p in paras),
        }
        joiner = " و" if lang == "ar" else " and "
        byline = joiner.join(
            f'<a rel="author" href="/about.html#staff">{esc(a)}</a>' for a in d["authors"]
        )
        picks = [rng.randint(1, self.count) for _ in range(10 + 24 + 20)]
        most_read = "\n".join(
            f'<li><a href="{self._href(m)}">{esc(title(m))}</a></li>' for m in picks[:10]
        )
        more = []
        for m in picks[10:34]:
            sentence = _sentence_ar if is_arabic(m) else _sentence_en
            teaser = esc(" ".join(sentence(rng) for _ in range(3)))
            more.append(
                f'<li class="card"><img class="card__img" src="/img/placeholder-3x2.png" '
                f'data-src="/img/gen-{m:06d}.png" alt="" width="360" height="240" loading="lazy">'
                f'<h3 class="card__title"><a href="{self._href(m)}">{esc(title(m))}</a></h3>'
                f'<p class="card__teaser">{teaser}</p></li>'
            )
        ticker = "\n".join(
            f'<li><a href="{self._href(m)}">{esc(title(m))}</a></li>' for m in picks[34:]
        )
        ad_config = {
            "site": "dailymeridian",
            "page": f"gen-{n:06d}",
            "slots": [
                {"id": f"slot-{i}", "sizes": [[300, 250], [336, 280], [728, 90]], "floor": 0.05 * i}
                for i in range(1, 9)
            ],
            "targeting": {"section": d["section"], "lang": lang, "kw": d["title"].split()[:6]},
        }
        next_data = {
            "props": {
                "pageProps": {
                    "article": {
                        "id": f"gen-{n:06d}",
                        "headline": d["title"],
                        "authors": d["authors"],
                        "published": d["published"],
                        "body": [{"type": "paragraph", "text": p} for p in paras],
                    },
                    "related": [{"id": m, "href": self._href(m), "title": title(m)} for m in picks],
                }
            },
            "page": "/gen/[id]",
            "buildId": "dm-2026.11.3",
        }
        published = d["published"]
        values = {
            "title": title_e,
            "description": esc(paras[0][:160]),
            "path": d["path"],
            "number": f"{n:06d}",
            "published": published,
            "display_time": published[:16].replace("T", " "),
            "section": esc(d["section"]),
            "jsonld": json.dumps(jsonld, ensure_ascii=False, indent=2).replace("</", "<\\/"),
            "datalayer": "<script>window.dataLayer = window.dataLayer || []; "
            f"window.dataLayer.push({json.dumps(datalayer, ensure_ascii=False)});</script>",
            "index_page": str((n - 1) // PER_INDEX + 1),
            "byline": byline,
            "caption": esc(paras[1][:90]),
            "body": "\n".join(body),
            "prev_href": self._href(n - 1),
            "next_href": self._href(n + 1),
            "most_read": most_read,
            "more_stories": "\n".join(more),
            "ticker": ticker,
            "ad_config": "<script>window.dmAds = "
            + json.dumps(ad_config, ensure_ascii=False).replace("</", "<\\/")
            + ";</script>\n"
            + '<script id="__NEXT_DATA__" type="application/json">'
            + json.dumps(next_data, ensure_ascii=False).replace("</", "<\\/")
            + "</script>",
        }
        return self._article[lang].render(values)
