"""Pattern tables, limits and one-line tests for :mod:`mailgate.quoting`.

The precompiled regular expressions cover English, French and German mail conventions. They
are anchored or bounded so that none can backtrack badly on a long line, and the line tests at
the end of this module only try them on lines that passed a cheap string test first. Nothing
here looks at more than one line; block-level decisions live in :mod:`mailgate.quoting`.
"""

from __future__ import annotations

import functools
import re
import unicodedata

# --- limits --------------------------------------------------------------------------------------

MAX_SIGNATURE_LINES = 12  # non-blank lines of a signature block found without a "-- " delimiter
MAX_DASH_SIGNATURE_LINES = 30  # non-blank lines allowed after a "-- " / "--" delimiter
MAX_SIGNATURE_LINE_CHARS = 100  # longer lines are prose, not signature lines
MAX_BARE_SIGNATURE_LINES = 5  # lines under a name with no contact details nor closing above
SENTENCE_END = ".!?:;,"  # a name line or a bare signature line does not end like a sentence
MAX_NAME_WORDS = 4  # words of a "First Last" line opening a signature
MAX_NAME_CHARS = 60
MAX_CLOSING_CHARS = 60  # a closing salutation line ("Cordialement,") is short
MAX_CLOSING_WORDS = 6  # "Mit freundlichen Grüßen / Cordialement", not "Merci de me dire si..."
MAX_ATTRIBUTION_CHARS = 300  # "On ..., X <x@y> wrote:" (two wrapped lines joined)
MAX_HEADER_SCAN_LINES = 12  # lines of an Outlook/Notes header block
MIN_HEADER_FIELDS = 3  # From + at least two of Sent/Date, To, Subject
MAX_FIELD_NAME_CHARS = 24  # the "Envoyé par :" part of a header line
MAX_FOOTER_LINES = 10  # non-blank lines of a mailing-list footer
MAX_MOBILE_CHARS = 80  # "Sent from my iPhone" and friends are one short line
MIN_GT_HEADINGS = 2  # '>' section markers needed before '>' lines are read as own text
MAX_GT_HEADING_LINES = 2  # lines of one such '>' section marker
MIN_WRAPPED_QUOTE_CHARS = 60  # a quoted line this long may have been re-wrapped without '>'
MAX_FYI_LINES = 4  # own lines above a header block that may announce a forward
FYI_SCAN_CHARS = 200  # of each of those lines
DISCLAIMER_SCAN_CHARS = 160  # a disclaimer says what it is early in its first line
NAME_CACHE_SIZE = 4_096  # names whose words are kept (a list has few regular posters)
DISCLAIMER_CACHE_SIZE = 1_024  # lines tested: twice in a message, and disclaimers repeat

# In these str patterns \s also matches the (narrow) no-break space Word puts before ':'.

# --- attribution lines ("On ..., X wrote:") ------------------------------------------------------

# Only tried on the last characters of a line that ends with ':'.
ATTRIBUTION_END_RE = re.compile(
    r"(?:\bwrote|\bwrites|\ba [ée]crit|\bescribi[óo]|\bha scritto|\bschreef|\bskrev)\s*:$",
    re.IGNORECASE,
)
ATTRIBUTION_END_TAIL = 40  # characters of the line handed to ATTRIBUTION_END_RE
# An address or a date and time: enough for a line ending with ':' right above a '>' block.
LOOSE_ATTRIBUTION_RE = re.compile(
    r"@|\b\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}\b.{0,40}\b\d{1,2}:\d\d|"
    r"^(?:Quoting|Citation de|Zitat von)\s"  # Horde
)
ATTRIBUTION_OPENERS = ("On ", "Le ", "Am ", "El ", "Il ", "Op ", "Den ")

# --- Outlook / Exchange / Lotus Notes header blocks ----------------------------------------------

