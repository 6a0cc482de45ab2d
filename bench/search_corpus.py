"""Synthetic archive for `bench/search.py`: rows shaped like what ingest stores, in bulk.

Shape: lists in French and English (one private), reply chains inside threads, replies that
quote their parent (quotes go to `bodies.text` only, like ingest), own text of 60-200 words
drawn from a Zipf vocabulary per language (real stopwords and domain words at the head,
generated words in the tail), signatures, attachments, Cc recipients, a few hidden messages.
Search documents are analysed with `mailgate.search_index` exactly as ingest does.

`structure()` draws the archive's skeleton (thread, parent, list, author, date per message) in
one pass; `rows()` turns a range of messages into table rows and can run in worker processes
(texts are a pure function of the seed and the message number, so a reply regenerates the text
it quotes). `load_*` write the rows through SQLAlchemy (executemany on SQLite, COPY on
PostgreSQL).
"""

from __future__ import annotations

import functools
import hashlib
import random
import zlib
from array import array
from dataclasses import dataclass
from datetime import UTC, datetime

from mailgate import search_index
from mailgate.subjects import subject_key

START = datetime(2012, 1, 1, tzinfo=UTC)
END = datetime(2025, 6, 30, tzinfo=UTC)
ROOT_PROBABILITY = 0.3
ACTIVE_THREADS = 40
ATTACHMENT_PROBABILITY = 0.08
CC_PROBABILITY = 0.3
HIDDEN_PROBABILITY = 0.001
OTHER_LANGUAGE_PROBABILITY = 0.1
ZIPF_EXPONENT = 1.05
SYNTHETIC_WORDS = 60_000
PEOPLE = 20_000
MEMBERS_PER_LIST = 3_000
QUOTED_LINES = 8
TEXT_CACHE_SIZE = 20_000
LISTS = (
    ("general", "fr", 0.25, "public"),
    ("innovation", "fr", 0.15, "public"),
    ("rse", "fr", 0.10, "public"),
    ("support", "fr", 0.15, "public"),
    ("engineering", "en", 0.15, "public"),
    ("sales-intl", "en", 0.10, "public"),
    ("board", "fr", 0.05, "private"),
    ("devops", "en", 0.05, "public"),
)
STOPWORDS = {
    "fr": "de la le et les des à en un une du que est pour qui dans pas sur au nous vous il "
    "on ce avec plus par je ne se sont mais ou son cette aux tout elle a été bien comme "
    "merci bonjour cordialement aussi leur fait peut donc très",
    "en": "the of and to a in is that for it with as was on be by this are have not at from "
    "or we you an but they which his will all has can there their been if would more one "
    "about thanks regards hi please also just so",
}
DOMAIN_WORDS = {
    "fr": "réseau réseaux innovation collaborer collaboration entreprise projet budget "
    "réunion équipe client clients sécurité serveur messagerie migration formation "
    "mobilité énergie carbone bilan rapport planning livraison commande facture contrat "
    "prototype hackathon télétravail astreinte sauvegarde imprimante licence réseau "
    "fournisseur qualité audit stratégie développement durable numérique jumeau "
    "données tableau indicateur objectif trimestre semestre salon stand offre appel",
    "en": "network innovation collaborate collaboration company project budget meeting team "
    "customer customers security server mail migration training mobility energy carbon "
    "report planning delivery order invoice contract prototype hackathon remote on-call "
    "backup printer license supplier quality audit strategy development sustainable digital "
    "twin data dashboard metric goal quarter release deploy pipeline kubernetes database",
}
SUFFIXES = {
    "fr": ("", "er", "ation", "ement", "eux", "ité", "ique", "age", "eur", "ons", "ait", "es"),
    "en": ("", "ing", "ed", "tion", "ly", "s", "er", "ment", "ness", "able", "ize", "ity"),
}


def _names(text: str) -> list[str]:
    return text.split()


SYLLABLES = [c + v for c in "bcdfglmnprstvz" for v in ("a", "e", "i", "o", "u", "ou", "ai")]
FIRST = _names(
    "Jean Claire Nicolas Léa Camille Thomas Sophie Julien Manon Karim Hélène Marc Chloé "
    "Vincent Isabelle Antoine Élodie Guillaume Aurélie Pierre Marie Paul Anne Louis Emma "
    "Oliver Klaus James Sarah David Laura Peter Anna Michael Julia Daniel Emily Mark Lucy"
)
LAST = _names(
    "Martin Dupont Bernard Durand Lefèvre Moreau Girard Fabre Bonnet Mercier Rousseau "
    "Blanc Guérin Faure André Petit Robert Richard Simon Laurent Michel Garcia David Bertrand "
    "Roux Vincent Fournier Morel Girard Lambert Smith Jones Becker Grant Müller Wilson Brown"
)
DOMAINS = ("groupe-exemple.example", "exemple-ingenierie.example", "courriel.example")


