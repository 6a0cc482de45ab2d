"""What the command replies say, in English and French (pure).

`text(language, key, **values)` formats one message; `help_text` is the reply to `help`.
Unknown languages fall back to English. Called by the command handlers and the worker.
"""

from __future__ import annotations

LANGUAGES = ("en", "fr")
FALLBACK = "en"

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "subject": "Re: {subject}",
        "subject_default": "Your request to {address}",
        "footer": "-- \nmailgate: send “help” to {address} for the list of commands.",
        "not_understood": "I found no command in your message.",
        "ignored_lines": "These lines were not understood: {lines}",
        "too_many": "Only the first {count} commands of a message are handled.",
        "search_usage": "“search” needs a query, for example: search budget from:alice",
        "search_bad": "The query “{query}” could not be understood: {error}",
        "search_none": "No message matches “{query}” in the lists you can read.",
        "search_head": "{total} message(s) match “{query}”. The best threads:",
        "search_mbox": "The {count} best thread(s) are attached as an mbox file ({name}).",
        "search_mbox_cut": "The mbox file was limited to {count} thread(s) to stay small.",
        "hit_line": "{date}, {sender}, list {lists}",
        "who_usage": "“who knows” needs a topic, for example: who knows invoicing",
        "who_none": "I found no one who wrote about “{query}” in the lists you can read.",
        "who_head": "People who wrote about “{query}”:",
        "who_line": "{rank}. {name} (score {score})",
        "profile_usage": "“profile” needs an address, for example: profile alice@example.org",
        "profile_none": "I know nothing about {address} in the lists you can read.",
        "profile_head": "Profile of {address}:",
        "profile_name": "name",
        "profile_messages": "messages",
        "profile_lists": "lists",
        "profile_topics": "topics",
        "profile_people": "writes most with",
        "profile_started": "threads started",
        "unavailable": "“{command}” is not available on this server yet.",
        "thread_unknown": (
            "I could not tell which thread you mean: send “{command}” as a reply to a list "
            "message, or add the link of one of its messages."
        ),
        "confirm_sent": "To confirm “{summary}”, reply to the message I just sent you.",
        "follow": "follow the thread “{subject}”",
        "mute": "mute the thread “{subject}”",
        "unfollow": "stop following or muting the thread “{subject}”",
        "digest_set": "{frequency} digest of {scope}",
        "digest_off": "no digest of {scope}",
        "digest_all": "all the lists you can read",
        "digest_list": "the list {name}",
        "digest_none": "You receive no digest.",
        "digest_head": "Your digests:",
        "digest_usage": "Write “digest daily”, “digest weekly” or “digest off”.",
        "when_weekday": " on {weekday}",
        "when_hour": " at {hour}:00",
        "daily": "daily",
        "weekly": "weekly",
        "off": "no",
        "unknown_list": "There is no list named “{name}” that you can read.",
        "bad_args": "I did not understand “{word}” in “{line}”.",
        "done": "Done: {message}",
        "not_done": "Not done: {message}",
        "rate_limited": (
            "You sent many commands in a short time: the next ones will be ignored for up to "
            "{minutes} minutes."
        ),
        "owner_forwarded": (
            "Your message to {address} was forwarded to the moderators of the list {name}."
        ),
        "owner_refused": (
            "Your message to {address} was not forwarded: the list {name} has no moderator "
            "reachable by email."
        ),
        "failed": "An internal error prevented handling your message; please try again later.",
    },
    "fr": {
        "subject": "Re: {subject}",
        "subject_default": "Votre demande à {address}",
        "footer": "-- \nmailgate : écrivez « aide » à {address} pour la liste des commandes.",
        "not_understood": "Je n'ai trouvé aucune commande dans votre message.",
        "ignored_lines": "Ces lignes n'ont pas été comprises : {lines}",
        "too_many": "Seules les {count} premières commandes d'un message sont traitées.",
        "search_usage": (
            "« recherche » attend une requête, par exemple : recherche budget from:alice"
        ),
        "search_bad": "La requête « {query} » n'a pas pu être comprise : {error}",
        "search_none": "Aucun message ne correspond à « {query} » dans les listes que vous lisez.",
        "search_head": (
            "{total} message(s) correspondent à « {query} ». Les meilleures discussions :"
        ),
        "search_mbox": "Les {count} meilleures discussions sont jointes en fichier mbox ({name}).",
        "search_mbox_cut": (
            "Le fichier mbox a été limité à {count} discussion(s) pour rester léger."
        ),
        "hit_line": "{date}, {sender}, liste {lists}",
        "who_usage": "« qui connaît » attend un sujet, par exemple : qui connaît facturation",
        "who_none": "Personne n'a écrit sur « {query} » dans les listes que vous lisez.",
        "who_head": "Personnes qui ont écrit sur « {query} » :",
        "who_line": "{rank}. {name} (score {score})",
        "profile_usage": "« profil » attend une adresse, par exemple : profil alice@example.org",
        "profile_none": "Je ne sais rien de {address} dans les listes que vous lisez.",
        "profile_head": "Profil de {address} :",
        "profile_name": "nom",
        "profile_messages": "messages",
        "profile_lists": "listes",
        "profile_topics": "sujets",
        "profile_people": "échange surtout avec",
        "profile_started": "discussions lancées",
        "unavailable": "« {command} » n'est pas encore disponible sur ce serveur.",
        "thread_unknown": (
            "Je n'ai pas pu savoir de quelle discussion il s'agit : envoyez « {command} » en "
            "réponse à un message de la liste, ou ajoutez le lien d'un de ses messages."
        ),
        "confirm_sent": (
            "Pour confirmer « {summary} », répondez au message que je viens de vous envoyer."
        ),
        "follow": "suivre la discussion « {subject} »",
        "mute": "ignorer la discussion « {subject} »",
        "unfollow": "ne plus suivre ni ignorer la discussion « {subject} »",
        "digest_set": "résumé {frequency} de {scope}",
        "digest_off": "aucun résumé de {scope}",
        "digest_all": "toutes les listes que vous lisez",
        "digest_list": "la liste {name}",
        "digest_none": "Vous ne recevez aucun résumé.",
        "digest_head": "Vos résumés :",
        "digest_usage": (
            "Écrivez « résumé quotidien », « résumé hebdomadaire » ou « résumé arrêt »."
        ),
        "when_weekday": " le {weekday}",
        "when_hour": " à {hour} h",
        "daily": "quotidien",
        "weekly": "hebdomadaire",
        "off": "aucun",
        "unknown_list": "Il n'existe pas de liste « {name} » que vous puissiez lire.",
        "bad_args": "Je n'ai pas compris « {word} » dans « {line} ».",
        "done": "C'est fait : {message}",
        "not_done": "Rien n'a été fait : {message}",
        "rate_limited": (
            "Vous avez envoyé beaucoup de commandes en peu de temps : les suivantes seront "
            "ignorées pendant au plus {minutes} minutes."
        ),
        "owner_forwarded": (
            "Votre message à {address} a été transmis aux modérateurs de la liste {name}."
        ),
        "owner_refused": (
            "Votre message à {address} n'a pas été transmis : la liste {name} n'a pas de "
            "modérateur joignable par courriel."
        ),
        "failed": ("Une erreur interne a empêché de traiter votre message ; réessayez plus tard."),
    },
}

