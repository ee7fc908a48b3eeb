"""Extraction rules as data: tag sets, class/id patterns and boilerplate phrases.

Nothing here runs; ``stripper.extract`` and ``stripper.metadata`` apply these rules.  Each entry says which
pages it is for.  Change a rule here without touching the algorithm.
"""

from __future__ import annotations

import re

# --- parse: what the tree builder (stripper.lean_builder) never builds ---------------------------------------
# Inert elements: never article text, and often most of a page's elements (inline JS, SVG icon sprites).  The parser
# closes them, so nothing after them is lost.  JSON-LD scripts are kept (see KEEP_SCRIPT_TYPES), and so is a
# <button> inside a heading (the title of an accordion's panel).
PARSE_SKIP: frozenset[str] = frozenset(
    {
        "script",  # inline JS of every modern page
        "style",  # inline CSS
        "noscript",  # tracking pixels, "please enable JavaScript" notices
        "svg",  # icon sprites (hundreds of <path> nodes in share bars and menus)
        "math",  # MathML markup (the walk never read it)
        "template",  # client-side templates of widgets
        "iframe",  # embedded ads and videos (their inner HTML is a fallback notice)
        "select",  # language / country pickers
        "textarea",  # comment forms
        "button",  # share, menu and "load more" buttons
        "picture",  # <source> lists of responsive images
        "canvas",
        "object",
        "applet",
        "audio",
        "video",
        "map",
        "frameset",  # embedded media and their fallback notices
    }
)
KEEP_SCRIPT_TYPES: tuple[str, ...] = ("ld+json",)  # application/ld+json metadata blocks
# Page furniture (a third of a typical page's elements: menus, link-list sidebars, footers), held back until it
# ends and left out when it holds none of its marker elements, no element whose class / id matches its marker
# pattern, and fewer than PRUNE_MAX_PROSE characters of prose (text runs of PRUNE_PROSE_RUN characters or more,
# outside links).  Anything else is built as it came, and the walk judges it.
PARSE_PRUNE: dict[str, tuple[frozenset[str], re.Pattern[str] | None]] = {
    "nav": (frozenset(), None),  # menus, breadcrumbs (JSON-LD has them too)
    "footer": (frozenset(), None),  # site and article footers
    "aside": (frozenset(), None),  # sidebars, pull-outs
    "header": (frozenset({"h1", "time"}), re.compile(r"author|byline|date", re.I)),  # article headers: byline
    "form": (frozenset({"p", "article", "h1", "main"}), None),  # search / newsletter forms, not ASP.NET pages
}
PRUNE_PROSE_RUN = 25  # characters: a text run this long is a sentence, not a menu label
PRUNE_MAX_PROSE = 200  # characters of prose: an article's paragraph (ASP.NET page forms), an author's bio

# --- walk: elements skipped entirely (no text, no children) ------------------------------------------------
SKIP_TAGS: frozenset[str] = frozenset(
    {
        "script",
        "style",
        "noscript",
        "template",
        "svg",
        "iframe",
        "canvas",
        "object",
        "embed",
        "applet",
        "audio",
        "video",
        "source",
        "track",
        "map",
        "select",
        "option",
        "textarea",
        "input",
        "img",
        "picture",
        "meta",
        "link",
        "base",
        "param",
        "title",
        "math",
        "frame",
        "frameset",
    }
)

# Void elements (lxml never gives them content) among SKIP_TAGS from which the walk reads nothing: the parse makes
# no tag for them when the soup only feeds the walk (a fifteenth of a typical page's tags, nearly all <img>).
PARSE_LEAVE_OUT: frozenset[str] = frozenset({"img", "input", "param", "base"})

# Elements that end a line of text; everything else is inline.
BLOCK_TAGS: frozenset[str] = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "body",
        "center",
        "dd",
        "details",
        "dialog",
        "dir",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hgroup",
        "hr",
        "html",
        "li",
        "main",
        "menu",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "thead",
        "tfoot",
        "tr",
        "td",
        "th",
        "ul",
        "caption",
        "br",
        "legend",
        "noframes",
    }
)
HEADING_TAGS: frozenset[str] = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
TEXT_BLOCK_TAGS: frozenset[str] = frozenset({"p", "li", "blockquote", "h2", "h3", "h4", "h5", "h6"})
LIST_ITEM_TAGS: frozenset[str] = frozenset({"li", "dt", "dd"})
CELL_TAGS: frozenset[str] = frozenset({"td", "th"})

