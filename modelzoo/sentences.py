"""Deterministic English sentences for measuring embedding quality.

Pure standard library and independent of the Python version: the build (Python 3.11) and the
benchmark (Python 3.12, no torch) both import it and must get the same list. The text is
handwritten rather than drawn from standard-library docstrings, which change between Python
releases. ``random.Random`` with an integer seed gives the same sequence on every CPython 3.x.

The mix: short search queries, medium sentences on many topics, sentences with numbers, dates,
units and punctuation, non-ASCII text, and long multi-sentence paragraphs of roughly 60 to 220
word pieces.
"""

from __future__ import annotations

import random

SEED = 20240601
DEFAULT_COUNT = 320

QUERIES: tuple[str, ...] = (
    "how to reset my password", "cheap flights to lisbon", "weather tomorrow",
    "python list comprehension example", "best pizza near me", "symptoms of the flu",
    "convert celsius to fahrenheit", "what is a neural network", "train times paris lyon",
    "how long to boil an egg", "capital of australia", "meaning of serendipity",
    "refund policy", "open a bank account online", "why is the sky blue",
    "install numpy on windows", "lambda cold start", "return a damaged parcel",
    "vegan lasagna recipe", "how many moons does jupiter have", "tax deadline 2024",
    "kubernetes pod stuck pending", "sore throat remedies", "difference between tcp and udp",
    "who wrote pride and prejudice", "git undo last commit", "running shoes for flat feet",
    "is coffee bad for you", "quarterly revenue report", "translate hello to japanese",
)  # fmt: skip

SENTENCES: tuple[str, ...] = (
    "The quick brown fox jumps over the lazy dog.",
    "A man is playing a guitar on the street corner.",
    "The children built a sandcastle before the tide came in.",
    "She forgot her umbrella and got soaked on the way home.",
    "Our team shipped the new release two days ahead of schedule.",
    "The museum is closed on Mondays and public holidays.",
    "Please restart the router if the connection keeps dropping.",
    "Interest rates rose for the third consecutive quarter.",
    "The recipe calls for fresh basil, garlic and a pinch of salt.",
    "He has been learning the violin since he was seven years old.",
    "The train was delayed because of a signal failure near the station.",
    "Solar panels convert sunlight directly into electricity.",
    "The committee postponed its decision until more data is available.",
    "A sudden storm forced the climbers to turn back below the summit.",
    "Regular exercise improves both sleep quality and mood.",
    "The database query timed out after thirty seconds.",
    "Cats often sleep for more than twelve hours a day.",
    "The novel follows three generations of a family in a fishing village.",
    "Customers can return unused items within thirty days of delivery.",
    "The bridge was closed for repairs throughout the summer.",
    "Volcanic ash grounded flights across northern Europe.",
    "The startup raised a seed round to build tools for farmers.",
    "Photosynthesis stores energy from light in chemical bonds.",
    "My grandmother still writes letters by hand every Sunday.",
    "The orchestra tuned their instruments while the audience took their seats.",
    "An unexpected error occurred while saving your document.",
    "The detective noticed a faint smell of tobacco in the empty room.",
    "Rainforests contain more than half of the world's plant and animal species.",
    "The new policy applies to all employees, including contractors.",
    "He poured the coffee, opened the window and watched the city wake up.",
    "A cache stores the results of expensive computations for later reuse.",
    "The striker scored twice in the final ten minutes of the match.",
    "Glaciers in the Alps have lost a large share of their volume.",
    "The contract may be terminated by either party with written notice.",
    "Bees communicate the location of flowers through a waggle dance.",
    "The hotel offers free breakfast and a shuttle to the airport.",
    "Inflation erodes the purchasing power of savings over time.",
    "The kitten chased a ball of yarn under the sofa.",
    "Encryption protects data both in transit and at rest.",
    "The old lighthouse has guided ships along this coast for two centuries.",
    "Students must submit their essays before the end of the week.",
    "The painting was sold at auction to an anonymous collector.",
    "Heavy traffic is expected on the motorway this weekend.",
    "The algorithm sorts the list in place and returns nothing.",
    "A gentle breeze carried the scent of pine through the valley.",
    "The patient was advised to rest and drink plenty of fluids.",
    "Our quarterly results exceeded the analysts' expectations.",
    "The spacecraft entered orbit after a journey of seven months.",
    "Farmers rotate crops to keep the soil healthy.",
    "The library extended its opening hours during the exam period.",
    "Nobody expected the quiet intern to win the coding competition.",
    "The software update fixes several security vulnerabilities.",
    "A flock of geese flew south in a perfect V formation.",
    "The chef tasted the sauce and added a little more lemon.",
    "Wind turbines were installed along the ridge last spring.",
    "This function raises a ValueError when the input is empty.",
    "The city council approved a plan for new bicycle lanes.",
    "She smiled, folded the letter and put it back in the drawer.",
    "Memory leaks can slowly degrade the performance of a long-running service.",
    "The referee stopped the game because of the thick fog.",
)