HEADER_FIELD_RE = re.compile(
    r"^\*?(De|From|Von|Envoy[ée]|Sent|Gesendet|Date|Datum|[ÀA]|To|An|Pour|Cc|Cci|Bcc|Kopie|"
    r"Copie [àa]|Objet|Subject|Betreff|Sujet|Envoy[ée] par|R[ée]pondre [àa]|Reply-To|Antwort an|"
    r"Importance|Priorit[ée]|Wichtigkeit)\*?\s*:",
    re.IGNORECASE,
)
FIELD_GROUPS = {
    "de": "from", "from": "from", "von": "from",
    "envoyé": "sent", "envoye": "sent", "sent": "sent", "gesendet": "sent",
    "date": "sent", "datum": "sent",
    "à": "to", "a": "to", "to": "to", "an": "to", "pour": "to",
    "objet": "subject", "subject": "subject", "betreff": "subject", "sujet": "subject",
}  # fmt: skip
ORIGINAL_MESSAGE_RE = re.compile(
    r"^-{2,}\s*(?:Original Message|Message d['’]origine|"
    r"Urspr[üu]ngliche Nachricht|Originalnachricht|Mensaje original|Messaggio originale|"
    r"Oorspronkelijk bericht|"
    # Lotus Notes: "-----Paul Durand/ACME a écrit : -----" above To:/From:/Date:/Subject:
    r".{1,120}?\s(?:wrote|a [ée]crit|schrieb)\s*:)\s*-{2,}$",
    re.IGNORECASE,
)
# "Begin forwarded message:" (Apple Mail) without dashes around it.
FORWARD_INTRO = (
    r"(?:D[ée]but du message r[ée]exp[ée]di[ée]|Begin forwarded message|"
    r"Anfang der weitergeleiteten Nachricht|Inicio del mensaje reenviado)"
)
FORWARD_MARKER_RE = re.compile(
    r"^(?:-{2,}\s*(?:Forwarded message|Message transf[ée]r[ée]|Weitergeleitete Nachricht|"
    r"Mensaje reenviado|Messaggio inoltrato|Doorgestuurd bericht)\s*-{2,}|"
    rf"{FORWARD_INTRO}\s*:)$",
    re.IGNORECASE,
)
UNDERSCORE_RULE_RE = re.compile(r"^_{20,}$")
# Own text announcing that what follows is forwarded, not replied to.
FYI_RE = re.compile(
    r"\b(?:pour info(?:rmation)?|fyi|for your information|for info|zur (?:info|kenntnis)|"
    r"je (?:te|vous) (?:transf[èe]re|fais suivre)|forwarding)\b",
    re.IGNORECASE,
)

# --- mailing-list footers ------------------------------------------------------------------------

FOOTER_HINT_RE = re.compile(
    r"(?=[mMlLuUdDaA/])"  # how the words below start (a quick test at each position)
    r"(?:mailing list|/listinfo|/mailman/|liste de diffusion|mailingliste|unsubscribe|"
    r"d[ée]sinscri|abmelden|list-unsubscribe)",
    re.IGNORECASE,
)

# --- signatures ----------------------------------------------------------------------------------

MOBILE_SIGNATURE = (
    r"(?:Envoy[ée] (?:de|depuis|[àa] partir de) (?:mon|ma|l['’])|Envoy[ée] [àa] partir d['’]|"
    r"Sent from (?:my|Outlook|Mail|Yahoo)|"
    r"Sent (?:with|via) |Get Outlook for|T[ée]l[ée]charger Outlook|Obten(?:ir|ez) Outlook pour|"
    r"Von meinem .{1,40} gesendet|Gesendet von (?:meinem|Outlook|Mail)|Holen Sie sich Outlook)"
)
MOBILE_SIGNATURE_RE = re.compile("^" + MOBILE_SIGNATURE, re.IGNORECASE)
MOBILE_INITIALS = "EeSsGgTtOoVvHh"  # how MOBILE_SIGNATURE lines start
CLOSING_RE = re.compile(
    r"^(?:(?:bien |tr[èe]s )?cordialement|bien (?:[àa] (?:vous|toi)|amicalement)|amicalement|"
    r"amiti[ée]s|bonne (?:journ[ée]e|soir[ée]e|semaine|fin de semaine|continuation)|"
    r"belle (?:journ[ée]e|soir[ée]e|semaine)|(?:sinc[èe]res |meilleures )?salutations|"
    r"merci|[àa] (?:bient[ôo]t|plus|vous)|bises|(?:best|kind|warm|many)? ?regards|best|cheers|"
    r"thanks|thank you|many thanks|sincerely|yours|mit freundlichen gr[üu](?:ß|ss)en|mfg|"
    r"(?:viele|beste|liebe|herzliche) gr[üu](?:ß|ss)e|gru(?:ß|ss)|lg)\b",
    re.IGNORECASE,
)
CONTACT_RE = re.compile(
    r"\+\d[\d .()/-]{6,20}\d|\b0\d(?:[ .-]?\d\d){4}\b|\b(?:t[ée]l|tel|phone|mob|mobile|portable|"
    r"fax|gsm|handy)\b|@|https?://|www\.|\|",
    re.IGNORECASE,
)
# Where the name ends on a line like "Jane Doe | Senior Engineer" or "Jane Doe – Data team".
NAME_SEPARATOR_RE = re.compile(r"\s+[|–—-]\s+|\s*[|·]\s*")
# A line ending with ',' closes a message ("Cordialement,") unless it opens one ("Bonjour Anne,").
GREETING_RE = re.compile(
    r"^(?:bonjour|bonsoir|salut|coucou|cher|ch[èe]re|madame|monsieur|hello|hi|hey|dear|"
    r"hallo|liebe|lieber|sehr geehrte|guten (?:tag|morgen|abend)|moin|servus)\b",
    re.IGNORECASE,
)
NAME_PARTICLES = frozenset({"de", "du", "des", "von", "van", "der", "le", "la", "di", "da", "el"})
_PARTICLE_INITIALS = frozenset(p[0] for p in NAME_PARTICLES)