# Structural page furniture (site header, menus, sidebars, footers, forms): never the article, on any site.
BOILERPLATE_TAGS: frozenset[str] = frozenset({"nav", "aside", "footer", "form", "menu", "dialog", "fieldset"})
# <header> holds the headline and byline (metadata, not body text) on article templates.
SOFT_BOILERPLATE_TAGS: frozenset[str] = frozenset({"header", "figcaption", "address", "legend", "caption"})

# ARIA roles of page furniture (WAI-ARIA landmark roles used by most templates since ~2012).
BOILERPLATE_ROLES: frozenset[str] = frozenset(
    {
        "navigation",
        "banner",
        "contentinfo",
        "complementary",
        "search",
        "dialog",
        "alertdialog",
        "menu",
        "menubar",
        "toolbar",
        "tablist",
        "alert",
        "note",
        "status",
    }
)

# class/id tokens of page furniture.  Matched on the element's class and id joined by spaces, lower-cased,
# as whole words between separators (" ", "-", "_", ":", "/", "."; see _word_pattern).  Generic layout words
# ("widget", "hidden", "tools", "category", "tags") are deliberately absent: page builders (Elementor, Drupal
# field classes such as "field--label-hidden") put them on article bodies.
NEGATIVE_CLASS_WORDS: tuple[str, ...] = (
    "comment",
    "comments",
    "disqus",
    "respond",
    "reply",  # comment threads (WordPress, Disqus)
    "share",
    "sharing",
    "social",
    "sociable",
    "addthis",
    "shareaholic",  # share bars
    "sidebar",
    "side-bar",
    "rail",  # side columns
    "nav",
    "navbar",
    "navigation",
    "menu",
    "breadcrumb",
    "breadcrumbs",
    "crumbs",
    "pagination",
    "pager",
    "footer",
    "masthead",
    "topbar",
    "header-bar",
    "related",
    "recommended",
    "recommendations",
    "popular",
    "trending",
    "most-read",
    "mostread",
    "more-stories",
    "read-more",
    "readmore",
    "also-read",
    "further-reading",
    "outbrain",
    "taboola",
    "zergnet",
    "recirc",
    "newsletter",
    "subscribe",
    "subscription",
    "signup",
    "sign-up",
    "optin",
    "opt-in",
    "promo",
    "promotion",
    "sponsor",
    "sponsored",
    "advert",
    "advertisement",
    "ad",
    "ads",
    "adslot",
    "ad-slot",
    "adunit",
    "ad-unit",
    "dfp",
    "gpt",
    "banner",
    "affiliate",
    "disclosure",
    "disclaimer-box",
    "author-bio",
    "authorbio",
    "author-box",
    "bio",
    "about-author",
    "about-the-author",
    "contributor-bio",
    "byline",
    "dateline",
    "timestamp",
    "post-meta",
    "entry-meta",
    "article-meta",
    "meta-data",
    "tag-list",
    "tagcloud",
    "tag-cloud",
    "cookie",
    "cookies",
    "consent",
    "gdpr",
    "modal",
    "popup",
    "pop-up",
    "overlay",
    "lightbox",
    "toast",
    "toolbar",
    "visually-hidden",
    "sr-only",
    "screen-reader-text",
    "caption",
    "credit",
    "credits",
    "photo-credit",
    "image-credit",
    "wp-caption-text",
    "skip",
    "skip-link",
    "jump",
    "toc",
    "table-of-contents",
    "login",
    "signin",
    "search",
    "searchform",
    "newsletter-signup",
    "inline-newsletter",
    "video",
    "player",
    "playlist",
    "gallery",
    "slideshow",
    "carousel",
    "feedback",
    "rating",
    "poll",
    "survey",
)
# class/id tokens of article bodies (WordPress, Drupal, news CMSs, schema.org itemprop names).
POSITIVE_CLASS_WORDS: tuple[str, ...] = (
    "article-body",
    "articlebody",
    "article-content",
    "article-text",
    "articletext",
    "article__body",
    "article__content",
    "story-body",
    "storybody",
    "story-content",
    "story-text",
    "post-body",
    "post-content",
    "postcontent",
    "entry-content",
    "entrycontent",
    "entry-body",
    "content-body",
    "body-text",
    "bodytext",
    "main-content",
    "maincontent",
    "page-content",
    "rich-text",
    "richtext",
    "field-body",
    "field-name-body",
    "text-content",
    "article-main",
    "post-text",
    "news-text",
    "article-detail",
)