NON_ASCII: tuple[str, ...] = (
    "Café au lait and a croissant, s'il vous plaît.",
    "Die Straße war nach dem Regen nass und glänzte im Licht.",
    "El niño comió una manzana en el jardín.",
    "Zoë's naïve résumé impressed the coöperative's board.",
    "東京は日本の首都です。",
    "Привет, как дела?",
    "The temperature dropped to −5 °C overnight.",  # noqa: RUF001 - deliberate
    "Price: €12.50 (incl. VAT) — or £10.99 at the other shop.",
    "I ❤️ this song 🎵🎶 so much!",
    "Mathematicians write ∑ for sums and ∫ for integrals; π ≈ 3.14159.",
    "“Smart quotes” and ‘single ones’ … are everywhere…",  # noqa: RUF001 - deliberate
    "Ångström, Ørsted and Celsius were Scandinavian scientists.",
)

_NAMES = ("Alice", "Bob", "Chen", "Dmitri", "Emeka", "Fatima", "Giulia", "Hiro", "Ines", "Jonas")
_ITEMS = ("invoices", "packages", "tickets", "samples", "servers", "books", "orders", "requests")
_PLACES = ("Berlin", "Nairobi", "Osaka", "Lima", "Toronto", "Madrid", "Sydney", "Oslo")
_UNITS = ("km", "kg", "ms", "MB", "°C", "%", "USD", "hours")


def _numeric_sentence(rng: random.Random) -> str:
    """Return one templated sentence full of numbers, dates, units and punctuation."""
    name, place = rng.choice(_NAMES), rng.choice(_PLACES)
    items, unit = rng.choice(_ITEMS), rng.choice(_UNITS)
    count, value = rng.randint(2, 9999), round(rng.uniform(0.1, 999.9), 2)
    year, month, day = rng.randint(1990, 2030), rng.randint(1, 12), rng.randint(1, 28)
    templates = (
        f"On {year}-{month:02d}-{day:02d}, {name} processed {count} {items} in {place}.",
        f"The reading was {value} {unit} at 0{month % 10}:{day:02d}, up {count % 100}% "
        f"from last week.",
        f"{name} asked: can we ship {count} {items} to {place} by {day}/{month}/{year}?",
        f"Item #{count} weighs {value} {unit}; see section {month}.{day} (rev. {year}).",
        f"Between {year} and {year + day} the population of {place} grew by {value}%.",
    )
    return rng.choice(templates)


def _paragraph(rng: random.Random, size: int) -> str:
    """Return a paragraph of ``size`` sentences drawn from the pools above."""
    parts: list[str] = []
    for _ in range(size):
        pick = rng.random()
        if pick < 0.7:
            parts.append(rng.choice(SENTENCES))
        elif pick < 0.9:
            parts.append(_numeric_sentence(rng))
        else:
            parts.append(rng.choice(NON_ASCII))
    return " ".join(parts)


def generate(count: int = DEFAULT_COUNT, seed: int = SEED) -> list[str]:
    """Return ``count`` varied English sentences, the same on every run and Python 3.x.

    The first part of the list holds every handwritten query, sentence and non-ASCII text once;
    the rest are numeric sentences and long paragraphs (three to fourteen sentences) in a fixed
    pseudo-random mix.

    Args:
        count: How many texts to return (at least 1).
        seed: Seed of the private ``random.Random``.

    Returns:
        The texts, in a deterministic order.
    """
    rng = random.Random(seed)
    texts: list[str] = [*QUERIES, *SENTENCES, *NON_ASCII]
    while len(texts) < count:
        if rng.random() < 0.35:
            texts.append(_numeric_sentence(rng))
        else:
            texts.append(_paragraph(rng, rng.randint(3, 14)))
    return texts[:count]


if __name__ == "__main__":
    for line in generate():
        print(line)