def _zipf_weights(count: int) -> list[float]:
    weights, total = [], 0.0
    for rank in range(1, count + 1):
        total += 1.0 / rank**ZIPF_EXPONENT
        weights.append(total)
    return weights


@dataclass
class Vocabulary:
    words: list[str]
    cumulative: list[float]
    content_start: int


def vocabulary(language: str, seed: int) -> Vocabulary:
    rng = random.Random(f"{seed}-{language}")
    head = STOPWORDS[language].split()
    domain = DOMAIN_WORDS[language].split()
    seen = set(head) | set(domain)
    tail = []
    while len(tail) < SYNTHETIC_WORDS:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        word += rng.choice(SUFFIXES[language])
        if word not in seen:
            seen.add(word)
            tail.append(word)
    # Domain words spread over ranks 60..3000 so they are common, not ubiquitous.
    words = head + tail
    for index, word in enumerate(domain):
        words.insert(len(head) + 10 + index * 40, word)
    return Vocabulary(words, _zipf_weights(len(words)), len(head))


@dataclass
class Skeleton:
    """Per message (index i = message id - 1): arrays of the archive's structure."""

    lists: array
    parents: array  # index of the parent, -1 for a thread root
    threads: array  # thread number
    authors: array
    seconds: array  # UTC seconds
    languages: bytes  # b"f" / b"e"
    count: int


def structure(count: int, seed: int) -> Skeleton:
    """The skeleton of `count` messages in date order."""
    rng = random.Random(seed)
    shares = [share for _name, _lang, share, _vis in LISTS]
    members = [rng.sample(range(PEOPLE), MEMBERS_PER_LIST) for _ in LISTS]
    author_weights = _zipf_weights(MEMBERS_PER_LIST)
    active: list[list[tuple[int, int]]] = [[] for _ in LISTS]  # (thread, last message)
    lists, parents, threads = array("b"), array("l"), array("l")
    authors, seconds, languages = array("l"), array("q"), bytearray()
    start, span = START.timestamp(), END.timestamp() - START.timestamp()
    thread_count = 0
    for index in range(count):
        lst = rng.choices(range(len(LISTS)), cum_weights=None, weights=shares)[0]
        if not active[lst] or rng.random() < ROOT_PROBABILITY:
            thread, parent = thread_count, -1
            thread_count += 1
            active[lst].append((thread, index))
            if len(active[lst]) > ACTIVE_THREADS:
                active[lst].pop(0)
        else:
            slot = rng.randrange(len(active[lst]))
            thread, parent = active[lst][slot]
            active[lst][slot] = (thread, index)
        lists.append(lst)
        parents.append(parent)
        threads.append(thread)
        authors.append(
            members[lst][rng.choices(range(MEMBERS_PER_LIST), cum_weights=author_weights)[0]]
        )
        seconds.append(int(start + span * (index + rng.random()) / count))
        language = LISTS[lst][1]
        if rng.random() < OTHER_LANGUAGE_PROBABILITY:
            language = "en" if language == "fr" else "fr"
        languages.append(ord(language[0]))
    return Skeleton(lists, parents, threads, authors, seconds, bytes(languages), count)