def _word_pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(sorted((re.escape(w) for w in words), key=len, reverse=True))
    return re.compile(rf"(?:^|[\s_\-:/.])(?:{alternatives})(?=$|[\s_\-:/.\d])")


# Furniture stems matched anywhere in a class/id ("newsCaption", "rightSidebarAdvert", "relatedStories").
NEGATIVE_CLASS_STEMS: tuple[str, ...] = (
    "caption",
    "comment",
    "advert",
    "newsletter",
    "breadcrumb",
    "related",
    "social",
    "sponsor",
    "cookie",
    "popup",
    "outbrain",
    "taboola",
    "recirc",
    "promo",
)
NEGATIVE_CLASS_RE: re.Pattern[str] = re.compile(
    _word_pattern(NEGATIVE_CLASS_WORDS).pattern + "|" + "|".join(NEGATIVE_CLASS_STEMS)
)
POSITIVE_CLASS_RE: re.Pattern[str] = _word_pattern(POSITIVE_CLASS_WORDS)

# class/id tokens generated by a build tool or CMS (UUIDs, hashes): not words, so no pattern above
# reads them ("ad6ed79d-88fd-..." is not an ad slot).  A token with three digits or more among hex-like characters.
GENERATED_TOKEN_RE: re.Pattern[str] = re.compile(r"^(?=(?:[^\d]*\d){3})[0-9a-f_-]{8,}$")

# Embedded posts that articles quote (Twitter, Instagram, TikTok, Reddit, Facebook embed markup): content, so a
# furniture-looking wrapper around one ("social-media-embed") is kept.
EMBED_CLASS_RE: re.Pattern[str] = re.compile(r"twitter-tweet|instagram-media|tiktok-embed|reddit-card|fb-post")

# itemprop values: body of schema.org CreativeWork microdata (positive) and page furniture (negative).
POSITIVE_ITEMPROPS: frozenset[str] = frozenset({"articlebody", "text", "mainentityofpage", "reviewbody"})
NEGATIVE_ITEMPROPS: frozenset[str] = frozenset(
    {"author", "publisher", "comment", "breadcrumb", "headline", "datepublished", "datemodified", "keywords", "about"}
)

# Whole class tokens that hide an element in every CSS framework (not "hidden-xs", not "label-hidden").
HIDDEN_CLASS_TOKENS: frozenset[str] = frozenset(
    {"hidden", "hide", "is-hidden", "d-none", "invisible", "display-none", "visuallyhidden", "u-hidden"}
)
# Hidden elements that are collapsed parts of the article, not furniture: accordion and tab panels (WAI-ARIA roles;
# class / id words of Bootstrap, jQuery UI, WordPress FAQ blocks, health sites' "show more" sections).
DISCLOSURE_ROLES: frozenset[str] = frozenset({"tabpanel", "region"})
DISCLOSURE_CLASS_RE: re.Pattern[str] = re.compile(
    r"accordion|collaps|tab-?pane|tab-?panel|tab-?content|expandable|expander|faq|answer|toggle-?content|"
    r"read-?more-?(?:content|text)|show-?more-?(?:content|text)|spoiler",
    re.I,
)
# class tokens that name a layout's state, not a part of the page: "with-sidebar", "has-comments",
# "comments-enabled" (the element is the page's layout wrapper, not the sidebar or the comments)
LAYOUT_STATE_TOKEN_RE: re.Pattern[str] = re.compile(
    r"^(?:has|with|no|without|show|hide|is|enable|enabled|disable|disabled|toggle)-|"
    r"-(?:enabled|disabled|layout|template|open|closed|active)$"
)
# Hidden elements (content behind popovers and collapsed menus).
HIDDEN_STYLE_RE: re.Pattern[str] = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)