# --- legal disclaimers (tested on the first line of a paragraph) ---------------------------------

# How a disclaimer paragraph starts (tried with .match).
DISCLAIMER_START_RE = re.compile(
    "|".join(
        (
            r"(?:ce|cet|le pr[ée]sent|les informations contenues dans ce|le contenu de ce)\s"
            r"(?:message|courriel|e-?mail|mail)\b.{0,80}"
            r"(?:pi[èe]ces?\sjointes?|joint|attach|confidenti|intention exclusive|destin)",
            r"pensez [àa] l['’]environnement",
            r"si vous (?:avez re[çc]u|recevez|n['’][êe]tes pas)",
            r"(?:avertissement|avis de confidentialit[ée]|confidentialit[ée]|"
            r"clause de confidentialit[ée]|important notice|"
            r"mentions? l[ée]gales?|disclaimer|confidentiality notice|legal notice|"
            r"haftungsausschluss|vertraulichkeitshinweis)\b",
            r"(?:this|the information (?:contained )?in this|the contents of this)\s"
            r"(?:e-?mail|message|communication|transmission)\b.{0,80}"
            r"(?:confidential|privileged|intended (?:solely|only)|attachments)",
            r"if you (?:have received|are not the intended)",
            r"(?:diese|der inhalt dieser) (?:e-?mail|nachricht)\b.{0,80}"
            r"(?:vertraulich|enth[äa]lt|ausschlie(?:ß|ss)lich)",
            r"bitte denken sie an die umwelt",
            r"wenn sie nicht der (?:richtige|beabsichtigte) (?:adressat|empf[äa]nger)",
        )
    ),
    re.IGNORECASE,
)
# Company-register and print-saving phrases found anywhere in the line (tried with .search,
# only when one of DISCLAIMER_WORDS occurs in the lower-cased line).
DISCLAIMER_ANYWHERE_RE = re.compile(
    "|".join(
        (
            r"\bau capital (?:social )?de\s*\d",
            r"\bR\.?C\.?S\.?\s+[A-Z]",
            r"\bSIRE[NT]\b",
            r"\bn['’]imprimez (?:ce|cet|le)",
            r"\bavant d['’]imprimer",
            r"please consider the environment",
            r"\bregistered (?:office|in england|address)\b",
            r"\bgesch[äa]ftsf[üu]hrer(?:in)?\s*:",
            r"\bsitz(?: der gesellschaft)?\s*:?\s+[A-ZÄÖÜ]",
            r"\b(?:registergericht|amtsgericht)\b",
            r"\bHRB\s*\d",
        )
    ),
    re.IGNORECASE,
)
DISCLAIMER_WORDS = (
    "capital", "r.c.s", "rcs", "sire", "imprim", "environment", "registered", "gesch", "sitz",
    "gericht", "hrb",
)  # fmt: skip
DISCLAIMER_WORDS_RE = re.compile("|".join(map(re.escape, DISCLAIMER_WORDS)))


# --- one-line tests ------------------------------------------------------------------------------


def is_blank(line: str) -> bool:
    return not line or line.isspace()


def is_gt(line: str) -> bool:
    """A '>'-quoted line (some clients indent the marker by one space)."""
    return line[:1] == ">" or line[:2] == " >"


def strip_gt(line: str) -> str:
    return line.lstrip(" >\t")


def is_mboxrd_from(line: str) -> bool:
    """'>From ...': an mboxrd-escaped "From " line, text of the author, not a quote."""
    return line[:1] == ">" and line.lstrip(">").startswith("From ")


def is_gt_heading(line: str) -> bool:
    """'>Text' (depth one, no space): how people mark sections, not how mail clients quote."""
    return line[:1] == ">" and len(line) > 1 and not line[1].isspace() and line[1] != ">"


def is_attribution_end(line: str) -> bool:
    """The line ends like an attribution: '... wrote:', '... a écrit :', '... schrieb X:'."""
    s = line.rstrip()
    if s[-1:] != ":" or len(s) > MAX_ATTRIBUTION_CHARS:
        return False
    if ATTRIBUTION_END_RE.search(s[-ATTRIBUTION_END_TAIL:]):
        return True
    # "Am 03.03.2025 um 10:15 schrieb X:" / "X schrieb am 03.03.2025 um 10:15:"
    return (s.startswith("Am ") and " schrieb " in s) or " schrieb am " in s


def is_loose_attribution(line: str) -> bool:
    s = line.rstrip()
    if s[-1:] != ":" or len(s) > MAX_ATTRIBUTION_CHARS:
        return False
    return LOOSE_ATTRIBUTION_RE.search(s) is not None