def person(number: int) -> tuple[str, str]:
    first = FIRST[number % len(FIRST)]
    last = LAST[(number // len(FIRST)) % len(LAST)]
    domain = DOMAINS[number % len(DOMAINS)]
    suffix = "" if number < len(FIRST) * len(LAST) else str(number // (len(FIRST) * len(LAST)))
    local = f"{first}.{last}{suffix}".lower()
    local = local.translate(str.maketrans("éèëêïîôüöàç", "eeeeiiouoac"))
    return f"{first} {last}", f"{local}@{domain}"


class Writer:
    """Generates texts; one per process (vocabularies are built once)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.vocab = {lang: vocabulary(lang, seed) for lang in ("fr", "en")}

    def _words(self, rng: random.Random, language: str, count: int, content: bool = False):
        vocab = self.vocab[language]
        if content:
            low = vocab.cumulative[vocab.content_start - 1]
            picks = [rng.uniform(low, vocab.cumulative[-1]) for _ in range(count)]
            return [vocab.words[_bisect(vocab.cumulative, p)] for p in picks]
        return rng.choices(vocab.words, cum_weights=vocab.cumulative, k=count)

    @functools.lru_cache(maxsize=TEXT_CACHE_SIZE)  # noqa: B019 - one Writer per process
    def own_text(self, index: int, language: str) -> str:
        rng = random.Random(f"{self.seed}:text:{index}")
        words = self._words(rng, language, rng.randint(60, 200))
        greeting = "Bonjour à tous," if language == "fr" else "Hi all,"
        sentences, position = [greeting], 0
        while position < len(words):
            length = rng.randint(6, 18)
            chunk = words[position : position + length]
            position += length
            if language == "fr" and rng.random() < 0.3 and chunk[0][0] in "aeiouéh":
                chunk[0] = rng.choice(("l'", "d'", "qu'")) + chunk[0]
            sentences.append(chunk[0].capitalize() + " " + " ".join(chunk[1:]) + ".")
        return "\n".join(" ".join(sentences[i : i + 3]) for i in range(0, len(sentences), 3))

    def subject(self, thread: int, language: str) -> str:
        rng = random.Random(f"{self.seed}:subject:{thread}")
        return " ".join(self._words(rng, language, rng.randint(3, 7), content=True)).capitalize()


def _bisect(cumulative: list[float], value: float) -> int:
    import bisect

    return min(bisect.bisect_left(cumulative, value), len(cumulative) - 1)


def mid(index: int) -> str:
    return f"{index + 1}.{hashlib.md5(str(index).encode()).hexdigest()[:12]}@bench.example"


def _raw(headers: dict[str, str], body: str) -> bytes:
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return (
        head + "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body
    ).encode()


@dataclass
class Rows:
    raw: list
    deliveries: list
    messages: list
    bodies: list
    recipients: list
    attachments: list
    message_lists: list
    search_docs: list
    thread_nodes: list


SIGNATURES = {"fr": "-- \n{name}\nGroupe Exemple", "en": "-- \n{name}\nExample Group"}
ATTRIBUTION = {"fr": "Le {date}, {name} a écrit :", "en": "On {date}, {name} wrote:"}


def _message(sk: Skeleton, writer: Writer, index: int, lists: dict) -> tuple[dict, str, str]:
    """The messages row, the own text and the full text of message `index`."""
    language = "fr" if sk.languages[index] == ord("f") else "en"
    name, address = person(sk.authors[index])
    parent = sk.parents[index]
    root_language = "fr" if LISTS[sk.lists[index]][1] == "fr" else "en"
    subject = writer.subject(sk.threads[index], root_language)
    if parent >= 0:
        subject = ("RE : " if language == "fr" else "Re: ") + subject
    own = writer.own_text(index, language)
    text = own
    if parent >= 0:
        parent_language = "fr" if sk.languages[parent] == ord("f") else "en"
        quoted = writer.own_text(parent, parent_language).split("\n")[:QUOTED_LINES]
        when = datetime.fromtimestamp(sk.seconds[parent], UTC).strftime("%d/%m/%Y %H:%M")
        text += "\n\n" + ATTRIBUTION[language].format(date=when, name=person(sk.authors[parent])[0])
        text += "\n" + "\n".join("> " + line for line in quoted)
    text += "\n\n" + SIGNATURES[language].format(name=name)
    date = datetime.fromtimestamp(sk.seconds[index], UTC).replace(tzinfo=None)
    rng = random.Random(f"{writer.seed}:flags:{index}")
    row = {
        "id": index + 1,
        "fingerprint": hashlib.sha256(mid(index).encode()).hexdigest(),
        "raw_id": index + 1,
        "message_id": mid(index),
        "synthetic_mid": False,
        "thread_id": sk.threads[index] + 1,
        "parent_mid": mid(parent) if parent >= 0 else None,
        "link": "references" if parent >= 0 else "root",
        "subject": subject,
        "subject_key": subject_key(subject)[:200],
        "reply_like": parent >= 0,
        "from_name": name,
        "from_addr": address,
        "person_id": None,
        "date": date,
        "tz_offset": 60,
        "arrived_at": date,
        "thread_index": None,
        "thread_index_root": None,
        "has_attachments": rng.random() < ATTACHMENT_PROBABILITY,
        "language": language,
        "snippet": " ".join(own.split())[:240],
        "hidden": rng.random() < HIDDEN_PROBABILITY,
    }
    return row, own, text


def rows(sk: Skeleton, writer: Writer, start: int, stop: int, list_ids: list[int]) -> Rows:
    """Table rows of messages [start, stop), as ingest would store them."""
    out = Rows([], [], [], [], [], [], [], [], [])
    for index in range(start, stop):
        row, own, text = _message(sk, writer, index, {})
        pk, lst = index + 1, sk.lists[index]
        list_name = LISTS[lst][0]
        list_address = f"{list_name}@lists.example.org"
        rng = random.Random(f"{writer.seed}:extras:{index}")
        recipients = [("", list_address)]
        if rng.random() < CC_PROBABILITY:
            recipients.append(person(rng.randrange(PEOPLE)))
        files = []
        if row["has_attachments"]:
            words = writer.vocab[row["language"]].words
            files.append(f"{rng.choice(words[60:3000])}-{rng.choice(words[60:3000])}.pdf")
        headers = {
            "From": f"{row['from_name']} <{row['from_addr']}>",
            "To": list_address,
            "Subject": row["subject"],
            "Date": row["date"].strftime("%a, %d %b %Y %H:%M:%S +0000"),
            "Message-ID": f"<{row['message_id']}>",
        }
        if row["parent_mid"]:
            headers["In-Reply-To"] = f"<{row['parent_mid']}>"
        raw = _raw(headers, text)
        sha = hashlib.sha256(raw).hexdigest()
        out.raw.append(
            {"id": pk, "sha256": sha, "size": len(raw), "data": zlib.compress(raw, 1),
             "received_at": row["date"]}
        )  # fmt: skip
        out.deliveries.append(
            {"id": pk, "raw_id": pk, "list_id": list_ids[lst], "arrived_at": row["date"],
             "source": "bench"}
        )  # fmt: skip
        out.messages.append(row)
        out.bodies.append(
            {"message_pk": pk, "text": text, "html": None, "own_text": own,
             "zones": "[]", "defects": ""}
        )  # fmt: skip
        for kind, (name, address) in zip(("to", "cc"), recipients, strict=False):
            out.recipients.append(
                {"message_pk": pk, "kind": kind, "name": name, "address": address}
            )
        for position, filename in enumerate(files, start=2):
            out.attachments.append(
                {"message_pk": pk, "position": position, "filename": filename,
                 "content_type": "application/pdf", "size": 50_000 + position,
                 "sha256": sha, "content_id": None, "inline": False}
            )  # fmt: skip
        out.message_lists.append(
            {"message_pk": pk, "list_id": list_ids[lst], "raw_id": pk, "date": row["date"],
             "arrived_at": row["date"]}
        )  # fmt: skip
        terms = search_index.terms(
            subject=row["subject"],
            from_name=row["from_name"],
            from_addr=row["from_addr"],
            recipients=recipients,
            filenames=files,
            own_text=own,
            language=row["language"],
        )
        doc = search_index.placement(
            terms,
            message_pk=pk,
            date=row["date"],
            list_ids=[list_ids[lst]],
            has_attachments=row["has_attachments"],
            language=row["language"],
        )
        out.search_docs.append({"message_pk": pk, **doc})
        out.thread_nodes.append(
            {"mid": row["message_id"], "thread_id": row["thread_id"],
             "parent_mid": row["parent_mid"], "ghost": False}
        )  # fmt: skip
    return out


def thread_rows(sk: Skeleton, writer: Writer, list_ids: list[int]) -> tuple[list, list]:
    """threads and thread_lists rows."""
    info: dict[int, list] = {}
    for index in range(sk.count):
        thread = sk.threads[index]
        entry = info.get(thread)
        if entry is None:
            info[thread] = [index, sk.seconds[index], sk.seconds[index], 1, sk.lists[index]]
        else:
            entry[2] = sk.seconds[index]
            entry[3] += 1
    threads, thread_lists = [], []
    for thread, (root, first, last, count, lst) in info.items():
        first_date = datetime.fromtimestamp(first, UTC).replace(tzinfo=None)
        last_date = datetime.fromtimestamp(last, UTC).replace(tzinfo=None)
        language = LISTS[lst][1]
        threads.append(
            {"id": thread + 1, "subject": writer.subject(thread, language), "root_mid": mid(root),
             "first_date": first_date, "last_date": last_date, "message_count": count}
        )  # fmt: skip
        thread_lists.append(
            {"thread_id": thread + 1, "list_id": list_ids[lst], "first_date": first_date,
             "last_date": last_date, "message_count": count}
        )  # fmt: skip
    return threads, thread_lists