# --- boilerplate phrases --------------------------------------------------------------------------------
# A text block (paragraph, heading, list item) that matches is dropped from the body.  Lower-cased text.
# Whole-block phrases: the block is short and says nothing else (share bars, section headings of furniture).
BOILERPLATE_BLOCK_RE: re.Pattern[str] = re.compile(
    r"^(?:"
    r"share|share this( article| story| page)?|share on \w+|tweet|print|email|e-?mail this|save|"  # share bars
    r"advertisement|advert|advertiser disclosure|sponsored( content)?|ad|ads|"  # ad labels
    r"anzeige|iklan|publicidad|publicité|pubblicità|advertentie|реклама|広告|광고|"  # ... translated
    r"filed under:? .{0,100}|"  # taxonomy lines
    r"\[\w+[^\]]*\].*\[/\w+\]|"  # CMS shortcodes
    r"(additional )?reporting by .{1,200}editing by .{1,120}|"  # wire credits
    r"how we make money|our promise to you|editorial (process|policy|standards)|"  # wisegeek-type
    r"discussion comments|comments?|\d+ comments?|leave a (comment|reply)|post a comment|"  # comments
    r"related\b.{0,40}|(you|we think you) (may|might) also (like|enjoy|be interested in).{0,20}|"  # recirc
    r"recommended( for you)?|also of interest|more .{0,30}(stories|articles|posts|news|videos)|"
    r"more from .{1,40}|more .{0,30}news( on)?|read more|read next|keep reading|most popular|trending( now)?|"
    r"sign up|subscribe\b.{0,150}|newsletter|.{0,40}, in your inbox|"  # newsletters
    r"https?://\S+|"  # bare URLs
    r".{0,120}[©ⓒ].{0,60}|"  # (c) lines
    r".{0,60}\b(publicado por|publicada por|publié par|pubblicato da|veröffentlicht von|geplaatst door)\b.{0,200}|"
    r"(.{0,100} - )?tags?: .{0,200}|"  # tag lines
    r"follow us( on .{1,30})?|skip to (main )?content|back to top|top of page|"  # navigation
    r"cookie (settings|policy|preferences)|accept( all)?( cookies)?|"  # consent
    r"image|photo|video|credits?:.*|photo:.*|image:.*|photo by .{1,60}|"  # credits
    r".{0,80}\b(?:getty images|shutterstock|istockphoto|istock)\b.{0,20}|"
    r"(page )?(last |first )?(medical(ly)? )?(updated|published|posted|reviewed|review|revised|modified)( on)?:? "
    r".{0,40}|by:? .{1,60}|"  # bylines
    r"((print|share|email|e-mail|tweet|save|comments?|reprints?)\W*){2,}|"  # tool rows
    r"(original )?(date of publication|publication date):? .{0,40}|"
    r"by|written by .{1,60}|(medically )?reviewed by:? .{1,120}|fact checked by .{1,80}|(article )?date:? .{6,40}|"
    r"(text|font) size.{0,60}|url of this page:.*|(\(c\)|©) ?copyright.*|copyright (\(c\)|©).*|"  # page tools
    # modern health templates: trust badges, in-article table-of-contents labels, feedback widgets
    r"(evidence|science|research)[- ]based|fact[- ]checked|(medically|expert|doctor)[- ]reviewed|trusted source|"
    r"in this (article|story|guide)|on this page|(table of )?contents|jump to( section)?|"
    r"was this (article |page |information |content )?(helpful|useful)\??( yes no)?|did you find this helpful\??|"
    r"thanks? (you )?for your feedback|rate this (article|page)"
    r")[\s.:!|»›>]*$"
)
# The same kinds of labels in other languages (whole block, lower-cased): "read also", "more on the topic", "related
# topics", "most read", "listen", "share", tag lines, expand/collapse toggles.
BOILERPLATE_LABEL_I18N_RE: re.Pattern[str] = re.compile(
    r"^(?:"
    # de
    r"(lesen sie|lies) (hier )?(auch|mehr).{0,60}|mehr zum thema.{0,60}|(ende der )?weitere(n)? informationen|"
    r"(weitere|ähnliche|verwandte) (themen|artikel|nachrichten)|"
    r"das könnte sie (auch )?interessieren|auch interessant|topmeldungen|meistgelesen|zum anhören|(jetzt )?teilen|"
    r"(themen|schlagworte|schlagwörter)( zum artikel)?:? ?.{0,120}|(box|mehr) (aufklappen|zuklappen)( (box|mehr) "
    r"(aufklappen|zuklappen))?|anzeige|werbung|"
    r"(à )?lire aussi|sur le même sujet|les plus lus|partager|publicité|"  # fr
    r"(lee|leer) también|te puede interesar|lo más leído|compartir|noticias relacionadas|"  # es
    r"leggi anche|potrebbe interessarti|i più letti|condividi|"  # it
    r"lees ook|meest gelezen|delen|"  # nl
    r"leia (também|mais)|mais lidas|compartilhe|"  # pt
    r"läs (också|mer)|mest lästa|dela|les også|mest lest|del( artikkelen)?|læs også|mest læste|"  # sv, no, da
    r"czytaj (także|też|również)|najczęściej czytane|udostępnij|"  # pl
    r"čtěte také|nejčtenější|sdílet|"  # cs
    r"ayrıca okuyun|ilginizi çekebilir|en çok okunanlar|paylaş|"  # tr
    r"【?関連記事】?|あわせて読みたい"  # ja
    r")[\s.:!|»›>]*$"
)
# Of those, the lines that are furniture even when they read as a sentence (a short block that ends as a sentence
# ends, with SENTENCE_MIN_WORDS words or more, is otherwise article text: "By the age of 65, most people ...").
BOILERPLATE_LINE_RE: re.Pattern[str] = re.compile(
    r"^(?:"
    r"(additional )?reporting by .{1,200}editing by .{1,120}|"  # wire credits
    r".{0,120}[©ⓒ].{0,60}|(\(c\)|©) ?copyright.*|copyright (\(c\)|©).*|"  # copyright lines
    r"(written|(medically )?reviewed|fact[- ]checked|edited) by:? .{1,120}|"  # bylines
    r"(page )?(last |first )?(medical(ly)? )?(updated|published|posted|reviewed|revised|modified)( on)?:? .{0,40}|"
    r"filed under:? .{0,100}|(.{0,100} - )?tags?: .{0,200}|url of this page:.*"
    r")[\s.:!|»›>]*$"
)
SENTENCE_END_RE: re.Pattern[str] = re.compile(r"[.!?。！？…][\"'”’»)\]]*$")
SENTENCE_MIN_WORDS = 6
# Phrases that mark a block as furniture wherever they occur in it (disclosures, promises, editorial-process
# notes, newsletter pitches, copyright lines).  Applied to blocks under BOILERPLATE_PHRASE_MAX_CHARS only.
BOILERPLATE_PHRASES: tuple[str, ...] = (
    "we may earn a commission",  # affiliate disclosures (health/product review sites)
    "we may receive a commission",
    "earn a commission from",
    "advertising-supported platform",  # ad disclosures
    "independent & ad-supported",
    "independent and ad-supported",
    "affiliate partners",
    "affiliate links",
    "is dedicated to providing accurate",  # editorial-process notes
    "our editorial process",
    "read our editorial",
    "fact-checking process",
    "strict editorial policy",
    "sourcing guidelines",
    "our promise to you",  # site promise blocks
    "trusted resource for readers",
    "sign up for our",  # newsletter pitches
    "subscribe to our",
    "delivered to your inbox",
    "delivered daily",
    "in your inbox",
    "get our newsletter",
    "news emails",
    "email newsletter",
    "delivered weekday",
    "all rights reserved",  # footers
    "copyright ©",
    "copyright (c)",
    "without the written permission",
    "without written permission",
    "email this article",
    "to comment on this article",
    "this material may not be published",
    "terms of use",
    "privacy policy",
    "cookie policy",
    "we use cookies",
    "uses cookies",
    "click here to",  # calls to action
    "send to friend",  # page tool bars ("Text size: A A | Print | Send To Friend")
    "send to a friend",
    "email a friend",
    "email this page",
    "print this page",
    "post a comment",
    "follow us on",
    "follow her on twitter",  # author contact lines under news articles
    "follow him on twitter",
    "may be reached at",
    "can be reached at",
    "letters to the editor",
    "무단전재",  # Korean "no unauthorised reproduction" notice
    "like us on facebook",
    "share this article",
    "share on facebook",
    "not intended as a substitute",  # health-site boilerplate disclaimers
    "not a substitute for professional medical advice",
    "does not provide medical advice",
    "for informational purposes only",
    "this article was originally published",
    "if you enjoyed this article",  # reader-revenue pitches
    "support our journalism",
    "support independent journalism",
    "is a talented writer",
    "a talented writer",
    "we want to hear from you",  # reader call-outs and contact lines under news articles
    "get in touch with our",
    "do you have a story",
    "with files from",  # wire credits (Canadian Press style)
    "originally appeared",
    "reserved for subscribers",  # paywall notes
    "réservée aux abonnés",  # ... in French
    "externen inhalt",  # embed consent placeholders ("an dieser Stelle finden Sie einen externen Inhalt")
    "externe inhalt",
    "an drittplattformen",
    "eingebettete inhalte",
    "redaktioneller inhalt",  # German sites' embed consent widget ("Empfohlener redaktioneller Inhalt")
    "damit einverstanden, dass mir",
    "mit einem klick anzeigen",
    "widerrufliche einwilligung",
    "external content",
    "third-party content",
    "third party content",
    "zuerst bei",  # "Dieser Artikel ist zuerst bei ... erschienen": originally published elsewhere (German)
    "zuerst erschienen",
    "jetzt abonnieren",  # subscription and app pitches (German)
    "newsletter informiert",
    "zum newsletter",
    "auch bei social media",
    "aufs handy",
    "dieses thema im programm",  # broadcasters' programme notes (German)
    "uygulamasını indirin",  # "download our app" (Turkish)
)
BOILERPLATE_PHRASE_MAX_CHARS = 700