WEEKDAY_NAMES = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
}

HELP = {
    "en": """\
Commands understood at {bot}{request_hint}. Write them in the subject or on the first lines
of the message, one per line; English or French.

help                      this text (also: aide)
search QUERY              the best matching threads, with links (also: recherche)
                          e.g. search budget from:alice after:2024-01-01
search --mbox QUERY       the same, with the top threads attached as an mbox file
who knows TOPIC           who wrote most about a topic (also: qui connaît)
profile ADDRESS           what someone writes about (also: profil)
follow / mute             sent as a reply to a list message (or followed by the link of a
                          message): get / stop getting that thread in your digest
                          (also: suivre / ignorer; unfollow clears either)
digest daily|weekly|off [LIST]
                          your digest, of one list or of every list you can read,
                          written in the language of your command
                          e.g. digest weekly monday 8h
digest                    your current digest settings
subscribe / unsubscribe [LIST]
                          daily digest on / off (also: abonner / désabonner)
end                       stop reading commands here (also: fin)

Commands that change something (follow, mute, digest, subscribe, unsubscribe) take effect only
after you reply to the confirmation message they send you. Searches only show the lists you
may read, and answers only go to your own address.""",
    "fr": """\
Commandes comprises à l'adresse {bot}{request_hint}. Écrivez-les dans le sujet ou sur les
premières lignes du message, une par ligne ; en français ou en anglais.

aide                      ce texte (aussi : help)
recherche REQUÊTE         les discussions qui correspondent le mieux, avec leurs liens
                          ex. : recherche budget from:alice after:2024-01-01
recherche --mbox REQUÊTE  idem, avec les meilleures discussions jointes en fichier mbox
qui connaît SUJET         qui a le plus écrit sur un sujet (aussi : who knows)
profil ADRESSE            les sujets sur lesquels une personne écrit (aussi : profile)
suivre / ignorer          en réponse à un message de la liste (ou suivi du lien d'un
                          message) : recevoir / ne plus recevoir cette discussion dans votre
                          résumé ; « ne plus suivre » annule l'un ou l'autre
résumé quotidien|hebdomadaire|arrêt [LISTE]
                          votre résumé, d'une liste ou de toutes celles que vous lisez,
                          rédigé dans la langue de votre commande
                          ex. : résumé hebdomadaire lundi 8h
résumé                    vos réglages actuels
abonner / désabonner [LISTE]
                          résumé quotidien activé / arrêté (aussi : subscribe / unsubscribe)
fin                       arrêter de lire les commandes ici (aussi : end)

Les commandes qui modifient quelque chose (suivre, ignorer, résumé, abonner, désabonner) ne
prennent effet qu'après votre réponse au message de confirmation qu'elles vous envoient. Les
recherches ne montrent que les listes que vous pouvez lire, et les réponses ne partent qu'à
votre propre adresse.""",
}
REQUEST_HINT = {"en": " and at {request}", "fr": " et à {request}"}


def pick(language: str | None) -> str:
    return language if language in LANGUAGES else FALLBACK


def text(language: str | None, key: str, **values: object) -> str:
    """One reply sentence in `language` (English when the language is unknown)."""
    return TEXTS[pick(language)][key].format(**values)


def help_text(language: str | None, bot: str, request: str | None = None) -> str:
    """The reply to `help`: every command with an example."""
    lang = pick(language)
    hint = REQUEST_HINT[lang].format(request=request) if request else ""
    return HELP[lang].format(bot=bot, request_hint=hint)


def weekday_name(language: str | None, weekday: int) -> str:
    return WEEKDAY_NAMES[pick(language)][weekday]