def opens_attribution(line: str) -> bool:
    return line.lstrip().startswith(ATTRIBUTION_OPENERS)


def opens_dated_attribution(line: str) -> bool:
    """'Le 12/03/2025 ...', 'On Mon, 3 Mar 2025 ...' (not 'Le rapport que Paul a écrit :')."""
    s = line.lstrip()
    return s.startswith(ATTRIBUTION_OPENERS) and any(map(str.isdigit, s))


def is_dated_attribution(line: str) -> bool:
    return opens_dated_attribution(line) and is_attribution_end(line)


def header_field(line: str) -> str | None:
    """Group ('from', 'sent', 'to', 'subject', 'other') of a 'De :' / 'Subject:' line."""
    s = line.strip()
    if ":" not in s[:MAX_FIELD_NAME_CHARS]:
        return None
    m = HEADER_FIELD_RE.match(s)
    return FIELD_GROUPS.get(m.group(1).lower(), "other") if m else None


def is_disclaimer(line: str) -> bool:
    return _disclaimer_start(line.strip()[:DISCLAIMER_SCAN_CHARS])


@functools.lru_cache(maxsize=DISCLAIMER_CACHE_SIZE)
def _disclaimer_start(s: str) -> bool:
    if DISCLAIMER_START_RE.match(s):
        return True
    has_word = DISCLAIMER_WORDS_RE.search(s.lower()) is not None  # one of DISCLAIMER_WORDS
    return has_word and DISCLAIMER_ANYWHERE_RE.search(s) is not None


def is_mobile_signature(line: str) -> bool:
    s = line.strip()
    return len(s) <= MAX_MOBILE_CHARS and MOBILE_SIGNATURE_RE.match(s) is not None


def is_closing(line: str) -> bool:
    """'Cordialement,', 'Best regards', 'Merci !' (but not 'Bonjour Anne,')."""
    s = line.strip()
    if not s or len(s) > MAX_CLOSING_CHARS:
        return False
    if s.endswith(","):
        return not GREETING_RE.match(s)
    return len(s.split()) <= MAX_CLOSING_WORDS and CLOSING_RE.match(s) is not None


def has_contact(line: str) -> bool:
    return CONTACT_RE.search(line[:MAX_SIGNATURE_LINE_CHARS]) is not None


@functools.lru_cache(maxsize=NAME_CACHE_SIZE)
def _words(text: str) -> tuple[str, ...]:
    folded = unicodedata.normalize("NFKD", text.lower())
    letters = (c if c.isalpha() else " " for c in folded if not unicodedata.combining(c))
    return tuple("".join(letters).split())


@functools.lru_cache(maxsize=NAME_CACHE_SIZE)
def author_tokens(name: str, address: str) -> frozenset[str]:
    """Accent-folded words of the From display name and address local part."""
    local = address.partition("@")[0]
    return frozenset(w for w in (*_words(name), *_words(local)) if len(w) > 1)


def name_part(line: str) -> str:
    """'Jane Doe | Senior Engineer' -> 'Jane Doe'."""
    return NAME_SEPARATOR_RE.split(line.strip()[:MAX_SIGNATURE_LINE_CHARS], maxsplit=1)[0]


_NAME_PUNCTUATION = str.maketrans("", "", "-.'’")


def may_start_name(line: str) -> bool:
    """Quick test on a stripped line: False when is_name_like(name_part(line)) is False.

    A name's first word is a whole word of the line and its second starts like one.
    """
    words = line.split(None, 2)
    if len(words) < 2 or not _name_word(words[0]):
        return False
    second = words[1][0]
    return second.isupper() or second in _PARTICLE_INITIALS


def is_name_like(part: str) -> bool:
    """'Jane Doe', 'Paul DURAND', 'Anne de la Tour': 2-4 capitalised words, no digits."""
    words = part.split()
    if not 2 <= len(words) <= MAX_NAME_WORDS or len(part) > MAX_NAME_CHARS:
        return False
    return all(map(_name_word, words))


def _name_word(word: str) -> bool:
    if word.lower() in NAME_PARTICLES:
        return True
    return word[0].isupper() and word.translate(_NAME_PUNCTUATION).isalpha()


def is_author_line(line: str, author: frozenset[str]) -> bool:
    """The line starts with the author's name ('DURAND Paul' matches 'Paul Durand')."""
    part = name_part(line)
    return is_name_like(part) and is_author_name(part, author)


def is_author_name(part: str, author: frozenset[str]) -> bool:
    """The name-like `part` (see is_name_like) is the author's, in any order and case."""
    if not author:
        return False
    words = _words(part)
    hits = sum(1 for w in words if w in author)
    return hits >= 2 and hits >= len(words) - 1