# Short blocks (up to LINE_PATTERN_MAX_CHARS) that are furniture by their shape, in any language:
# - a teaser's excerpt ending in its "more" link ("... mehr", "... read more", "... Czytaj więcej");
# - an image caption ending in its credit ("... Bildrechte: MDR/Jane Doe", "... (AFP / Jane Doe)", "Foto: dpa");
# - a video teaser ending in its duration ("... 18.04.2024 | 0:21 min");
# - a reading-time line ("Lesedauer: 4 Min.", "5 min read").
TEASER_TAIL_RE: re.Pattern[str] = re.compile(
    r"\s(?:mehr|more|read more|weiterlesen|lesen sie mehr|lire la suite|leer más|leggi tutto|les mer|læs mere|"
    r"läs mer|lees meer|czytaj więcej|devamını oku|ler mais)$",
    re.I,
)
CAPTION_CREDIT_RE: re.Pattern[str] = re.compile(
    r"(?:\b(?i:bildrechte|bildquelle|bild|fotos?|photos?|image|credit|crédit|crédito|quelle|source|imago|"
    r"picture alliance)\s*(?:\[M\]\s*)?[:/]\s*[^.!?]{1,80}|"
    r"\((?:AFP|AP|dpa|EPA|Reuters|Getty Images|IMAGO)\b[^)]{0,60}\))$"
)
DURATION_TAIL_RE: re.Pattern[str] = re.compile(
    r"\|\s*\d{1,2}:\d{2}\s*min\.?$|\d{1,2}:\d{2}\s*min\.? verfügbar bis", re.I
)
READING_TIME_RE: re.Pattern[str] = re.compile(
    r"^(?:.{0,60}\b)?(?:lesedauer|lesezeit|reading time|temps de lecture|tiempo de lectura|\d+\s*min(?:ute)?s? read)\b",
    re.I,
)
LINE_PATTERN_MAX_CHARS = 400
LINE_TAIL_CHARS = 120  # the three patterns above match within a block's last characters
# A short line made mostly of dates and times ("Aktualizacja: 19.04.2026 19:45 Publikacja: 19.04.2026 19:05",
# "Publié le 18 juil. 2024 à 08:01 Mis à jour le ...", "Giriş: 03.07.2024 - 18:24"): a dateline in any language.
DATE_TOKEN_RE: re.Pattern[str] = re.compile(r"\d{1,4}[./-]\d{1,2}[./-]\d{2,4}|\b\d{1,2}:\d{2}\b|\b(?:19|20)\d\d\b")
DATELINE_MAX_WORDS = 12

