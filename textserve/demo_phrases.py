"""The fixed phrase set the demo models are trained on.

The demo models exist for machines without access to the Hugging Face hub: they are tiny models of
each family textserve serves (T5, MarianMT, M2M100, NLLB, BART, PEGASUS) trained on exactly these
pairs, so a request for one of these inputs gets exactly this output. Anything else gets whatever a
1 MB model guesses -- which is why demo mode is always announced.
"""

from typing import NamedTuple

# English sentence -> {target language code: translation}
TRANSLATIONS: dict[str, dict[str, str]] = {
    "Hello world!": {
        "fr": "Bonjour le monde !",
        "de": "Hallo Welt!",
        "ro": "Salut lume!",
    },
    "Good morning.": {
        "fr": "Bonjour.",
        "de": "Guten Morgen.",
        "ro": "Bună dimineața.",
    },
    "Thank you very much.": {
        "fr": "Merci beaucoup.",
        "de": "Vielen Dank.",
        "ro": "Mulțumesc foarte mult.",
    },
    "How are you?": {
        "fr": "Comment allez-vous ?",
        "de": "Wie geht es Ihnen?",
        "ro": "Ce mai faceți?",
    },
    "The weather is nice today.": {
        "fr": "Il fait beau aujourd'hui.",
        "de": "Das Wetter ist heute schön.",
        "ro": "Vremea este frumoasă astăzi.",
    },
    "I love reading books.": {
        "fr": "J'aime lire des livres.",
        "de": "Ich lese gerne Bücher.",
        "ro": "Îmi place să citesc cărți.",
    },
    "Where is the train station?": {
        "fr": "Où est la gare ?",
        "de": "Wo ist der Bahnhof?",
        "ro": "Unde este gara?",
    },
    "The cat sleeps on the sofa.": {
        "fr": "Le chat dort sur le canapé.",
        "de": "Die Katze schläft auf dem Sofa.",
        "ro": "Pisica doarme pe canapea.",
    },
    "We are going to the beach.": {
        "fr": "Nous allons à la plage.",
        "de": "Wir gehen zum Strand.",
        "ro": "Mergem la plajă.",
    },
    "The model runs on two cores.": {
        "fr": "Le modèle tourne sur deux cœurs.",
        "de": "Das Modell läuft auf zwei Kernen.",
        "ro": "Modelul rulează pe două nuclee.",
    },
    "Please send me the report.": {
        "fr": "Veuillez m'envoyer le rapport.",
        "de": "Bitte schicken Sie mir den Bericht.",
        "ro": "Vă rog să-mi trimiteți raportul.",
    },
    "The meeting starts at nine.": {
        "fr": "La réunion commence à neuf heures.",
        "de": "Das Treffen beginnt um neun.",
        "ro": "Întâlnirea începe la ora nouă.",
    },
    "Serving models is fun.": {
        "fr": "Servir des modèles est amusant.",
        "de": "Modelle bereitzustellen macht Spaß.",
        "ro": "Servirea modelelor este distractivă.",
    },
    "The river flows to the sea.": {
        "fr": "La rivière coule vers la mer.",
        "de": "Der Fluss fließt ins Meer.",
        "ro": "Râul curge spre mare.",
    },
    "My brother plays the piano.": {
        "fr": "Mon frère joue du piano.",
        "de": "Mein Bruder spielt Klavier.",
        "ro": "Fratele meu cântă la pian.",
    },
    "The shop closes at six.": {
        "fr": "Le magasin ferme à six heures.",
        "de": "Der Laden schließt um sechs.",
        "ro": "Magazinul se închide la ora șase.",
    },
    "Researchers built a small robot.": {
        "fr": "Des chercheurs ont construit un petit robot.",
        "de": "Forscher haben einen kleinen Roboter gebaut.",
        "ro": "Cercetătorii au construit un robot mic.",
    },
    "The city opened a new park.": {
        "fr": "La ville a ouvert un nouveau parc.",
        "de": "Die Stadt hat einen neuen Park eröffnet.",
        "ro": "Orașul a deschis un parc nou.",
    },
    "Trains will run every ten minutes.": {
        "fr": "Les trains circuleront toutes les dix minutes.",
        "de": "Die Züge fahren alle zehn Minuten.",
        "ro": "Trenurile vor circula la fiecare zece minute.",
    },
    "The library stays open late.": {
        "fr": "La bibliothèque reste ouverte tard.",
        "de": "Die Bibliothek bleibt lange geöffnet.",
        "ro": "Biblioteca rămâne deschisă până târziu.",
    },
}

# HTML made of the sentences above, with inline markup around some of them, and its translation
# by the T5 demo (`format: "html"`): what the markup tests assert. The demo knows sentences, not
# words, so its elements wrap whole sentences; carrying an element to its words inside a sentence
# is tested with a stand-in translator (tests/translation/test_markup_html.py).
MARKED_UP: dict[str, dict[str, str]] = {
    "<p>Hello world! <b>Good morning.</b></p>": {
        "fr": "<p>Bonjour le monde ! <b>Bonjour.</b></p>",
        "de": "<p>Hallo Welt! <b>Guten Morgen.</b></p>",
        "ro": "<p>Salut lume! <b>Bună dimineața.</b></p>",
    },
    (
        '<li><a href="/map?to=station&amp;by=train">Where is the train station?</a> Thank you very much.</li>'
    ): {
        "fr": '<li><a href="/map?to=station&amp;by=train">Où est la gare ?</a> Merci beaucoup.</li>',
        "de": '<li><a href="/map?to=station&amp;by=train">Wo ist der Bahnhof?</a> Vielen Dank.</li>',
        "ro": '<li><a href="/map?to=station&amp;by=train">Unde este gara?</a> Mulțumesc foarte mult.</li>',
    },
}

