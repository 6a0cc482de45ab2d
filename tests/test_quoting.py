"""Tests for mailgate.quoting: the French enterprise corpus, then one small case per construct."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mailgate.quoting import ZONE_KINDS, Split, Zone, split_body

DATA = Path(__file__).parent / "data" / "french-enterprise" / "expected.json"

# Floors, not perfection: a few messages cannot be told apart by general rules (the corpus puts
# one author's automatic "Cordialement," inside her signature and everyone else's outside it).
OWN_TEXT_FLOOR = 0.95
EXCLUSION_FLOOR = 0.99
NON_OWN_KINDS = frozenset({"quote", "attribution", "signature", "disclaimer"})

NBSP = "\u00a0"


def _norm(text: str) -> str:
    return " ".join(text.split())


def _kinds(split: Split) -> list[str]:
    return [z.kind for z in split.zones]


def _own_lines(split: Split) -> set[int]:
    return {i for z in split.zones if z.kind == "own" for i in range(z.start, z.end)}


def _check_invariants(split: Split) -> None:
    previous_end = 0
    for zone in split.zones:
        assert zone.kind in ZONE_KINDS
        assert previous_end <= zone.start < zone.end <= len(split.lines)
        assert split.lines[zone.start].strip() and split.lines[zone.end - 1].strip()
        previous_end = zone.end


# --- the corpus ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus() -> list[tuple[dict, Split]]:
    if not DATA.exists():
        pytest.skip(f"{DATA} not found")
    messages = json.loads(DATA.read_text(encoding="utf-8"))["messages"]
    return [
        (m, split_body(m["text"], author_name=m["from_display"], author_address=m["from_address"]))
        for m in messages
        if m["text"] is not None
    ]


def test_corpus_zone_invariants(corpus: list[tuple[dict, Split]]) -> None:
    for message, split in corpus:
        assert split.lines == tuple(message["text"].split("\n"))
        _check_invariants(split)


def test_corpus_own_text(corpus: list[tuple[dict, Split]]) -> None:
    misses = []
    for message, split in corpus:
        expected, got = _norm(message["own_text"]), _norm(split.own_text)
        if expected != got:
            misses.append(f"{message['key']}: expected {expected[-80:]!r}, got {got[-80:]!r}")
    rate = 1 - len(misses) / len(corpus)
    print(f"\nown text exact match: {len(corpus) - len(misses)}/{len(corpus)} = {rate:.2%}")
    print("\n".join(misses))
    assert rate >= OWN_TEXT_FLOOR, "own text mismatches:\n" + "\n".join(misses)


def test_corpus_quoted_text_is_not_own(corpus: list[tuple[dict, Split]]) -> None:
    """Quoted text must not make a search hit: non-own lines must stay out of own zones."""
    total, leaks = 0, []
    for message, split in corpus:
        own = _own_lines(split)
        for zone in message["zones"]:
            if zone["kind"] not in NON_OWN_KINDS:
                continue
            for i in range(zone["start"], zone["end"]):
                if split.lines[i].strip():
                    total += 1
                    if i in own:
                        leaks.append(f"{message['key']}:{i} {zone['kind']} {split.lines[i]!r}")
    rate = 1 - len(leaks) / total
    print(f"\nnon-own lines excluded: {total - len(leaks)}/{total} = {rate:.2%}")
    print("\n".join(leaks))
    assert rate >= EXCLUSION_FLOOR, "non-own lines in own zones:\n" + "\n".join(leaks)
    quoted = [x for x in leaks if x.split()[1] in ("quote", "attribution")]
    assert not quoted, "quoted lines in own zones:\n" + "\n".join(quoted)


def test_corpus_inline_list_footer_changes_nothing(corpus: list[tuple[dict, Split]]) -> None:
    """Other archives keep the Mailman footer in the text: it must only add a footer zone."""
    footer = (
        "_______________________________________________\nliste mailing list\n"
        "liste@lists.example.org\nhttps://lists.example.org/mailman/listinfo/liste\n"
    )
    for message, split in corpus:
        text = message["text"].rstrip("\n") + "\n\n" + footer
        with_footer = split_body(
            text, author_name=message["from_display"], author_address=message["from_address"]
        )
        assert with_footer.own_text == split.own_text, message["key"]
        assert with_footer.zones[-1].kind == "footer", message["key"]


# --- '>' quotes and attributions -----------------------------------------------------------------


def test_english_bottom_post_with_dash_signature() -> None:
    text = (
        "On Mon, 3 Mar 2025 at 10:15, John Smith <john@example.com> wrote:\n"
        "> Can we move the meeting to Thursday?\n"
        "> Thanks\n"
        "\n"
        "Thursday works for me.\n"
        "\n"
        "-- \n"
        "Jane Doe\n"
        "Operations, Example Ltd"
    )
    split = split_body(text, author_name="Jane Doe")
    assert _kinds(split) == ["attribution", "quote", "own", "signature"]
    assert split.own_text == "Thursday works for me."
    assert split.text_of("signature") == "-- \nJane Doe\nOperations, Example Ltd"
    _check_invariants(split)


def test_french_gmail_wrapped_attribution_top_post() -> None:
    text = (
        "Bonjour,\n\nOui, c'est d'accord pour jeudi.\n\nLucie\n\n"
        "Le mar. 4 mars 2025 à 09:12, Anne Leroy <\n"
        f"anne.leroy@example.org> a écrit{NBSP}:\n\n"
        "> Bonjour,\n>\n> Peut-on décaler la réunion ?\n"
    )
    split = split_body(text, author_name="Lucie Vasseur")
    assert _kinds(split) == ["own", "attribution", "quote"]
    assert split.own_text == "Bonjour,\n\nOui, c'est d'accord pour jeudi.\n\nLucie"
    assert split.text_of("attribution").startswith("Le mar. 4 mars")


def test_french_thunderbird_and_apple_attributions() -> None:
    for attribution in (
        "Le 12/03/2025 à 10:15, Hugo Lemaire a écrit :",
        "Le 4 mars 2025 à 09:12, Hugo Lemaire <hugo@example.org> a écrit :",
    ):
        split = split_body(f"{attribution}\n> L'imprimante est en panne.\n\nC'est réparé.\n")
        assert _kinds(split) == ["attribution", "quote", "own"]
        assert split.own_text == "C'est réparé."


def test_german_attribution_and_closing() -> None:
    text = (
        "Am 03.03.2025 um 10:15 schrieb Petra Schulz <petra@example.de>:\n"
        "> Können wir die Lieferung verschieben?\n\n"
        "Ja, das passt.\n\nViele Grüße\nHans\n"
    )
    split = split_body(text, author_name="Hans Weber")
    assert _kinds(split) == ["attribution", "quote", "own"]
    assert split.own_text == "Ja, das passt.\n\nViele Grüße\nHans"


def test_custom_attribution_with_address_right_above_the_quote() -> None:
    text = "* John Smith <john@example.com> [2025-03-03 10:15]:\n> Any news?\n\nNot yet.\n"
    split = split_body(text)
    assert _kinds(split) == ["attribution", "quote", "own"]


@pytest.mark.parametrize(
    "attribution",
    [
        "Citation de Anne Leroy <anne@example.org> :",
        "Le 3 mars 2025 à 10:15, Anne Leroy a\nécrit :",
        "On Mon, Mar 3, 2025 at 10:15 AM Anne Leroy <\nanne@example.org> wrote:",
        "Am Mo., 3. März 2025 um 10:15 Uhr schrieb Anne Leroy <anne@example.org>:",
    ],
)
def test_more_attribution_styles(attribution: str) -> None:
    split = split_body(f"{attribution}\n\n> Une question ?\n\nUne réponse.\n")
    assert _kinds(split) == ["attribution", "quote", "own"]
    assert split.own_text == "Une réponse."


def test_interleaved_reply_keeps_own_text_between_quotes() -> None:
    text = (
        "Le 06/01/2025 à 21:30, Lucie Vasseur a écrit :\n"
        "> Première question ?\n\n"
        "Première réponse.\n\n"
        "> Deuxième question ?\n"
        ">> Citation plus ancienne.\n\n"
        "Deuxième réponse.\n\n"
        "Hugo\n"
    )
    split = split_body(text, author_name="Hugo Lemaire")
    assert _kinds(split) == ["attribution", "quote", "own", "quote", "own"]
    assert _norm(split.own_text) == "Première réponse. Deuxième réponse. Hugo"


def test_compact_interleaved_answers_and_rewrapped_quote() -> None:
    text = (
        "On Tue, 4 Mar 2025 at 08:00, Bob <bob@example.com> wrote:\n"
        "> Question one?\nAnswer one.\n> Question two?\nAnswer two.\n"
        "> A long quoted sentence that the mail client re-wrapped at some point so that\n"
        "its end lost the quote marker\n> and the quote goes on.\n\nDone.\n"
    )
    split = split_body(text)
    assert _norm(split.own_text) == "Answer one. Answer two. Done."


def test_gt_section_markers_without_attribution_are_own_text() -> None:
    text = (
        "Bonjour à tous,\n\nMes remarques sur la présentation :\n\n"
        ">Le télétravail réduit les échanges\nPas chez nous, les chiffres le montrent.\n\n"
        ">Les outils sont trop nombreux\nD'accord, gardons-en deux.\n\nPaul\n"
    )
    split = split_body(text, author_name="Paul Durand")
    assert _kinds(split) == ["own"]
    assert ">Le télétravail réduit les échanges" in split.own_text


def test_mboxrd_from_lines_in_explanation_are_own_text() -> None:
    text = (
        "On Mon, 13 Jan 2025 at 10:30, Paul Durand wrote:\n"
        "> What happens to the old archives?\n\n"
        "They are exported as mbox. A body line starting with From becomes:\n\n"
        ">From Paris with love\n\n"
        "and the import tool removes the extra '>'.\n\n"
        "-- \nHugo\n"
    )
    split = split_body(text)
    assert ">From Paris with love" in split.own_text
    assert "What happens" not in split.own_text
    assert _kinds(split) == ["attribution", "quote", "own", "signature"]


def test_gt_block_without_attribution_is_a_quote() -> None:
    split = split_body("> Is this fixed in 2.3?\n> It crashed again.\n\nYes, upgrade.\n")
    assert _kinds(split) == ["quote", "own"]
    assert split.own_text == "Yes, upgrade."


def test_attribution_with_nothing_quoted_is_not_history() -> None:
    split = split_body("Le 03/02/2025 à 10:40, Hugo Lemaire a écrit :\n\nÇa revient, merci !\n")
    assert _kinds(split) == ["attribution", "own"]
    assert split.own_text == "Ça revient, merci !"


def test_attribution_above_unmarked_text_starts_the_quote() -> None:
    text = "Thanks, fixed.\n\nOn Mon, 3 Mar 2025, Bob <bob@example.com> wrote:\nIt is broken.\n"
    split = split_body(text)
    assert _kinds(split) == ["own", "attribution", "quote"]
    assert split.own_text == "Thanks, fixed."


def test_iphone_attribution_inside_the_quote() -> None:
    text = (
        "D'accord.\n\nEnvoyé de mon iPhone\n\n"
        "> Le 5 février 2025 à 09:30, Lucie Vasseur <lucie@example.org> a écrit :\n"
        ">\n> Bonjour Anne,\n> Voici les chiffres.\n"
    )
    split = split_body(text, author_name="Anne Leroy")
    assert _kinds(split) == ["own", "signature", "attribution", "quote"]
    assert split.own_text == "D'accord."


# --- unmarked header blocks (Outlook, Exchange, Lotus Notes) -------------------------------------


def test_french_outlook_header_block_with_nbsp_and_rule() -> None:
    text = (
        "Merci, je regarde.\n\n"
        f"Paul Durand\nChef de projet\nTél.{NBSP}: +33 1 23 45 67 89\n\n"
        "________________________________\n"
        f"De{NBSP}: Anne Leroy <anne@example.org>\n"
        f"Envoyé{NBSP}: lundi 3 mars 2025 10:15\n"
        f"À{NBSP}: liste@example.org\n"
        f"Cc{NBSP}: Paul Durand <paul@example.org>\n"
        f"Objet{NBSP}: Réunion\n\n"
        "Bonjour,\n\nLa réunion est déplacée.\n"
    )
    split = split_body(text, author_name="Paul Durand")
    assert _kinds(split) == ["own", "signature", "attribution", "quote"]
    assert split.own_text == "Merci, je regarde."
    assert split.text_of("attribution").startswith("____")


def test_english_original_message_separator() -> None:
    text = (
        "Approved.\n\nBest regards,\nJohn Smith\nHead of Finance | Example Corp\n+1 555 0100\n\n"
        "-----Original Message-----\n"
        "From: Anna Lee <anna@example.com>\nSent: Monday, March 3, 2025 10:15 AM\n"
        "To: finance@example.com\nSubject: Budget request\n\n"
        "Please approve the attached budget.\n"
    )
    split = split_body(text)  # no author hint: the closing line and the phone number suffice
    assert _kinds(split) == ["own", "signature", "attribution", "quote"]
    assert split.own_text == "Approved.\n\nBest regards,"


def test_german_outlook_block_and_transport_disclaimer() -> None:
    text = (
        "Guten Tag,\n\nanbei die Zahlen.\n\nMit freundlichen Grüßen\n\n"
        "Hans Weber\nLeiter Einkauf\n\n"
        "Von: Anne Leroy <anne@example.org>\nGesendet: Montag, 3. März 2025 09:14\n"
        "An: liste@example.org\nBetreff: Zahlen 2024\n\n"
        "Bitte schicken Sie mir die Zahlen.\n\n"
        "Beispiel GmbH · Sitz Köln · Geschäftsführer: Hans Weber\n"
        "Diese E-Mail enthält vertrauliche Informationen.\n"
    )
    split = split_body(text, author_name="Hans Weber")
    assert _kinds(split) == ["own", "signature", "attribution", "quote", "disclaimer"]
    assert split.own_text == "Guten Tag,\n\nanbei die Zahlen.\n\nMit freundlichen Grüßen"


def test_lotus_notes_tab_block_with_signature_disclaimer() -> None:
    text = (
        "Bonjour,\n\nLe fichier est parti ce matin.\n\nCordialement,\n\n"
        "Paul DURAND\nResponsable des achats\n\n"
        "Durand et Fils SAS au capital de 100 000 € - Siège : Paris.\n"
        "Ce courriel et ses pièces jointes peuvent contenir des informations\n"
        "confidentielles.\n\n\n"
        "De :\tAnne Leroy <anne@example.org>\nA :\tliste@example.org\n"
        "Date :\t03/02/2025 09:14\nObjet :\tRéf. : Inventaire\n"
        "Envoyé par :\tliste-bounces@example.org\n\n"
        "Bonjour à tous,\n\nMerci de renvoyer le fichier.\n"
    )
    split = split_body(text, author_name="Paul DURAND")
    assert _kinds(split) == ["own", "signature", "disclaimer", "attribution", "quote"]
    assert split.own_text == "Bonjour,\n\nLe fichier est parti ce matin.\n\nCordialement,"


def test_lotus_notes_wrote_separator() -> None:
    text = (
        "Bien reçu, merci.\n\n"
        "-----Anne Leroy/Example a écrit : -----\n\n"
        "A : liste@example.org\nDe : Anne Leroy <anne@example.org>\n"
        "Date : 03/03/2025 10:15\nObjet : Inventaire\n\nLe fichier est prêt.\n"
    )
    split = split_body(text)
    assert _kinds(split) == ["own", "attribution", "quote"]
    assert split.own_text == "Bien reçu, merci."


# --- inline forwards -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "marker",
    [
        "---------- Forwarded message ---------",
        "-------- Message transféré --------",
        "Début du message réexpédié :",
        "Begin forwarded message:",
        "-------- Weitergeleitete Nachricht --------",
    ],
)
def test_inline_forward(marker: str) -> None:
    text = (
        "See below, can you answer?\n\n"
        f"{marker}\n"
        "From: Mary Watson <mary@example.edu>\nDate: Fri, 14 Feb 2025 16:05\n"
        "Subject: Joint project\nTo: Jane <jane@example.org>\n\n"
        "Dear Jane,\n\nWe could host a PhD student.\n"
    )
    split = split_body(text)
    assert _kinds(split) == ["own", "fwd-header", "forwarded"]
    assert split.own_text == "See below, can you answer?"
    assert split.text_of("forwarded").startswith("Dear Jane,")


def test_original_message_announced_as_forward() -> None:
    text = (
        "Pour information. Hugo, peux-tu préparer les éléments ?\n\n"
        "-----Message d'origine-----\nDe : Cabinet <cabinet@example.org>\n"
        "Envoyé : vendredi 14 février 2025 17:45\nÀ : Paul <paul@example.org>\n"
        "Objet : Pièces demandées\n\nMonsieur,\n"
    )
    split = split_body(text)
    assert _kinds(split) == ["own", "fwd-header", "forwarded"]


# --- signatures, disclaimers, footers ------------------------------------------------------------


@pytest.mark.parametrize(
    "mobile",
    [
        "Envoyé de mon iPhone",
        "Sent from my iPhone",
        "Envoyé de mon appareil mobile",
        "Von meinem iPhone gesendet",
        "Sent from Outlook for Android",
        "Télécharger Outlook pour iOS",
        "Get Outlook for iOS",
    ],
)
def test_mobile_signatures(mobile: str) -> None:
    split = split_body(f"OK pour moi.\n\n{mobile}\n")
    assert _kinds(split) == ["own", "signature"]
    assert split.own_text == "OK pour moi."


def test_signature_without_delimiter_after_salutation_line() -> None:
    text = (
        "Bonjour Anne,\n\nLes relevés sont disponibles.\n\nBelle journée,\n\n"
        "Anne Leroy\nDirectrice technique\nTél. : +33 1 23 45 67 00\n"
        "Pensez à l’environnement : n’imprimez ce courriel que si nécessaire.\n"
    )
    split = split_body(text, author_name="LEROY Anne", author_address="a.leroy@example.org")
    assert _kinds(split) == ["own", "signature"]
    assert split.own_text.endswith("Belle journée,")


def test_signature_opened_by_name_right_under_closing() -> None:
    text = "Thanks for the update.\n\nCheers,\nJohn\n\nJohn Smith | Senior Engineer\n"
    split = split_body(text, author_name="John Smith")
    assert split.own_text == "Thanks for the update.\n\nCheers,\nJohn"
    assert split.text_of("signature") == "John Smith | Senior Engineer"


def test_greeting_and_names_in_text_are_not_signatures() -> None:
    text = (
        "Bonjour Anne,\n\nHugo Lemaire a raison sur ce point.\n\n"
        "Les participants :\n\nHugo Lemaire\nLucie Vasseur\nJohn Smith\n"
    )
    split = split_body(text)
    assert _kinds(split) == ["own"]


@pytest.mark.parametrize(
    "disclaimer",
    [
        "This e-mail and any attachments are confidential and intended solely for the addressee.",
        "Ce message et toutes les pièces jointes sont confidentiels et établis à l'intention "
        "exclusive de leurs destinataires.",
        "Diese E-Mail enthält vertrauliche und/oder rechtlich geschützte Informationen.",
    ],
)
def test_disclaimer_appended_after_the_quote(disclaimer: str) -> None:
    text = f"Agreed.\n\nOn Mon, 3 Mar 2025, Bob wrote:\n> Shall we ship?\n\n{disclaimer}\n"
    split = split_body(text)
    assert _kinds(split) == ["own", "attribution", "quote", "disclaimer"]
    assert split.own_text == "Agreed."


def test_mailman_footer() -> None:
    text = (
        "Le serveur redémarre à 18h.\n\n-- \nHugo\n\n"
        "_______________________________________________\n"
        "support mailing list\nsupport@lists.example.org\n"
        "https://lists.example.org/mailman/listinfo/support\n"
    )
    split = split_body(text)
    assert _kinds(split) == ["own", "signature", "footer"]
    assert split.own_text == "Le serveur redémarre à 18h."
    assert "listinfo" in split.text_of("footer")


# --- edge cases ----------------------------------------------------------------------------------


def test_empty_and_blank_bodies() -> None:
    assert split_body("").zones == ()
    assert split_body("\n \n\u00a0\n").own_text == ""


def test_zone_and_text_of() -> None:
    split = split_body("Hello\n\n> quoted\n")
    assert split.zones == (Zone("own", 0, 1), Zone("quote", 2, 3))
    assert split.text_of("own", "quote") == "Hello\n> quoted"


def test_two_thousand_lines() -> None:
    """Speed sanity only (no timing assertion): a long thread must go through in one pass."""
    lines = []
    for i in range(400):
        lines += [f"Le 0{i % 9 + 1}/03/2025 à 10:15, Personne {i} a écrit :", f"> ligne {i}"]
        lines += [f"Réponse {i}.", "", "Cordialement,"]
    split = split_body("\n".join(lines), author_name="Paul Durand")
    assert len(split.lines) == 2000
    _check_invariants(split)
    assert "Réponse 399." in split.own_text and "ligne 5" not in split.own_text