# Headings that open a furniture section: the heading's section (parent element) is dropped when it is
# small compared with the article (author boxes, newsletter boxes, promise blocks, comment sections).
BOILERPLATE_HEADING_RE: re.Pattern[str] = re.compile(
    r"^(?:our promise to you|about the author|about the authors?|author bio|discussion comments|comments?|"
    r"\d+ comments?|leave a (comment|reply)|related\b.{0,40}|more .{0,30}news( on)?.{0,20}|"
    r"more (stories|articles|posts|videos)\b.{0,40}|"
    r"(you|we think you) (may|might) also (like|enjoy|be interested in).{0,20}|recommended( for you| reading)?|"
    r"more .{0,30}(stories|articles|news|posts|videos)( from .{1,40})?|also of interest|"
    r"most (popular|read|viewed)|trending( now| stories)?|read (more|next)|"
    r"sign up.{0,60}|subscribe.{0,60}|.{0,40}newsletter.{0,40}|.{0,40}, in your inbox|"
    r"share( this)?( article| story)?|follow us.{0,30}|advertisement|sponsored.{0,40}|"
    r"how we make money|advertiser disclosure|editorial (process|policy)|popular (posts|stories|articles)|"
    r"latest (news|stories|articles|posts)|what to read next|don'?t miss|in case you missed it|"
    r"more on this( topic)?|see also|explore more|we recommend|join the conversation"
    r")[\s.:!?]*$"
)