# Document -> summary. The summaries are also in TRANSLATIONS, so the router's
# summarize_then_translate task has an exact, known answer.
SUMMARIES: dict[str, str] = {
    (
        "Researchers at a small university lab spent two years designing a robot that can sort "
        "recycling. The robot uses a camera and a gripper to pick bottles and cans from a moving "
        "belt. In tests it sorted more items per hour than a person and made fewer mistakes. The "
        "team plans to share the design so that other cities can build their own machines."
    ): "Researchers built a small robot.",
    (
        "After years of planning, the city council finished work on the old rail yard by the river. "
        "The land now holds gardens, a playground, sports fields and long paths for walking and "
        "cycling. Thousands of residents came to the opening on Saturday, and the mayor said the "
        "space will host concerts and markets all summer."
    ): "The city opened a new park.",
    (
        "The regional transport authority announced a new timetable for the coming year. More "
        "trains will be added during the morning and evening rush hours, and the waiting time "
        "between trains on the main line will drop to ten minutes. Officials said the change "
        "follows a rise in the number of people commuting to the city centre."
    ): "Trains will run every ten minutes.",
    (
        "Students asked for more time to study during the exam period, and the university agreed. "
        "From next month the main library will keep its doors open until midnight on weekdays. "
        "Extra staff will be hired for the evening shifts, and the cafe on the ground floor will "
        "also serve food later than before."
    ): "The library stays open late.",
}

# English sentence -> Spanish, for the multilingual demo models only: apart from TRANSLATIONS so
# that the T5 demo keeps its pairs (every language of TRANSLATIONS).
SPANISH: dict[str, str] = {
    "Hello world!": "¡Hola mundo!",
    "Good morning.": "Buenos días.",
    "Thank you very much.": "Muchas gracias.",
    "How are you?": "¿Cómo está usted?",
    "The weather is nice today.": "Hace buen tiempo hoy.",
    "Where is the train station?": "¿Dónde está la estación de tren?",
    "The cat sleeps on the sofa.": "El gato duerme en el sofá.",
    "We are going to the beach.": "Vamos a la playa.",
}

TRANSLATION_PREFIXES = {"fr": "French", "de": "German", "ro": "Romanian"}


class Pair(NamedTuple):
    """One input and the output a demo model gives for it, as a request states it."""

    source: str  # the text sent, without any task prefix
    target: str
    source_lang: str | None  # ISO 639-1; None where the task has no languages (summaries)
    target_lang: str | None
    task: str  # "translate" | "summarize" (apps.common.engines.families.Task)


def t5_prompt(pair: Pair) -> str:
    """The text a T5 demo model reads for `pair`: its task prefix, then the source."""
    if pair.task == "summarize":
        return f"summarize: {pair.source}"
    return f"translate English to {TRANSLATION_PREFIXES[pair.target_lang]}: {pair.source}"


def from_english() -> list[Pair]:
    """English to every language of TRANSLATIONS (the T5 translation demo)."""
    return [
        Pair(english, target, "en", lang, "translate")
        for english, by_lang in TRANSLATIONS.items()
        for lang, target in by_lang.items()
    ]


def to_english(source_lang: str) -> list[Pair]:
    """Every sentence of TRANSLATIONS from `source_lang` to English (a one-pair MarianMT demo)."""
    return [
        Pair(by_lang[source_lang], english, source_lang, "en", "translate")
        for english, by_lang in TRANSLATIONS.items()
    ]


def all_directions(languages: tuple[str, ...], sentences: int) -> list[Pair]:
    """The first `sentences` sentences of SPANISH in every direction among `languages` (en, de, fr,
    es), grouped by direction."""
    phrases = [
        {"en": english, "es": spanish, **TRANSLATIONS[english]} for english, spanish in SPANISH.items()
    ]
    return [
        Pair(phrase[source], phrase[target], source, target, "translate")
        for source in languages
        for target in languages
        if source != target
        for phrase in phrases[:sentences]
    ]


def summaries() -> list[Pair]:
    """Every document of SUMMARIES and its summary."""
    return [Pair(document, summary, None, None, "summarize") for document, summary in SUMMARIES.items()]


def translation_pairs() -> list[tuple[str, str]]:
    """(T5 prompt, target) pairs for the demo translation model."""
    return [(t5_prompt(pair), pair.target) for pair in from_english()]


def summarization_pairs() -> list[tuple[str, str]]:
    """(T5 prompt, target) pairs for the demo summarization model."""
    return [(t5_prompt(pair), pair.target) for pair in summaries()]


# demo model name -> its pairs
DEMO_PAIRS = {
    "demo-translation": from_english,
    "demo-summarization": summaries,
    "demo-marian-de-en": lambda: to_english("de"),
    "demo-marian-fr-en": lambda: to_english("fr"),
    "demo-nllb": lambda: all_directions(("en", "de", "fr", "es"), 8),
    "demo-m2m100": lambda: all_directions(("en", "de", "fr"), 6),
    "demo-bart-summarization": summaries,
    "demo-pegasus-summarization": summaries,
}
