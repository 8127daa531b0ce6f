"""A deterministic generator of "tiny stories": the course model's training text.

Simple template sentences with names, places, objects, animals and dialogue, drawn with a seeded
random.Random, so the corpus (and the model trained on it) is the same on every machine and
nothing is downloaded. Inspired by the TinyStories data set (Eldan & Li, 2023), written from
scratch.

    >>> stories(2, seed=0)[0][:16]
    'Once upon a time'
"""

import random

NAMES = ["Tom", "Mia", "Ben", "Lily", "Sam", "Anna", "Max", "Zoe", "Leo", "Emma", "Jack", "Lucy"]
PLACES = ["park", "garden", "forest", "beach", "house", "school", "river", "farm", "shop", "hill"]
OBJECTS = ["ball", "box", "kite", "hat", "book", "cake", "toy", "cup", "drum", "boat", "apple", "key"]
ANIMALS = ["dog", "cat", "bird", "frog", "fish", "duck", "bunny", "bear", "fox", "horse"]
ADJECTIVES = ["big", "small", "red", "blue", "happy", "old", "shiny", "soft", "green", "funny"]
FEELINGS = ["happy", "sad", "tired", "excited", "scared", "proud", "hungry", "surprised"]
VERBS = ["play with", "look at", "share", "find", "carry", "hold"]
OPENINGS = ["Once upon a time", "One day", "One sunny morning", "Long ago", "Last summer"]
ENDINGS = [
    "They played together all day.",
    "From that day on, they were best friends.",
    "Then they went home for dinner.",
    "It was the best day ever.",
    "{a} smiled and said thank you.",
]


def _story(rng: random.Random) -> str:
    """One story of five to eight sentences about two characters."""
    a, b = rng.sample(NAMES, 2)
    place, obj, animal = rng.choice(PLACES), rng.choice(OBJECTS), rng.choice(ANIMALS)
    adj, feeling, verb = rng.choice(ADJECTIVES), rng.choice(FEELINGS), rng.choice(VERBS)
    sentences = [
        f"{rng.choice(OPENINGS)}, {a} went to the {place}.",
        f"{a} found a {adj} {obj} in the {place}.",
        rng.choice(
            [
                f"The {animal} had a {rng.choice(ADJECTIVES)} {rng.choice(OBJECTS)}.",
                f"A little {animal} came to see {a}.",
                f"{a} saw a {animal} near the {place}.",
            ]
        ),
        f'{b} said, "Can I {verb} your {obj}?"',
        rng.choice(
            [
                f'{a} said, "Yes, you can."',
                f'{a} said, "No, it is mine."',
                f'{a} said, "Let us {verb} it together."',
            ]
        ),
        f"{b} was very {feeling}.",
    ]
    if rng.random() < 0.5:
        sentences.append(f"The {animal} was {rng.choice(FEELINGS)} too.")
    sentences.append(rng.choice(ENDINGS).format(a=a, b=b))
    return " ".join(sentences)


def stories(n: int, seed: int = 0) -> list[str]:
    """n stories, the same for the same (n, seed) on every machine and Python version >= 3.2."""
    rng = random.Random(seed)  # subtle: random.Random's sequences are stable across versions for
    return [_story(rng) for _ in range(n)]  # random(), choice() and sample() on lists