# Texts of links that are navigation furniture even inside an article (lower-cased, whole link text).
BOILERPLATE_LINK_RE: re.Pattern[str] = re.compile(
    r"^(?:read more|continue reading|click here|more|next|previous|back to top|see more|view all)[\s.»›>]*$"
)

# --- metadata ---------------------------------------------------------------------------------------------
# <meta name|property|itemprop> keys (lower-cased) for each metadata field, best first.
META_TITLE = ("og:title", "twitter:title", "citation_title", "dc.title", "headline")  # before h1 and <title>
META_TITLE_LAST = ("title",)  # <meta name=title>: often the section's name on 2000s templates; after <title>
META_DESCRIPTION = ("description", "og:description", "twitter:description", "dc.description")
META_SITE_NAME = ("og:site_name", "application-name", "publisher", "dc.publisher", "twitter:site")
META_AUTHOR = (
    "author",
    "article:author",
    "dc.creator",
    "citation_author",
    "byl",
    "parsely-author",
    "sailthru.author",
    "dcterms.creator",
)
META_PUBLISHED = (
    "article:published_time",
    "datepublished",
    "dc.date.issued",
    "dcterms.created",
    "citation_publication_date",
    "pubdate",
    "publishdate",
    "date",
    "dc.date",
    "og:published_time",
    "sailthru.date",
    "parsely-pub-date",
    "dcterms.issued",
    "publish-date",
    "article.published",
)
META_UPDATED = (
    "article:modified_time",
    "datemodified",
    "og:updated_time",
    "dcterms.modified",
    "last-modified",
    "lastmod",
    "dc.date.modified",
    "revised",
    "article.updated",
)
META_REVIEWED = ("lastreviewed", "dc.date.reviewed", "last-reviewed", "reviewed")
META_SECTION = (
    "article:section",
    "section",
    "category",
    "parsely-section",
    "sailthru.tags",
    "article:tag",
    "keywords-section",
)
META_LANGUAGE = ("og:locale", "content-language", "language", "dc.language", "inlanguage")
META_TYPE = ("og:type",)

# Visible byline / date lines (short text blocks outside the body), e.g. "Updated: May 17, 2024",
# "Medically reviewed by Jane Doe, MD — Written by John Roe — Updated on March 3, 2020".
DATE_LINE_RES: dict[str, re.Pattern[str]] = {
    "last_reviewed": re.compile(
        r"(?:last\s+)?(?:medical(?:ly)?\s+)?review(?:ed)?(?:\s+on)?\s*:?\s*(?P<date>[A-Za-z0-9 ,./-]{6,30})", re.I
    ),
    "updated": re.compile(
        r"(?:last\s+)?(?:updated|modified|revised)(?:\s+on)?\s*:?\s*(?P<date>[A-Za-z0-9 ,./-]{6,30})", re.I
    ),
    "published": re.compile(
        r"(?:published|posted|first published|article date|date of publication|publication date)(?:\s+on)?\s*:?\s*"
        r"(?P<date>[A-Za-z0-9 ,./-]{6,30})",
        re.I,
    ),
}
REVIEWER_RE: re.Pattern[str] = re.compile(
    r"(?i:(?:medically\s+)?reviewed\s+by)\s*:?\s*(?P<name>[A-Z][\w.'\-]+(?:\s+(?:[A-Z][\w.'\-]*|of|the|and|de|van|von)){0,7}"
    r"(?:,\s*[A-Z][A-Za-z.,\s]{1,20})?)"
)
BYLINE_RE: re.Pattern[str] = re.compile(
    r"^(?i:(?:written\s+)?by)\s*:?\s+(?P<name>[A-Z][\w.'\-]+(?:\s+(?:[A-Z][\w.'\-]*|de|van|von|da)){0,2})"
)

# A block that is only a date (a dateline above the article): "Monday September 7 2009",
# "December 15, 2009, 3:15 PM ET", "2009/10/21".  Taken as ``published`` when none is known, dropped from the body.
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
DATE_ONLY_RE: re.Pattern[str] = re.compile(
    r"^(?:(?:mon|tue|tues|wed|wednes|thu|thur|thurs|fri|sat|satur|sun)(?:day)?\.?,?\s+)?"
    rf"(?:{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH},?\s+\d{{4}}|"
    r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[/.]\d{1,2}[/.]\d{2,4})"
    r"(?:,?\s+(?:at\s+)?\d{1,2}[:.]\d{2}(?:\s*(?:am|pm|a\.m\.|p\.m\.))?(?:\s+[a-z/_]{2,20})?)?[\s.|-]*$",
    re.I,
)

# Author strings that name no person: web-design credits and site software in <meta name=author>.
NOT_A_PERSON_RE: re.Pattern[str] = re.compile(r"www\.|\.com\b|web ?design|webmaster|wordpress|copyright", re.I)

# Breadcrumb / tag entries that are navigation words, not categories (lower-cased).
CATEGORY_STOPLIST: frozenset[str] = frozenset(
    {
        "all categories",
        "categories",
        "add new tag",
        "uncategorized",
        "uncategorised",
        "tags",
        "articles",
        "blog",
        "index",
        "main",
        "main page",
        "start",
        "you are here",
        "email a friend",
        "print article",
        "print",
        "email",
        "share",
        "comments",
        "save",
    }
)

# A news dateline opening the first paragraph: "Feb. 23, 2015 -- Life-threatening peanut allergies ...",
# "WASHINGTON, March 3, 2020 — ...".  Read as ``published`` when nothing better is known (the text is kept).
LEAD_DATELINE_RE: re.Pattern[str] = re.compile(
    rf"^(?:[A-Z][\w .'()-]{{0,40}},\s+)?(?P<date>{_MONTH}\s+\d{{1,2}},?\s+\d{{4}})\s*(?:--|—|–|-)\s", re.I
)

# Headings of an article's editorial notes ("How we reviewed this article", health sites' editorial-process boxes): the
# text under them is dropped, but a references heading inside opens the references.
EDITORIAL_HEADING_RE: re.Pattern[str] = re.compile(
    r"^(?:how we (reviewed|wrote|researched|fact[- ]checked) this (article|page|story)|"
    r"(our )?(editorial|review|medical review) (process|policy|standards)|why trust us|about our sources)[\s.:!?]*$",
    re.I,
)

# Headings that open a references / sources list (collected into ``references``, kept out of the body).
REFERENCES_HEADING_RE: re.Pattern[str] = re.compile(
    r"^(?:references?|sources?|citations?|bibliography|works cited|further reading|literature cited|"
    r"sources and references|article sources|quellen|quellenangaben|literatur|fuentes|références|fonti|bronnen|"
    r"källor|kilder|źródła|zdroje|kaynaklar)[\s.:]*$",
    re.I,
)

# Elements and roles that hold a page's main content (HTML5, WAI-ARIA): a fallback when the selected text is short.
ARTICLE_ELEMENTS: frozenset[str] = frozenset({"article", "main"})
ARTICLE_ROLES: frozenset[str] = frozenset({"main", "article"})

# schema.org types that are the page's main content (JSON-LD @type), best first.
ARTICLE_TYPES: tuple[str, ...] = (
    "MedicalWebPage",
    "MedicalScholarlyArticle",
    "MedicalCondition",
    "NewsArticle",
    "ReportageNewsArticle",
    "AnalysisNewsArticle",
    "OpinionNewsArticle",
    "BlogPosting",
    "ScholarlyArticle",
    "TechArticle",
    "Report",
    "Article",
    "WebPage",
    "Recipe",
    "HowTo",
    "QAPage",
    "FAQPage",
)
